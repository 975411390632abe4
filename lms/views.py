"""LTI endpoints: login initiation, launch, JWKS, LMS configuration values. Thin: the protocol
lives in ``lms.launch``, what a launch does in ``lms.services``."""

from __future__ import annotations

import random

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from pylti1p3.contrib.flask import FlaskRequest
from pylti1p3.exception import LtiException, OIDCException
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response as WerkzeugResponse

from core.auth import STAFF, Viewer, current_viewer, require_viewer, roles_required, sign_in
from core.cache import forget_process_cache
from core.db import db
from core.extensions import csrf
from core.forms import ActionForm
from core.ratelimit import enforce
from core.security import allow_framing_by, signing_secrets
from lms import deep_linking, grades, keys, platform_storage
from lms.canvas import canvas_developer_key
from lms.errors import STATE_HINT, LaunchRefused, LaunchUnauthenticated
from lms.launch import (
    DEEP_LINKING_SETTINGS,
    ToolLogin,
    ToolMessageLaunch,
    check_login_request,
    login_params,
)
from lms.models import GradeDelivery, Platform, ResourceLink
from lms.platform_client import PlatformClient
from lms.platform_storage import StoredLogin, origin_of
from lms.registration import (
    NEW_LINK_HINT,
    RegistrationRefused,
    platform_origin,
    register_from_lms,
)
from lms.registry import RegistryError
from lms.roster import RosterError, sync_roster
from lms.services import complete_launch
from lms.storage import DatabaseLaunchDataStorage, LoginNonces, purge_expired
from lms.targets import placeable_targets, url_for_target
from lms.tool_config import DatabaseToolConf
from lms.urls import own_host, tool_url, tool_urls

bp = Blueprint("lms", __name__, url_prefix="/lms", template_folder="templates")


def _storage() -> DatabaseLaunchDataStorage:
    config = current_app.config
    nonces = LoginNonces(
        secret_keys=signing_secrets(current_app),
        lifetime=config["LTI_LOGIN_STATE_SECONDS"],
        leeway=config["LTI_CLOCK_LEEWAY_SECONDS"],
    )
    return DatabaseLaunchDataStorage(db.session, nonces, config["LTI_LAUNCH_DATA_SECONDS"])


def _framed_request() -> bool:
    """Only a page inside a frame can lose its cookies to third-party blocking. Browsers say
    where a page will be shown (Sec-Fetch-Dest); a top-level window skips the cookie check."""
    return request.headers.get("Sec-Fetch-Dest", "iframe") in {"iframe", "frame"}


@bp.route("/login", methods=["GET", "POST"])
@csrf.exempt
def login() -> Response:
    """Third-party initiated login (GET or POST, as Moodle does): the state is set as a cookie,
    a nonce signed, and the browser sent on to the platform's OIDC auth endpoint, by
    a redirect in a top-level window, by the cookie check page's script inside a frame."""
    # Read once into a plain dict: a parameter the LMS did not send (most of those asked for)
    # costs werkzeug's MultiDict an exception raised and caught.
    values = request.values.to_dict()
    get = values.get
    params = login_params(get)
    check_login_request(params, own_host())
    conf = DatabaseToolConf(db.session)
    if conf.find_platform(params["iss"], params.get("client_id")) is None:
        raise LaunchRefused(
            f"No LMS is registered with issuer {params['iss']}"
            + (f" and client id {params['client_id']}." if "client_id" in params else "."),
            title="This LMS is not registered with the tool",
        )
    new_window_url = url_for("lms.login", **params, lti1p3_new_window="1")
    framed = _framed_request() and not get("lti1p3_new_window")
    # Only a frame can lose its cookies; a window of its own needs no platform storage.
    storage_target = platform_storage.offered_target(get(platform_storage.PARAMETER))
    oidc = ToolLogin(
        FlaskRequest(request_data=values),
        conf,
        _storage(),
        new_window_url,
        storage_target=storage_target if framed else None,
    )
    if framed:
        oidc.enable_check_cookies()
    try:
        response = oidc.redirect(tool_url("lms.launch"))
    except (OIDCException, LtiException) as error:
        db.session.rollback()
        raise LaunchRefused(str(error)) from error
    if random.random() < 0.01:  # noqa: S311 - housekeeping, not security
        purge_expired(db.session)
    # The count is the login's only write (its nonce is signed, not stored). Counted last,
    # so the counter's row (shared by everyone behind one address) is locked only for the
    # commit.
    enforce(
        f"login:{request.remote_addr}",
        limit=current_app.config["LOGIN_RATE_PER_MINUTE"],
        per=60,
        what="logins from your network",
        with_request=True,
    )
    db.session.commit()
    return response


