"""Looking after the organisation's teams once a roster brought them in: rename, archive,
merge two teams, name and unname a team's managers. Plain functions over a session; each
refuses with a ``TeamError`` whose message is safe to show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.auth import Role
from core.db import utcnow
from people.models import ORGANISATION, Membership, Team, User
from people.roster import team_key


class TeamError(ValueError):
    """A change the rules refuse; the message is safe to show."""


@dataclass(frozen=True)
class TeamSummary:
    team: Team
    members: int
    managers: list[User]


def organisation_teams(session: Session, deployment_id: int) -> list[TeamSummary]:
    """The deployment's organisation teams with their member counts and managers, the active
    ones first, by name."""
    teams = list(
        session.scalars(
            select(Team)
            .where(Team.deployment_id == deployment_id, Team.source == ORGANISATION)
            .order_by(Team.archived_at.is_not(None), Team.title)
        )
    )
    ids = [t.id for t in teams]
    counts = dict(
        session.execute(
            select(Membership.team_id, func.count())
            .where(Membership.team_id.in_(ids), Membership.active.is_(True))
            .group_by(Membership.team_id)
        ).all()
    )
    managers: dict[int, list[User]] = {t.id: [] for t in teams}
    for team_id, user in session.execute(
        select(Membership.team_id, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.team_id.in_(ids), Membership.leads.is_(True))
        .order_by(User.name)
    ):
        managers[team_id].append(user)
    return [TeamSummary(t, counts.get(t.id, 0), managers[t.id]) for t in teams]


def organisation_team(session: Session, deployment_id: int, team_id: int) -> Team | None:
    """One of the deployment's organisation teams; None for anything else (a course's team,
    another deployment's)."""
    team = session.get(Team, team_id)
    if team is None or team.deployment_id != deployment_id or team.source != ORGANISATION:
        return None
    return team


def rename(session: Session, team: Team, name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise TeamError("Give the team a name.")
    if len(name) > 255:
        raise TeamError("Keep the team's name under 255 characters.")
    clash = session.scalar(
        select(Team).where(
            Team.deployment_id == team.deployment_id,
            Team.source == ORGANISATION,
            Team.external_id == team_key(name),
            Team.id != team.id,
        )
    )
    if clash is not None:
        raise TeamError(f"There is already a team called {clash.title}: merge the two instead.")
    old, team.title, team.external_id = team.title, name, team_key(name)
    return f"Renamed {old} to {name}. A roster that still says {old} will make it again."


def archive(session: Session, team: Team) -> str:
    if team.archived_at is not None:
        raise TeamError(f"{team.title} is archived already.")
    team.archived_at = utcnow()
    return f"Archived {team.title}: its history stays; it takes no new people."


def restore(session: Session, team: Team) -> str:
    if team.archived_at is None:
        raise TeamError(f"{team.title} is not archived.")
    team.archived_at = None
    return f"Restored {team.title}."


def merge(session: Session, team: Team, into: Team | None, on: date) -> str:
    """Move the team's people and managers into ``into`` on ``on`` (their old membership ends
    that day, so analyses still count them where they were), then archive the team."""
    if into is None or into.id == team.id:
        raise TeamError("Choose another team of this organisation to merge into.")
    if into.archived_at is not None:
        raise TeamError(f"{into.title} is archived: restore it first.")
    moved = 0
    existing = {
        m.user_id: m
        for m in session.scalars(select(Membership).where(Membership.team_id == into.id))
    }
    for membership in session.scalars(select(Membership).where(Membership.team_id == team.id)):
        if not (membership.active or membership.leads):
            continue
        target = existing.get(membership.user_id)
        if target is None:
            target = _inactive_membership(session, membership.user_id, into.id)
        if membership.active:
            target.active, target.joined_on, target.left_on = True, on, None
            target.assigned_role = membership.assigned_role
            membership.active, membership.left_on = False, on
            moved += 1
        if membership.leads:
            target.leads, membership.leads = True, False
    team.archived_at = utcnow()
    return f"Merged {team.title} into {into.title}: {moved} people moved; {team.title} archived."


def _inactive_membership(session: Session, user_id: int, team_id: int) -> Membership:
    """A place in a team that the organisation gives, not a launch: no LMS roles, and not a
    member until made active (someone who only leads the team stays inactive)."""
    membership = Membership(
        user_id=user_id,
        team_id=team_id,
        lti_roles=[],
        lms_role=Role.LEARNER.value,
        active=False,
        leads=False,
    )
    session.add(membership)
    return membership


def name_manager(session: Session, team: Team, email: str) -> str:
    email = email.strip().lower()
    person = (
        session.scalar(
            select(User).where(
                User.platform_id == team.platform_id, func.lower(User.email) == email
            )
        )
        if email
        else None
    )
    if person is None:
        raise TeamError(
            f"No person with the e-mail {email or '(none)'} in this LMS: bring them in with the "
            "roster, or check the address."
        )
    membership = session.scalar(
        select(Membership).where(Membership.team_id == team.id, Membership.user_id == person.id)
    )
    if membership is None:
        membership = _inactive_membership(session, person.id, team.id)
    if membership.leads:
        raise TeamError(f"{person.display_name} already manages {team.title}.")
    membership.leads = True
    return f"{person.display_name} now manages {team.title} (from their next launch)."


def unname_manager(session: Session, team: Team, user_id: int) -> str:
    membership = session.scalar(
        select(Membership).where(
            Membership.team_id == team.id,
            Membership.user_id == user_id,
            Membership.leads.is_(True),
        )
    )
    if membership is None:
        raise TeamError("That person does not manage this team.")
    membership.leads = False
    return f"{membership.user.display_name} no longer manages {team.title}."


# What the team form's ``action`` may ask; each takes the session, the team and the form.
TeamAction = Callable[[Session, Team, dict[str, str]], str]
ACTIONS: dict[str, TeamAction] = {
    "rename": lambda s, t, form: rename(s, t, form.get("name", "")),
    "archive": lambda s, t, form: archive(s, t),
    "restore": lambda s, t, form: restore(s, t),
    "name_manager": lambda s, t, form: name_manager(s, t, form.get("email", "")),
    "unname_manager": lambda s, t, form: unname_manager(s, t, _int(form.get("user", ""))),
    "merge": lambda s, t, form: merge(
        s, t, organisation_team(s, t.deployment_id, _int(form.get("into", ""))), utcnow().date()
    ),
}


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 0
