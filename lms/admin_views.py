"""The administration page: this LMS's registration and its deployments, another LMS
registered, the values to paste into the LMS. Who may change what is
``lms.administration``'s rule; the checks are ``lms.registry``'s, as the CLI's. Its pages join
``lms.views``'s blueprint."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, session, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as WerkzeugResponse

from core.auth import Role, require_viewer, roles_required
from core.db import db
from core.forms import ActionForm
from lms import administration
from lms.forms import DeploymentForm, NewDeploymentForm, NewPlatformForm, PlatformForm, RemoveForm
from lms.models import Deployment, Platform
from lms.registration import registration_key
from lms.registry import (
    RegistryError,
    remove_deployment,
    remove_platform,
    set_disabled,
    update_deployment,
)
from lms.services import frame_origins_of
from lms.urls import tool_url, tool_urls
from lms.views import bp

# A change on the administration page: back to the page, or the page with the refusal.
AdminAnswer = WerkzeugResponse | tuple[str, int]


def _admin_page(status: int = 200, **forms: FlaskForm) -> tuple[str, int]:
    """The administration page with its forms, those given (a refused one, with its
    errors) in place of blank ones."""
    viewer = require_viewer()
    platform = administration.own_platform(db.session, viewer.platform_id)
    origins = (
        sorted(frame_origins_of(platform.issuer, platform.auth_login_url, platform.frame_origins))
        if platform
        else []
    )
    shared = administration.others_sharing(platform, viewer.deployment_id) if platform else []
    edit = forms.get("edit") or PlatformForm(
        formdata=None,
        obj=platform,
        frame_origins="\n".join((platform.frame_origins or "").split()) if platform else "",
    )
    return render_template(
        "lms/admin_platform.html",
        registration_url=tool_url(
            "lms.dynamic_registration", key=registration_key(current_app.config["SECRET_KEY"])
        ),
        platform=platform,
        shared=shared,
        urls=tool_urls(),
        viewer=viewer,
        origins=origins,
        edit_form=edit,
        new_platform_form=forms.get("new_platform") or NewPlatformForm(formdata=None),
        new_deployment_form=forms.get("new_deployment") or NewDeploymentForm(formdata=None),
        remove_form=forms.get("remove") or RemoveForm(formdata=None),
        deployment_form=DeploymentForm(formdata=None),
        action_form=ActionForm(),
    ), status


def _refused(error: Exception, form: FlaskForm, name: str) -> tuple[str, int]:
    """A change the registry's checks refused: the page again, the reason at the top."""
    db.session.rollback()
    form.form_errors.append(str(error))
    return _admin_page(400, **{name: form})


def _admin_platform() -> Platform:
    platform = administration.own_platform(db.session, require_viewer().platform_id)
    if platform is None:
        abort(404)
    return platform


def _done(message: str) -> WerkzeugResponse:
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("lms.admin_platform"))


@bp.errorhandler(administration.NotYours)
def _not_yours(refusal: administration.NotYours) -> tuple[str, int]:
    """Every change an administrator may see but not make ends here, whichever page asked."""
    db.session.rollback()
    return render_template("lms/admin_refused.html", reason=str(refusal)), 403


def _own_platform() -> Platform:
    """This LMS's registration, when the viewer's deployment is its only one (403 otherwise:
    ``administration.NotYours``)."""
    platform = _admin_platform()
    administration.check_platform_change(platform, require_viewer().deployment_id)
    return platform


@bp.get("/admin/platform")
@roles_required(Role.ADMINISTRATOR)
def admin_platform() -> tuple[str, int]:
    return _admin_page()


@bp.post("/admin/platform")
@roles_required(Role.ADMINISTRATOR)
def admin_platform_edit() -> AdminAnswer:
    platform, form = _own_platform(), PlatformForm()
    if not form.validate_on_submit():
        return _admin_page(400, edit=form)
    try:
        administration.edit_platform(db.session, platform, form)
    except RegistryError as error:
        return _refused(error, form, "edit")
    return _done("The registration is saved.")


