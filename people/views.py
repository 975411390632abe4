"""The page each role lands on after a launch, and naming a team's managers."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from core.auth import STAFF, Role, Viewer, require_viewer, roles_required
from core.db import db, utcnow
from core.forms import ActionForm
from core.privacy import personal_data
from core.ratelimit import enforce_upload_limit
from core.urls import safe_next
from people.forms import AssignRoleForm, ProgrammeChoiceForm, RosterForm
from people.guards import require_person
from people.models import ErasureRequest, Membership, Team, User
from people.organisation import ACTIONS as TEAM_ACTIONS
from people.organisation import TeamError, organisation_team, organisation_teams
from people.privacy import request_erasure
from people.roster import RosterReport, import_roster
from people.services import (
    RoleAssignmentError,
    assign_role,
    consent_history,
    role_counts,
    set_programme_consent,
    team_members,
)

bp = Blueprint("people", __name__, template_folder="templates")


@bp.get("/dashboard")
def dashboard() -> tuple[str, int] | str:
    viewer = require_viewer()
    user = db.session.get(User, viewer.user_id) if viewer.user_id else None
    team = db.session.get(Team, viewer.team_id) if viewer.team_id else None
    members = team_members(db.session, team.id) if team and viewer.role != Role.LEARNER else []
    if viewer.role == Role.MANAGER:
        members = [m for m in members if m.role == Role.LEARNER]
    # Staff see who the roster marked as left, so a count that dropped is explained.
    staff = team is not None and viewer.role in STAFF
    former = team_members(db.session, team.id, active=False) if staff else []
    status = 403 if viewer.role == Role.GUEST and user is not None else 200
    return render_template(
        f"people/dashboard_{viewer.role.value}.html",
        viewer=viewer,
        user=user,
        team=team,
        members=members,
        former=former,
        counts=role_counts(members),
        form=AssignRoleForm(),
        choice_form=ProgrammeChoiceForm(),
    ), status


@bp.post("/team/members/<int:membership_id>/role")
@roles_required(*STAFF)
def set_role(membership_id: int) -> Response:
    viewer = require_viewer()
    membership = db.session.get(Membership, membership_id)
    if membership is None or membership.team_id != viewer.team_id:
        abort(404)  # nobody outside this course learns whether the membership exists
    form = AssignRoleForm()
    if not form.validate_on_submit() or viewer.team_id is None or viewer.user_id is None:
        flash("Choose a valid role.", "error")
        return redirect(url_for("people.dashboard"))
    role = Role(form.role.data) if form.role.data else None
    try:
        membership = assign_role(
            db.session,
            team_id=viewer.team_id,
            membership_id=membership_id,
            role=role,
            by_user_id=viewer.user_id,
        )
    except RoleAssignmentError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("people.dashboard"))
    db.session.commit()
    name = membership.user.display_name
    flash(
        f"{name} is now a manager in this course."
        if role
        else f"{name} is no longer a manager here.",
        "success",
    )
    return redirect(url_for("people.dashboard"))


def _own_user() -> tuple[User, int | None]:
    viewer, user = require_person("Only people launched from a course can join the programme.")
    return user, viewer.team_id


@bp.get("/programme")
def programme() -> str:
    user, _ = _own_user()
    return render_template(
        "people/programme.html",
        viewer=require_viewer(),
        user=user,
        history=consent_history(db.session, user.id),
        # A hostile ``next`` is dropped here already, so the form never carries it.
        form=ProgrammeChoiceForm(next=safe_next(request.args.get("next")) or ""),
    )


@bp.post("/programme/<any(join, leave):choice>")
def programme_choice(choice: str) -> Response:
    user, team_id = _own_user()
    form = ProgrammeChoiceForm()
    if not form.validate_on_submit():
        flash("Please try again.", "error")
        return redirect(url_for("people.programme"))
    onward = safe_next(form.next.data)
    source = "course page" if onward and onward.startswith("/courses") else "welcome page"
    set_programme_consent(
        db.session, user, opted_in=choice == "join", source=source, team_id=team_id
    )
    db.session.commit()
    if choice == "join":
        flash("Welcome to the programme. Pick a course to start.", "success")
        return redirect(onward or url_for("people.dashboard"))
    flash(
        "You have left the programme. Nothing more is tracked; your past progress is kept "
        "in case you come back.",
        "success",
    )
    return redirect(url_for("people.programme"))


@bp.get("/me/data")
def my_data() -> str:
    """What the service holds about the person, the download, and the request to forget."""
    viewer, user = require_person()
    data = personal_data(db.session, user.id)
    counts = {
        section: sum(len(rows) for rows in part.values()) if isinstance(part, dict) else len(part)
        for section, part in data.items()
    }
    pending = db.session.scalar(
        select(ErasureRequest).where(
            ErasureRequest.user_id == user.id, ErasureRequest.erased_at.is_(None)
        )
    )
    return render_template(
        "people/my_data.html",
        viewer=viewer,
        user=user,
        counts=counts,
        pending=pending,
        form=ProgrammeChoiceForm(),
    )


@bp.get("/me/data.json")
def my_data_json() -> Response:
    _, user = require_person()
    body = json.dumps(
        {"exported_at": utcnow().isoformat(), "sections": personal_data(db.session, user.id)},
        indent=2,
        ensure_ascii=False,
    )
    disposition = 'attachment; filename="my-data.json"'
    return Response(body, mimetype="application/json", headers={"Content-Disposition": disposition})


@bp.post("/me/erasure")
def ask_for_erasure() -> Response:
    _, user = require_person()
    request_erasure(db.session, user)
    db.session.commit()
    flash(
        "Your request is recorded. An administrator of this service will delete your data "
        "and everything linked to you; your LMS keeps its own records.",
        "success",
    )
    return redirect(url_for("people.my_data"))


# -- the organisation's own teams ------------------------------------------------------------


def _organisation_page(viewer: Viewer, form: RosterForm, report: RosterReport | None) -> str:
    return render_template(
        "people/organisation.html",
        viewer=viewer,
        teams=organisation_teams(db.session, viewer.deployment_id),
        form=form,
        action_form=ActionForm(),
        report=report,
    )


@bp.get("/organisation")
@roles_required(*STAFF)
def organisation() -> str:
    return _organisation_page(require_viewer(), RosterForm(), None)


@bp.post("/organisation/roster")
@roles_required(*STAFF)
def roster_upload() -> tuple[str, int] | WerkzeugResponse:
    viewer = require_viewer()
    form = RosterForm()
    if not form.validate_on_submit():
        return _organisation_page(viewer, form, None), 400
    enforce_upload_limit(viewer.platform_id, viewer.user_id)
    report = import_roster(
        db.session,
        platform_id=viewer.platform_id,
        deployment_id=viewer.deployment_id,
        data=form.roster.data.read(),
        effective=form.effective.data,
        skip_bad=bool(form.skip_bad.data),
    )
    if not report.ok:
        db.session.rollback()
        return _organisation_page(viewer, form, report), 400
    db.session.commit()
    flash(f"Roster imported: {report.summary()}.", "success")
    return redirect(url_for("people.organisation"))


@bp.post("/organisation/teams/<int:team_id>")
@roles_required(*STAFF)
def team_change(team_id: int) -> WerkzeugResponse:
    viewer = require_viewer()
    team = organisation_team(db.session, viewer.deployment_id, team_id)
    if team is None:
        abort(404)
    action = TEAM_ACTIONS.get(request.form.get("action", ""))
    if not ActionForm().validate_on_submit() or action is None:
        abort(400)
    try:
        message = action(db.session, team, request.form.to_dict())
    except TeamError as refused:
        db.session.rollback()
        flash(str(refused), "error")
    else:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for("people.organisation"))
