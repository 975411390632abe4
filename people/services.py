"""Provisioning people from launches and assigning tool-side roles. No request objects here."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Row, bindparam, exists, func, or_, select, true
from sqlalchemy.orm import Session, contains_eager

from core.auth import Role
from core.cache import forget_when_changed, process_cache
from core.db import added, insert_for, utcnow
from people.models import (
    ORGANISATION,
    ConsentEvent,
    Membership,
    Team,
    User,
    effective_role,
)
from people.roles import ASSIGNABLE_ROLES
from people.roster import ROSTER_SUB_PREFIX, claim_roster_person


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


# What a person's row keeps from the LMS. A blank value does not erase what we know.
PERSON_FIELDS = ("name", "given_name", "family_name", "email", "lms_username")
MEMBERSHIP_REFRESHED = ("lti_roles", "lms_role", "active", "last_seen_at")
# The columns a launch's upserts write (besides the membership's user_id).
PERSON_ROW = (*PERSON_FIELDS, "platform_id", "sub", "created_at", "last_launch_at")
MEMBERSHIP_ROW = ("team_id", *MEMBERSHIP_REFRESHED, "first_seen_at")


@dataclass(frozen=True)
class MembershipRecord:
    """What a launch or a roster sync needs of the membership it recorded."""

    id: int
    team_id: int
    role: Role


@functools.cache
def _person_upsert(dialect: str, launched: bool) -> Executable:
    """One statement that adds a person or refreshes what the LMS says about them; built once
    per dialect, as building it costs more than running it. A launch's also says whether it
    added the person (a refreshed row's last launch moves past its creation) and which roster
    record waits under their e-mail, if any: an index probe in the same statement, so the
    launches with nothing to claim (nearly all) send nothing more."""
    table = User.__table__
    statement = insert_for(dialect)(table)
    refreshed = {
        field: func.coalesce(func.nullif(statement.excluded[field], ""), table.c[field])
        for field in PERSON_FIELDS
    }
    if not launched:
        return statement.on_conflict_do_update(
            index_elements=["platform_id", "sub"], set_=refreshed
        ).returning(table.c.id)
    refreshed["last_launch_at"] = statement.excluded.last_launch_at
    # Values bound by name, not taken from the execution's parameters: on PostgreSQL this
    # statement also runs inside the launch's combined one (``_launch_upsert``).
    statement = statement.values(
        {name: bindparam(name, type_=table.c[name].type) for name in PERSON_ROW}
    )
    record = table.alias("roster_record")
    waiting = (
        select(record.c.id)
        .where(
            record.c.platform_id == bindparam("roster_platform_id"),
            record.c.sub == bindparam("roster_sub"),
        )
        .scalar_subquery()
    )
    return statement.on_conflict_do_update(
        index_elements=["platform_id", "sub"], set_=refreshed
    ).returning(
        table.c.id,
        (table.c.created_at == table.c.last_launch_at).label("added"),
        waiting.label("roster_record_id"),
    )


@functools.cache
def _membership_upsert(dialect: str) -> Executable:
    table = Membership.__table__
    statement = insert_for(dialect)(table)
    return statement.on_conflict_do_update(
        index_elements=["user_id", "team_id"],
        set_={name: statement.excluded[name] for name in MEMBERSHIP_REFRESHED},
    ).returning(table.c.id, table.c.team_id, table.c.lms_role, table.c.assigned_role)


@functools.cache
def _launch_upsert() -> Executable:
    """PostgreSQL: a launch's person and membership upserts as one statement (one statement
    and one round trip fewer per launch), the person's in a CTE whose id the membership's
    takes. When the person was just added and the roster's record of them waits
    (``launched_person``), no membership is written: that row gives way to the record, and
    the membership is then recorded for the record."""
    person = _person_upsert("postgresql", True).cte("person")
    table = Membership.__table__
    # Typed: an INSERT … SELECT does not give its parameters the target columns' types (the
    # psycopg dialect then casts each).
    values = [bindparam(name, type_=table.c[name].type) for name in MEMBERSHIP_ROW]
    statement = insert_for("postgresql")(table).from_select(
        ["user_id", *MEMBERSHIP_ROW],
        select(person.c.id, *values).where(
            or_(person.c.added.is_(False), person.c.roster_record_id.is_(None))
        ),
    )
    membership = (
        statement.on_conflict_do_update(
            index_elements=["user_id", "team_id"],
            set_={name: statement.excluded[name] for name in MEMBERSHIP_REFRESHED},
        )
        .returning(table.c.id, table.c.team_id, table.c.lms_role, table.c.assigned_role)
        .cte("membership")
    )
    return select(
        person.c.id,
        person.c.added,
        person.c.roster_record_id,
        membership.c.id.label("membership_id"),
        membership.c.team_id,
        membership.c.lms_role,
        membership.c.assigned_role,
    ).select_from(person.outerjoin(membership, true()))


def upsert_person(
    session: Session, platform_id: int, person: PersonClaims, *, launched: bool = True
) -> int:
    """The id of the platform's person ``person.sub``, added or refreshed in one statement
    (two launches of a new person at once both succeed). ``launched=False`` (a roster sync)
    leaves the time of their last launch alone."""
    return _upsert_person_row(session, platform_id, person, launched).id


def _person_values(
    platform_id: int, person: PersonClaims, launched: bool, now: datetime
) -> dict[str, Any]:
    values: dict[str, Any] = {field: getattr(person, field) for field in PERSON_FIELDS}
    values.update(platform_id=platform_id, sub=person.sub, created_at=now, last_launch_at=now)
    if launched:
        email = person.email.lower() if person.email else None
        values.update(
            roster_platform_id=platform_id, roster_sub=email and ROSTER_SUB_PREFIX + email
        )
    return values


def _upsert_person_row(
    session: Session, platform_id: int, person: PersonClaims, launched: bool
) -> Row[Any]:
    statement = _person_upsert(session.get_bind().dialect.name, launched)
    values = _person_values(platform_id, person, launched, utcnow())
    return session.execute(statement, values).one()


def launched_person(session: Session, platform_id: int, person: PersonClaims) -> int:
    """``upsert_person`` for a launch: at a person's first launch, the roster's record of them
    (``people.roster``) becomes their LMS user. Only when the upsert says it added them and a
    record waits under their e-mail is anything more sent."""
    row = _upsert_person_row(session, platform_id, person, launched=True)
    return _roster_record_claimed(session, platform_id, person, row)


def _roster_record_claimed(
    session: Session, platform_id: int, person: PersonClaims, upserted: Row[Any]
) -> int:
    """The person's id after a launch's upsert (``upserted``): the roster's record of them
    when the upsert added them and one waits under their e-mail, else the upserted row's."""
    if not (upserted.added and upserted.roster_record_id is not None and person.email):
        return int(upserted.id)
    claim_roster_person(session, platform_id, person.sub, person.email, upserted.id)
    return upsert_person(session, platform_id, person)  # the record, refreshed by the launch


