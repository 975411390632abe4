"""HTTP face of the development platform: persona picker, OIDC auth endpoint, JWKS."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as WerkzeugResponse

from core.db import db
from core.errors import UserFacingError
from core.extensions import csrf
from core.security import allow_frames_from, allow_framing_by
from lms.devplatform import cookies
from lms.devplatform.advantage import (
    AGS,
    NRPS_SCOPE,
    SUPPORTED_SCOPES,
    ServiceRefusal,
    accept_score,
    check_token,
    create_lineitem,
    gradebook,
    issue_token,
    lineitem_json,
    list_lineitems,
    memberships_page,
    next_fault,
)
from lms.devplatform.models import DevPlatformSetup
from lms.devplatform.service import (
    DEEP_LINKING_REQUEST,
    DEMO_CONTEXT,
    PERSONAS,
    RESOURCE_LINK_REQUEST,
    AuthRequestError,
    accept_deep_linking_response,
    authorize,
    current_setup,
    issuer_for,
    members,
    moodle_registration_refusal,
    placed_links,
    platform_jwks,
    start_launch,
)

bp = Blueprint("devplatform", __name__, url_prefix="/dev-platform", template_folder="templates")


def _setup() -> DevPlatformSetup:
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
    tool_origin = f"{tool.scheme}://{tool.netloc}"
    allow_frames_from(tool_origin)  # the course page embeds the tool
    other_site = cookies.other_site_name(request.host_url)
    return render_template(
        "devplatform/index.html",
        tool_origin=tool_origin,
        probe_url=tool_origin + url_for("devplatform.cookie_probe"),
        cookie_paths=cookies.COOKIE_PATHS,
        probe_message=cookies.PROBE_MESSAGE,
        other_site=other_site and other_site + "dev-platform/",
        other_site_is_tools=other_site is not None and cookies.origin_of(other_site) == tool_origin,
        links=placed_links(db.session),
        personas=PERSONAS.values(),
        context=DEMO_CONTEXT,
        issuer=issuer_for(setup.platform_base_url),
        setup=setup,
    )


@bp.get("/cookie-probe")
def cookie_probe() -> WerkzeugResponse:
    """Loaded from the tool's site in a frame of the course page: sets a cookie as the tool
    does and tells the course page (``parent``, its origin) whether it came back."""
    parent = request.args.get("parent", "")
    if not cookies.is_origin(parent):
        abort(400)
    allow_framing_by(parent)  # also the course page under its other site name
    page = make_response(
        render_template(
            "devplatform/cookie_probe.html", parent=parent, message=cookies.PROBE_MESSAGE
        )
    )
    cookies.set_probe_cookie(page)
    return page


@bp.get("/cookie-probe/kept")
def cookie_probe_kept() -> Response:
    return jsonify({"kept": cookies.probe_cookie_kept()})


@bp.get("/start/<persona>")
def start(persona: str) -> WerkzeugResponse:
    if persona not in PERSONAS:
        abort(404)
    link_id = request.args.get("link", type=int)
    message_type = (
        DEEP_LINKING_REQUEST
        if request.args.get("message") == "deep-link"
        else RESOURCE_LINK_REQUEST
    )
    url = start_launch(
        db.session, _setup(), PERSONAS[persona], message_type=message_type, link_id=link_id
    )
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
        "autopost.html",
        action=redirect_uri,
        fields={"id_token": id_token, "state": params["state"]},
        heading="Signing you in…",
        detail="The development platform is sending your signed launch to the tool.",
    )


@bp.get("/jwks")
def jwks() -> Response:
    return jsonify(platform_jwks(db.session))


# -- LTI Advantage services, as the platform offers them to the tool ----------------------------
def _refusal(error: ServiceRefusal) -> tuple[Response, int]:
    return jsonify({"error": error.message}), error.status


def _fault(endpoint: str) -> tuple[Response, int] | None:
    status = next_fault(db.session, endpoint)
    if status is None:
        return None
    return jsonify({"error": f"injected failure {status}"}), status


def _base() -> str:
    return issuer_for(_setup().platform_base_url)


@bp.post("/token")
@csrf.exempt
def token() -> tuple[Response, int] | Response:
    if fault := _fault("token"):
        return fault
    try:
        return jsonify(
            issue_token(db.session, _setup(), request.form.to_dict(), _base() + "/token")
        )
    except ServiceRefusal as error:
        return _refusal(error)


@bp.route("/lineitems", methods=["GET", "POST"])
@csrf.exempt
def lineitems() -> tuple[Response, int] | Response:
    try:
        if request.method == "POST":
            check_token(db.session, request.headers.get("Authorization"), AGS + "lineitem")
            item = create_lineitem(db.session, request.get_json(silent=True))
            response = jsonify(lineitem_json(item, _base()))
            response.content_type = "application/vnd.ims.lis.v2.lineitem+json"
            return response, 201
        check_token(
            db.session,
            request.headers.get("Authorization"),
            AGS + "lineitem",
            AGS + "lineitem.readonly",
        )
        items = list_lineitems(db.session, request.args.get("resource_link_id"))
        response = jsonify([lineitem_json(item, _base()) for item in items])
        response.content_type = "application/vnd.ims.lis.v2.lineitemcontainer+json"
        return response
    except ServiceRefusal as error:
        return _refusal(error)


@bp.post("/lineitems/<int:lineitem_id>/lineitem/scores")
@csrf.exempt
def scores(lineitem_id: int) -> tuple[Response, int] | tuple[str, int]:
    if fault := _fault("scores"):
        return fault
    try:
        check_token(db.session, request.headers.get("Authorization"), AGS + "score")
        if request.mimetype != "application/vnd.ims.lis.v1.score+json":
            raise ServiceRefusal(415, "Content-Type must be application/vnd.ims.lis.v1.score+json")
        accept_score(db.session, lineitem_id, request.get_json(force=True, silent=True))
    except ServiceRefusal as error:
        return _refusal(error)
    return "", 204


@bp.get("/memberships")
@csrf.exempt
def memberships() -> tuple[Response, int] | Response:
    try:
        check_token(db.session, request.headers.get("Authorization"), NRPS_SCOPE)
    except ServiceRefusal as error:
        return _refusal(error)
    setup = _setup()
    limit = request.args.get("limit", default=50, type=int)
    start = request.args.get("from", default=0, type=int)
    page, following = memberships_page(members(setup), start, max(1, limit))
    response = jsonify(
        {
            "id": _base() + "/memberships",
            "context": {
                "id": DEMO_CONTEXT["id"],
                "label": DEMO_CONTEXT["label"],
                "title": DEMO_CONTEXT["title"],
            },
            "members": page,
        }
    )
    response.content_type = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
    if following is not None:
        response.headers["Link"] = (
            f'<{_base()}/memberships?limit={limit}&from={following}>; rel="next"'
        )
    return response


@bp.get("/gradebook")
def gradebook_page() -> str:
    return render_template("devplatform/gradebook.html", rows=gradebook(db.session))


@bp.post("/deep-link-return")
@csrf.exempt
def deep_link_return() -> str:
    try:
        created = accept_deep_linking_response(db.session, _setup(), request.form.get("JWT", ""))
    except AuthRequestError as error:
        db.session.rollback()
        raise UserFacingError("The platform refused the selection", str(error)) from error
    db.session.commit()
    message = f"Added {len(created)} activit{'y' if len(created) == 1 else 'ies'} to the course."
    return render_template("devplatform/returned.html", message=message)


REGISTRATION_TOKEN = "dev-registration-token"  # noqa: S105 - the demo platform's, not a secret


@bp.get("/openid-configuration")
def openid_configuration() -> Response:
    """What Moodle publishes for LTI Dynamic Registration."""
    base = _base()
    return jsonify(
        {
            "issuer": base,
            "authorization_endpoint": base + "/auth",
            "token_endpoint": base + "/token",
            "jwks_uri": base + "/jwks",
            "registration_endpoint": base + "/register",
            "scopes_supported": sorted(SUPPORTED_SCOPES),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "cx-academy-dev",
                "version": "1.0",
                "messages_supported": [
                    {"type": "LtiResourceLinkRequest"},
                    {"type": "LtiDeepLinkingRequest"},
                ],
            },
        }
    )


@bp.post("/register")
@csrf.exempt
def register_tool() -> tuple[Response, int]:
    if request.headers.get("Authorization") != "Bearer " + REGISTRATION_TOKEN:
        return jsonify({"error": "invalid registration token"}), 401
    body = request.get_json(silent=True)
    tool = (body or {}).get("https://purl.imsglobal.org/spec/lti-tool-configuration")
    if (
        not isinstance(body, dict)
        or not isinstance(tool, dict)
        or not all(body.get(k) for k in ("initiate_login_uri", "redirect_uris", "jwks_uri"))
    ):
        return jsonify({"error": "invalid_client_metadata"}), 400
    if refusal := moodle_registration_refusal(tool):
        # As Moodle answers: the bare code as text.
        return Response(refusal, mimetype="text/plain"), 400
    answer = dict(body)
    answer["client_id"] = "dyn-" + secrets.token_hex(6)
    answer["https://purl.imsglobal.org/spec/lti-tool-configuration"] = {
        **tool,
        "deployment_id": "dyn-deployment-1",
    }
    return jsonify(answer), 200