def _message_launch(stored: StoredLogin | None = None) -> ToolMessageLaunch:
    return ToolMessageLaunch(
        FlaskRequest(),
        DatabaseToolConf(db.session),
        _storage(),
        current_app.extensions["settings"],
        stored=stored,
    )


@bp.post("/launch")
@csrf.exempt
def launch() -> WerkzeugResponse:
    message = _message_launch()
    if target := message.platform_storage_target():
        # The state cookie did not come back, but the login kept the state and nonce in the
        # platform's storage: a page reads them from there and posts them to launch_stored.
        return _platform_storage_page(message.storage_request(target))
    return _complete(message)


def _platform_storage_page(storage: dict[str, object]) -> WerkzeugResponse:
    page = make_response(
        render_template(
            "lms/launch_storage.html",
            action=url_for("lms.launch_stored"),
            fields={"id_token": request.form["id_token"], "state": request.form["state"]},
            platform_storage=storage,
        )
    )
    page.headers["Cache-Control"] = "no-store"  # it holds the id_token
    return page


@bp.post("/launch/stored")
@csrf.exempt
def launch_stored() -> WerkzeugResponse:
    """The launch, with the state and nonce the launch page read from the platform's storage
    in place of the state cookie. Posted by that page only: there is no session yet to bind
    a CSRF token to, so the browser's word on where the post comes from is checked."""
    if not platform_storage.posted_from(
        origin_of(tool_url("lms.launch")),
        request.headers.get("Origin"),
        request.headers.get("Sec-Fetch-Site"),
    ):
        raise LaunchUnauthenticated(
            "The launch was not confirmed by this tool's own page.", hint=STATE_HINT
        )
    stored = StoredLogin(
        secret=request.form.get("stored_secret", ""), nonce=request.form.get("stored_nonce", "")
    )
    return _complete(_message_launch(stored))


def _complete(message: ToolMessageLaunch) -> WerkzeugResponse:
    try:
        validated = message.validated()
        outcome = complete_launch(db.session, validated)
        db.session.commit()
    except IntegrityError as error:
        # A row this process remembered (a registration, a team) was removed by another
        # process a moment ago: forget what this process knows and say so plainly.
        db.session.rollback()
        forget_process_cache()
        raise LaunchRefused(
            "The LMS's registration changed while you were launching.",
            status=409,
            title="Please open the activity again",
        ) from error
    except BaseException:
        db.session.rollback()
        raise
    sign_in(outcome.viewer)
    return redirect(url_for_target(outcome.target), code=303)


@bp.get("/jwks")
def jwks() -> Response:
    key_set = keys.jwks(db.session)
    if not key_set["keys"]:
        keys.active_key(db.session)
        db.session.commit()
        key_set = keys.jwks(db.session)
    response = jsonify(key_set)
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


@bp.get("/canvas.json")
def canvas_config() -> Response:
    return jsonify(canvas_developer_key(tool_urls()))


@bp.get("/setup")
def setup() -> str:
    return render_template("lms/setup.html", urls=tool_urls(), viewer=current_viewer())


@bp.get("/grades")
@roles_required(*STAFF)
def grade_deliveries() -> str:
    viewer = require_viewer()
    team_id = viewer.team_scope
    waiting = grades.deliveries_for(db.session, deployment_id=viewer.deployment_id, team_id=team_id)
    recent = grades.deliveries_for(
        db.session,
        deployment_id=viewer.deployment_id,
        team_id=team_id,
        statuses=(grades.SENT,),
        limit=20,
    )
    return render_template(
        "lms/grades.html", viewer=viewer, waiting=waiting, recent=recent, form=ActionForm()
    )