def _membership_values(
    team_id: int, lti_roles: Sequence[str], lms_role: Role, active: bool, now: datetime
) -> dict[str, Any]:
    return {
        "team_id": team_id,
        "lti_roles": list(lti_roles),
        "lms_role": lms_role.value,
        "active": active,
        "first_seen_at": now,
        "last_seen_at": now,
    }


def upsert_membership(
    session: Session,
    user_id: int,
    team_id: int,
    lti_roles: Sequence[str],
    lms_role: Role,
    *,
    active: bool = True,
) -> MembershipRecord:
    """Add or refresh a person's membership of a team with the roles the LMS gives; a role
    assigned in the tool is kept."""
    values = _membership_values(team_id, lti_roles, lms_role, active, utcnow())
    row = session.execute(
        _membership_upsert(session.get_bind().dialect.name), {"user_id": user_id, **values}
    ).one()
    return MembershipRecord(row.id, row.team_id, effective_role(row.lms_role, row.assigned_role))


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
) -> tuple[int, MembershipRecord | None]:
    """Add or refresh the person and, when the launch has a course context, the team and the
    person's membership in it: (the user's id, the membership). Does not commit: the launch
    commits once at its end."""
    if context is None:
        return launched_person(session, platform_id, person), None
    team_id = context_team_id(session, platform_id, deployment_id, context)
    if session.get_bind().dialect.name != "postgresql":
        user_id = launched_person(session, platform_id, person)
        return user_id, upsert_membership(session, user_id, team_id, lti_roles, lms_role)
    now = utcnow()
    row = session.execute(
        _launch_upsert(),
        {
            **_person_values(platform_id, person, True, now),
            **_membership_values(team_id, lti_roles, lms_role, True, now),
        },
    ).one()
    if row.membership_id is not None:
        role = effective_role(row.lms_role, row.assigned_role)
        return row.id, MembershipRecord(row.membership_id, row.team_id, role)
    user_id = _roster_record_claimed(session, platform_id, person, row)
    return user_id, upsert_membership(session, user_id, team_id, lti_roles, lms_role)


def team_members(session: Session, team_id: int, *, active: bool = True) -> list[Membership]:
    """The team's members as the LMS last said: a launch or a roster sync that lists them
    makes a membership active, a sync that no longer lists them marks it as left. Every
    dashboard, cohort and award list counts the active ones only, so the pages agree with the
    roster; ``active=False`` gives those marked as left (kept for their history)."""
    return list(
        session.scalars(
            select(Membership)
            .join(Membership.user)
            .options(contains_eager(Membership.user))  # the page names everyone: one query
            .where(Membership.team_id == team_id, Membership.active.is_(active))
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
    """People by role among the current members: one marked as left by the roster (e.g. a
    site administrator who launched but is not enrolled) is not counted, whatever list the
    caller passes."""
    counts = {role: 0 for role in Role}
    for membership in memberships:
        if membership.active:
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
    return added(
        session,
        ConsentEvent(
            user_id=user.id,
            platform_id=user.platform_id,
            opted_in=opted_in,
            source=source,
            team_id=team_id,
            recorded_at=now,
        ),
    )


def consent_history(session: Session, user_id: int) -> list[ConsentEvent]:
    return list(
        session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.user_id == user_id)
            .order_by(ConsentEvent.recorded_at.desc(), ConsentEvent.id.desc())
        )
    )


forget_when_changed(Team)


def led_teams(session: Session, user_id: int, deployment_id: int) -> tuple[int, ...]:
    """The organisation teams of a deployment the person leads (named their manager in the
    roster), not archived. Every launch asks, so a deployment without an organisation roster
    (most) is remembered as such per process (``core.cache``) and costs no query; a roster
    brought in elsewhere applies here within ``LTI_REGISTRY_CACHE_SECONDS``."""
    cache = process_cache()
    key = ("organisation teams", deployment_id)
    has_teams = cache.get(key)
    if has_teams is None:
        has_teams = session.scalar(
            select(exists().where(Team.deployment_id == deployment_id, Team.source == ORGANISATION))
        )
        cache.put(key, bool(has_teams))
    if not has_teams:
        return ()
    return tuple(
        session.scalars(
            select(Membership.team_id)
            .join(Team, Team.id == Membership.team_id)
            .where(
                Membership.user_id == user_id,
                Membership.leads.is_(True),
                Team.deployment_id == deployment_id,
                Team.archived_at.is_(None),
            )
            .order_by(Membership.team_id)
        )
    )
