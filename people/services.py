"""Provisioning people from launches and assigning tool-side roles. No request objects here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager

from core.auth import Role
from core.cache import process_cache
from core.db import utcnow
from people.models import ConsentEvent, Membership, Team, User

ASSIGNABLE_ROLES = (Role.MANAGER,)


@dataclass(frozen=True)
class PersonClaims:
    """What a launch says about a person; plain values, taken from the id_token."""

    sub: str
    name: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str | None = None
    lms_username: str | None = None


@dataclass(frozen=True)
class ContextClaims:
    id: str
    title: str = ""
    label: str = ""


def upsert_user(session: Session, platform_id: int, person: PersonClaims) -> User:
    user = session.scalar(
        select(User).where(User.platform_id == platform_id, User.sub == person.sub)
    )
    if user is None:
        user = User(platform_id=platform_id, sub=person.sub)
        session.add(user)
    # The LMS is the source of truth for names; blank values do not erase what we know.
    for attr in ("name", "given_name", "family_name", "email", "lms_username"):
        value = getattr(person, attr)
        if value:
            setattr(user, attr, value)
    user.last_launch_at = utcnow()
    return user


def upsert_context_team(
    session: Session, platform_id: int, deployment_id: int, context: ContextClaims
) -> Team:
    team = session.scalar(
        select(Team).where(
            Team.deployment_id == deployment_id,
            Team.source == "lms_context",
            Team.external_id == context.id,
        )
    )
    if team is None:
        team = Team(
            platform_id=platform_id,
            deployment_id=deployment_id,
            source="lms_context",
            external_id=context.id,
        )
        session.add(team)
    if context.title:
        team.title = context.title
    if context.label:
        team.label = context.label
    return team


def upsert_membership(
    session: Session, user: User, team_id: int, lti_roles: Sequence[str], lms_role: Role
) -> Membership:
    membership = None
    if user.id is not None:  # a user created in this transaction has no membership yet
        membership = session.scalar(
            select(Membership).where(Membership.user_id == user.id, Membership.team_id == team_id)
        )
    if membership is None:
        membership = Membership(user=user, team_id=team_id)
        session.add(membership)
    membership.lti_roles = list(lti_roles)
    membership.lms_role = lms_role.value
    membership.active = True
    membership.last_seen_at = utcnow()
    return membership


def context_team_id(
    session: Session, platform_id: int, deployment_id: int, context: ContextClaims
) -> int:
    """The team of an LMS course context, created or renamed as the launch says. Each process
    remembers the teams it has seen (``core.cache``), so a launch into a known course with its
    known title reads nothing."""
    cache = process_cache()
    key = ("team", deployment_id, context.id)
    known = cache.get(key)
    if known is not None:
        team_id, title, label = known
        if context.title in ("", title) and context.label in ("", label):
            return int(team_id)
    team = upsert_context_team(session, platform_id, deployment_id, context)
    session.flush()
    cache.put(key, (team.id, team.title, team.label))
    return team.id


def provision(
    session: Session,
    *,
    platform_id: int,
    deployment_id: int,
    person: PersonClaims,
    context: ContextClaims | None,
    lti_roles: Sequence[str],
    lms_role: Role,
) -> tuple[User, Membership | None]:
    """Create or update the user and, when the launch has a course context, the team and the
    user's membership in it. Flushes, does not commit: the launch commits once at its end."""
    user = upsert_user(session, platform_id, person)
    membership = None
    if context is not None:
        team_id = context_team_id(session, platform_id, deployment_id, context)
        membership = upsert_membership(session, user, team_id, lti_roles, lms_role)
    session.flush()
    return user, membership


def team_members(session: Session, team_id: int) -> list[Membership]:
    return list(
        session.scalars(
            select(Membership)
            .join(Membership.user)
            .options(contains_eager(Membership.user))  # the page names everyone: one query
            .where(Membership.team_id == team_id)
            .order_by(User.family_name, User.given_name, User.name, User.id)
        )
    )


class RoleAssignmentError(ValueError):
    pass


def assign_role(
    session: Session, *, team_id: int, membership_id: int, role: Role | None, by_user_id: int
) -> Membership:
    """Give (or with ``role=None`` take back) a tool-side role in a team, e.g. manager.

    Only memberships of ``team_id`` can be changed, which keeps the change inside the caller's
    tenant; nobody can assign a role to themselves.
    """
    if role is not None and role not in ASSIGNABLE_ROLES:
        raise RoleAssignmentError(f"{role.label} cannot be assigned in the tool.")
    membership = session.scalar(
        select(Membership).where(Membership.id == membership_id, Membership.team_id == team_id)
    )
    if membership is None:
        raise RoleAssignmentError("That person is not in this course.")
    if membership.user_id == by_user_id:
        raise RoleAssignmentError("You cannot change your own role.")
    membership.assigned_role = role.value if role else None
    membership.assigned_by_id = by_user_id
    membership.assigned_at = utcnow()
    return membership


def role_counts(memberships: Sequence[Membership]) -> Mapping[Role, int]:
    counts = {role: 0 for role in Role}
    for membership in memberships:
        counts[membership.role] += 1
    return counts


CONSENT_SOURCES = ("welcome page", "course page", "my data page")


def set_programme_consent(
    session: Session, user: User, *, opted_in: bool, source: str, team_id: int | None
) -> ConsentEvent | None:
    """Record the person's own choice to join or leave the programme. Only the person calls
    this (through their own session); nobody can opt someone else in. A choice equal to the
    current state records nothing. Returns the new event, or None."""
    if source not in CONSENT_SOURCES:
        raise ValueError(f"unknown consent source {source!r}")
    if (user.opted_in_at is not None) == opted_in:
        return None
    now = utcnow()
    user.opted_in_at = now if opted_in else None
    event = ConsentEvent(
        user_id=user.id,
        platform_id=user.platform_id,
        opted_in=opted_in,
        source=source,
        team_id=team_id,
        recorded_at=now,
    )
    session.add(event)
    session.flush()
    return event


def consent_history(session: Session, user_id: int) -> list[ConsentEvent]:
    return list(
        session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.user_id == user_id)
            .order_by(ConsentEvent.recorded_at.desc(), ConsentEvent.id.desc())
        )
    )
