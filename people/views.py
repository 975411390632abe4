"""The page each role lands on after a launch, and naming a team's managers."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from core.auth import Role, require_viewer, roles_required
from core.db import db
from people.forms import AssignRoleForm
from people.models import Team, User
from people.services import RoleAssignmentError, assign_role, role_counts, team_members

bp = Blueprint("people", __name__, template_folder="templates")

STAFF = (Role.TRAINER, Role.ADMINISTRATOR)


@bp.get("/dashboard")
def dashboard() -> tuple[str, int] | str:
    viewer = require_viewer()
    user = db.session.get(User, viewer.user_id) if viewer.user_id else None
    team = db.session.get(Team, viewer.team_id) if viewer.team_id else None
    members = team_members(db.session, team.id) if team and viewer.role != Role.LEARNER else []
    if viewer.role == Role.MANAGER:
        members = [m for m in members if m.role == Role.LEARNER]
    status = 403 if viewer.role == Role.GUEST and user is not None else 200
    return render_template(
        f"people/dashboard_{viewer.role.value}.html",
        viewer=viewer,
        user=user,
        team=team,
        members=members,
        counts=role_counts(members),
        form=AssignRoleForm(),
    ), status


@bp.post("/team/members/<int:membership_id>/role")
@roles_required(*STAFF)
def set_role(membership_id: int) -> Response:
    viewer = require_viewer()
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