def waiting_scores(user_id: int | None) -> list[tuple[GradeDelivery, ResourceLink]]:
    """For the learner's dashboard panel: their scores not in the gradebook yet."""
    return grades.waiting_for(db.session, user_id) if user_id else []


def waiting_score_count(viewer: Viewer) -> int:
    """For the staff dashboard panel: how many scores the Grade deliveries page lists as
    waiting or failed for their course (an administrator's: their deployment)."""
    return grades.waiting_count(db.session, viewer.deployment_id, viewer.team_scope)


@bp.post("/grades/<int:delivery_id>/retry")
@roles_required(*STAFF)
def retry_delivery(delivery_id: int) -> WerkzeugResponse:
    viewer = require_viewer()
    delivery = grades.delivery_in(
        db.session, delivery_id, viewer.deployment_id, team_id=viewer.team_scope
    )
    if delivery is None:
        abort(404)
    if ActionForm().validate_on_submit() and grades.send_again(delivery):
        db.session.commit()
        flash("The score will be sent again within a few seconds.", "success")
    else:
        flash("That score is not waiting to be sent.", "error")
    return redirect(url_for("lms.grade_deliveries"))


@bp.post("/roster/sync")
@roles_required(*STAFF)
def roster_sync() -> WerkzeugResponse:
    viewer = require_viewer()
    if not ActionForm().validate_on_submit() or viewer.team_id is None:
        flash("There is no course to update.", "error")
        return redirect(url_for("people.dashboard"))
    try:
        report = sync_roster(db.session, PlatformClient(db.session), viewer.team_id)
    except RosterError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(f"Roster updated from the LMS: {report.summary()}.", "success")
    return redirect(url_for("people.dashboard"))


@bp.route("/deep-link", methods=["GET", "POST"])
@roles_required(*STAFF)
def deep_link_picker() -> str:
    viewer = require_viewer()
    storage = _storage()
    claims = deep_linking.request_claims(storage, viewer.launch_id)
    settings = claims[DEEP_LINKING_SETTINGS]
    accept_multiple = bool(settings.get("accept_multiple", True))
    query = request.values.get("q", "").strip()
    targets = placeable_targets(viewer.platform_id, query)
    error = ""
    if request.method == "POST" and ActionForm().validate_on_submit():
        try:
            chosen = deep_linking.choose(
                placeable_targets(viewer.platform_id),
                request.form.getlist("target"),
                accept_multiple,
            )
        except ValueError as problem:
            error = str(problem)
        else:
            platform = db.session.get(Platform, viewer.platform_id)
            assert platform is not None
            items = [deep_linking.content_item(t, tool_url("lms.launch")) for t in chosen]
            token = deep_linking.response_jwt(db.session, claims, platform.client_id, items)
            storage.delete_value(viewer.launch_id)  # answered once
            db.session.commit()
            return render_template(
                "lms/deep_link_return.html",
                action=settings["deep_link_return_url"],
                jwt=token,
                chosen=chosen,
                only_in_its_frame=deep_linking.answered_only_in_its_frame(claims),
            )
    return render_template(
        "lms/deep_link.html",
        viewer=viewer,
        targets=targets,
        query=query,
        error=error,
        accept_multiple=accept_multiple,
        settings=settings,
        form=ActionForm(),
    )


@bp.get("/register")
def dynamic_registration() -> tuple[str, int] | str:
    """LTI Dynamic Registration, opened by the LMS with ``openid_configuration``."""
    config_url = request.args.get("openid_configuration", "")
    if origin := platform_origin(config_url):
        # The LMS shows this page in its own dialog, before it is registered. The page has
        # no form or link to trick a click into, so the origin named is enough.
        allow_framing_by(origin)
    try:
        registered = register_from_lms(
            db.session,
            tool_urls(),
            current_app.config["SECRET_KEY"],
            request.args.get("key", ""),
            config_url,
            request.args.get("registration_token"),
        )
    except (RegistrationRefused, RegistryError) as error:
        db.session.rollback()
        hint = getattr(error, "hint", NEW_LINK_HINT)
        return render_template("lms/registered.html", error=str(error), hint=hint), 400
    db.session.commit()
    return render_template("lms/registered.html", registered=registered, error="")
