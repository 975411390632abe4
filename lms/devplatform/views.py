"""HTTP face of the development platform: persona picker, OIDC auth endpoint, JWKS."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from core.db import db
from core.errors import UserFacingError
from core.extensions import csrf
from core.security import allow_frames_from
from lms.devplatform.service import (
    DEMO_CONTEXT,
    PERSONAS,
    AuthRequestError,
    authorize,
    current_setup,
    issuer_for,
    platform_jwks,
    start_launch,
)

bp = Blueprint("devplatform", __name__, url_prefix="/dev-platform", template_folder="templates")


def _setup():  # type: ignore[no-untyped-def]
    setup = current_setup(db.session)
    if setup is None:
        raise UserFacingError(
            "The development platform is not set up",
            "Run `flask demo load` (the README's run command does) to register it.",
            status=503,
        )
    return setup


@bp.get("/")
def index() -> str:
    setup = _setup()
    tool = urlsplit(setup.tool_base_url)
    allow_frames_from(f"{tool.scheme}://{tool.netloc}")  # the course page embeds the tool
    return render_template(
        "devplatform/index.html",
        personas=PERSONAS.values(),
        context=DEMO_CONTEXT,
        issuer=issuer_for(setup.platform_base_url),
        setup=setup,
    )


@bp.get("/start/<persona>")
def start(persona: str) -> WerkzeugResponse:
    if persona not in PERSONAS:
        abort(404)
    url = start_launch(db.session, _setup(), PERSONAS[persona])
    db.session.commit()
    return redirect(url, code=302)


@bp.route("/auth", methods=["GET", "POST"])
@csrf.exempt
def auth() -> str:
    params = {k: v for k, v in request.values.items()}
    try:
        redirect_uri, id_token = authorize(db.session, _setup(), params)
    except AuthRequestError as error:
        db.session.rollback()
        raise UserFacingError("The platform refused the login", str(error)) from error
    db.session.commit()
    return render_template(
        "devplatform/autopost.html",
        action=redirect_uri,
        fields={"id_token": id_token, "state": params["state"]},
    )


@bp.get("/jwks")
def jwks() -> Response:
    return jsonify(platform_jwks(db.session))