@bp.post("/admin/platform/<any(disable, enable):change>")
@roles_required(Role.ADMINISTRATOR)
def admin_platform_state(change: str) -> AdminAnswer:
    platform = _own_platform()
    if not ActionForm().validate_on_submit():
        abort(400)
    set_disabled(db.session, platform, change == "disable")
    if change == "disable":
        return _done(
            "Launches from this LMS are refused from now on, this one's next page included; "
            "everything recorded is kept. Enable it again with flask lms platform enable."
        )
    return _done("Launches from this LMS are accepted again.")


@bp.post("/admin/platform/remove")
@roles_required(Role.ADMINISTRATOR)
def admin_platform_remove() -> AdminAnswer:
    platform, form = _own_platform(), RemoveForm()
    if not form.validate_on_submit() or (form.confirm.data or "").strip() != platform.issuer:
        form.confirm.errors = [f"Type the issuer, {platform.issuer}, to remove it."]
        return _admin_page(400, remove=form)
    remove_platform(db.session, platform)
    db.session.commit()
    session.clear()  # the registration this session came through is gone
    return redirect(url_for("core.home"))


@bp.post("/admin/platforms")
@roles_required(Role.ADMINISTRATOR)
def admin_platform_add() -> AdminAnswer:
    form = NewPlatformForm()
    if not form.validate_on_submit():
        return _admin_page(400, new_platform=form)
    try:
        added = administration.register_platform(db.session, form)
    except RegistryError as error:
        return _refused(error, form, "new_platform")
    return _done(
        f"{added.display_name} is registered with {len(added.deployments)} deployment(s). "
        "Paste the tool's values below into it; its administrators manage it from their "
        "own launches."
    )


@bp.post("/admin/deployments")
@roles_required(Role.ADMINISTRATOR)
def admin_deployment_add() -> AdminAnswer:
    platform, form = _admin_platform(), NewDeploymentForm()
    if not form.validate_on_submit():
        return _admin_page(400, new_deployment=form)
    try:
        added = administration.new_deployment(db.session, platform, form)
    except RegistryError as error:
        return _refused(error, form, "new_deployment")
    return _done(f"Deployment {added.deployment_id} is added.")


def _own_deployment(row_id: int) -> Deployment:
    """One of this platform's deployments (404 for another platform's), the viewer's own
    (403 otherwise: ``administration.NotYours``)."""
    deployment = administration.deployment_of(_admin_platform(), row_id)
    if deployment is None:
        abort(404)
    administration.check_deployment_change(deployment, require_viewer().deployment_id)
    return deployment


@bp.post("/admin/deployments/<int:row_id>")
@roles_required(Role.ADMINISTRATOR)
def admin_deployment_edit(row_id: int) -> AdminAnswer:
    deployment = _own_deployment(row_id)
    form = DeploymentForm()
    if not form.validate_on_submit():
        abort(400)
    update_deployment(
        db.session,
        deployment,
        name=form.name.data or "",
        trust_role_parameter=bool(form.trust_role_parameter.data),
    )
    return _done(f"Deployment {deployment.deployment_id} is saved.")


@bp.post("/admin/deployments/<int:row_id>/<any(disable, enable, remove):change>")
@roles_required(Role.ADMINISTRATOR)
def admin_deployment_change(row_id: int, change: str) -> AdminAnswer:
    deployment = _own_deployment(row_id)
    if change != "remove":
        if not ActionForm().validate_on_submit():
            abort(400)
        set_disabled(db.session, deployment, change == "disable")
        return _done(f"Deployment {deployment.deployment_id} is {change}d.")
    form = RemoveForm()
    if not form.validate_on_submit() or (form.confirm.data or "").strip() != (
        deployment.deployment_id
    ):
        form.form_errors.append(
            f"Type the deployment id, {deployment.deployment_id}, to remove it."
        )
        return _admin_page(400, remove=form)
    try:
        remove_deployment(db.session, deployment)
    except RegistryError as error:
        return _refused(error, form, "remove")
    db.session.commit()
    session.clear()  # this session came through the deployment just removed
    return redirect(url_for("core.home"))
