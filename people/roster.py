"""The organisation's roster: its people, their teams and who leads each team, from a file.

A contact centre's teams are not LMS courses. A roster file (CSV or .xlsx, one person a row)
names each person's team and, optionally, their manager and role. Teams become organisation
teams of the deployment; people are matched to the LMS's users by LMS user id or e-mail, and
people who have not launched yet are kept under their e-mail and become their LMS user at
their first launch (``claim_roster_person``). A person is in one team at a time: a file that
puts them in another team ends the old membership and starts the new one on the file's date,
so an analysis can count them where they were at the time. Importing the same file again
changes nothing.

Every row is checked before anything is written: a file with a bad row imports nothing
unless the person chose to skip bad rows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.auth import Role
from core.db import utcnow
from core.tabular import Column, Problem, TableRefused, find_columns, open_table
from people.models import ORGANISATION, Membership, Team, User

ROSTER_SUB_PREFIX = "roster:"
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
ROLES = {
    "learner": None,
    "agent": None,
    "manager": Role.MANAGER,
    "team leader": Role.MANAGER,
    "trainer": Role.TRAINER,
}
COLUMNS = (
    Column("email", ("e-mail", "email address", "mail", "work email")),
    Column("team", ("team name", "group", "department", "unit")),
    Column("name", ("full name", "display name", "employee", "employee name"), required=False),
    Column(
        "manager",
        ("manager email", "team leader", "team lead", "supervisor", "line manager"),
        required=False,
    ),
    Column("role", ("job role", "tool role"), required=False),
    Column("lms_user_id", ("lms user id", "user id", "lti user id", "sub"), required=False),
)
MAX_PROBLEMS = 1000


@dataclass(frozen=True)
class RosterRow:
    line: int
    email: str  # folded to lower case
    team: str
    name: str = ""
    manager: str = ""  # the manager's e-mail, folded
    role: Role | None = None
    lms_user_id: str = ""


@dataclass
class RosterReport:
    people: int = 0
    added: int = 0  # people not launched yet, kept under their e-mail
    joined: int = 0  # memberships started (a new person, or a move)
    moved: int = 0
    unchanged: int = 0
    teams_created: int = 0
    managers_named: int = 0
    problems: list[Problem] = field(default_factory=list)
    bad_rows: int = 0
    refused: str = ""

    @property
    def ok(self) -> bool:
        return not self.refused

    def summary(self) -> str:
        return (
            f"{self.people} people: {self.added} new, {self.joined} joined a team "
            f"({self.moved} moved), {self.unchanged} unchanged; {self.teams_created} teams "
            f"created; {self.managers_named} managers named"
            + (f"; {self.bad_rows} bad rows skipped" if self.bad_rows else "")
        )


def team_key(name: str) -> str:
    """The identity of a team's name: case and spacing do not make another team."""
    return " ".join(name.split()).casefold()


def read_roster(
    data: bytes | BinaryIO, columns: dict[str, str | None] | None = None
) -> tuple[list[RosterRow], list[Problem]]:
    """The file's rows, checked one by one and against each other (a person in two teams at
    once). Raises ``TableRefused`` when the file itself cannot be read."""
    table = open_table(data)
    at = find_columns(table, COLUMNS, columns or {})
    rows: list[RosterRow] = []
    problems: list[Problem] = []

    def cell(record: list[str], label: str) -> str:
        position = at.get(label)
        return record[position].strip() if position is not None and position < len(record) else ""

    for line, record in table.rows:
        found: list[Problem] = []
        email = cell(record, "email").lower()
        if not email:
            found.append(Problem(line, "email", "no e-mail address"))
        elif not EMAIL.fullmatch(email):
            found.append(Problem(line, "email", f"{email!r} is not an e-mail address"))
        team = " ".join(cell(record, "team").split())
        if not team:
            found.append(Problem(line, "team", "no team"))
        manager = cell(record, "manager").lower()
        if manager and not EMAIL.fullmatch(manager):
            found.append(Problem(line, "manager", f"{manager!r} is not an e-mail address"))
        role_text = " ".join(cell(record, "role").lower().split())
        if role_text and role_text not in ROLES:
            found.append(
                Problem(line, "role", f"{role_text!r} is not one of {', '.join(sorted(ROLES))}")
            )
        if found:
            problems.extend(found)
            continue
        rows.append(
            RosterRow(
                line,
                email,
                team,
                cell(record, "name")[:255],
                manager,
                ROLES.get(role_text),
                cell(record, "lms_user_id")[:255],
            )
        )
    problems.extend(_two_teams(rows))
    return rows, problems


def _two_teams(rows: list[RosterRow]) -> list[Problem]:
    first_team: dict[str, RosterRow] = {}
    problems = []
    for row in rows:
        seen = first_team.setdefault(row.email, row)
        if team_key(seen.team) != team_key(row.team):
            problems.append(
                Problem(
                    row.line,
                    "team",
                    (
                        f"{row.email} is in two teams at once: {seen.team!r} on line "
                        f"{seen.line} and {row.team!r} here"
                    ),
                )
            )
    return problems


def import_roster(
    session: Session,
    *,
    platform_id: int,
    deployment_id: int,
    data: bytes | BinaryIO,
    columns: dict[str, str | None] | None = None,
    effective: date | None = None,
    skip_bad: bool = False,
) -> RosterReport:
    """Apply a roster file to one deployment's organisation teams. Does not commit: the
    caller commits when ``report.ok`` (a dry run rolls back)."""
    report = RosterReport()
    try:
        rows, problems = read_roster(data, columns)
    except TableRefused as refused:
        report.refused = str(refused)
        return report
    on = effective or utcnow().date()
    people = _people(session, platform_id, rows, problems)
    teams = _teams(session, platform_id, deployment_id, rows, problems)
    bad_lines = {p.line for p in problems}
    report.problems = problems[:MAX_PROBLEMS]
    report.bad_rows = len(bad_lines)
    if problems and not skip_bad:
        report.refused = (
            f"Nothing was imported: {report.bad_rows} rows have problems. Correct them, or "
            "choose to skip bad rows."
        )
        return report
    # One row a person (a person listed twice in one team is one person).
    good = list({row.email: row for row in rows if row.line not in bad_lines}.values())
    for key in {team_key(row.team) for row in good}:
        if teams[key].id is None:
            session.add(teams[key])
            report.teams_created += 1
    session.flush()
    for row in good:
        user = people.get(row.email)
        if user is None:
            # Not launched yet: kept under the LMS user id when the file gives it (their
            # launch then finds them), else under their e-mail (claimed at first launch).
            user = User(
                platform_id=platform_id,
                sub=row.lms_user_id or ROSTER_SUB_PREFIX + row.email,
                email=row.email,
                name=row.name,
            )
            session.add(user)
            people[row.email] = user
            report.added += 1
        elif row.name and not user.name:
            user.name = row.name
    session.flush()
    memberships = _org_memberships(session, deployment_id, [u.id for u in people.values()])
    for row in good:
        report.people += 1
        team = teams[team_key(row.team)]
        _place(session, memberships, people[row.email], team, row.role, on, report)
    report.managers_named = _name_managers(session, memberships, good, people, teams)
    session.flush()
    return report


def _people(
    session: Session, platform_id: int, rows: list[RosterRow], problems: list[Problem]
) -> dict[str, User]:
    """The LMS's users the file names, by e-mail (an LMS user id, when given, wins)."""
    emails = {row.email for row in rows} | {row.manager for row in rows if row.manager}
    subs = {row.lms_user_id for row in rows if row.lms_user_id}
    found: dict[str, User] = {}
    by_sub: dict[str, User] = {}
    for chunk in _chunks(sorted(subs)):
        query = select(User).where(User.platform_id == platform_id, User.sub.in_(chunk))
        by_sub.update((u.sub, u) for u in session.scalars(query))
    for chunk in _chunks(sorted(emails)):
        query = select(User).where(
            User.platform_id == platform_id, func.lower(User.email).in_(chunk)
        )
        for user in session.scalars(query.order_by(User.id)):
            found.setdefault((user.email or "").lower(), user)
    for row in rows:
        if row.lms_user_id:
            user = by_sub.get(row.lms_user_id)
            if user is not None:
                found[row.email] = user
    in_file = {row.email for row in rows}
    for row in rows:
        if row.manager and row.manager not in in_file and row.manager not in found:
            problems.append(
                Problem(
                    row.line,
                    "manager",
                    (f"{row.manager} is neither in this file nor a person of this LMS"),
                )
            )
    return found


def _chunks(values: list[str], size: int = 5000) -> list[list[str]]:
    """Values in slices an IN list of any database takes."""
    return [values[at : at + size] for at in range(0, len(values), size)]


def _teams(
    session: Session,
    platform_id: int,
    deployment_id: int,
    rows: list[RosterRow],
    problems: list[Problem],
) -> dict[str, Team]:
    existing = {
        t.external_id: t
        for t in session.scalars(
            select(Team).where(Team.deployment_id == deployment_id, Team.source == ORGANISATION)
        )
    }
    teams: dict[str, Team] = {}
    for row in rows:
        key = team_key(row.team)
        team = teams.get(key) or existing.get(key)
        if team is None:
            team = Team(
                platform_id=platform_id,
                deployment_id=deployment_id,
                source=ORGANISATION,
                external_id=key[:255],
                title=row.team[:255],
            )
        elif team.archived_at is not None:
            problems.append(
                Problem(
                    row.line,
                    "team",
                    (f"the team {team.title!r} is archived; restore it or use another team"),
                )
            )
        teams[key] = team
    return teams


def _org_memberships(
    session: Session, deployment_id: int, user_ids: list[int]
) -> dict[int, list[Membership]]:
    found: dict[int, list[Membership]] = defaultdict(list)
    for membership in session.scalars(
        select(Membership)
        .join(Team, Team.id == Membership.team_id)
        .where(
            Team.deployment_id == deployment_id,
            Team.source == ORGANISATION,
            Membership.user_id.in_(user_ids),
        )
    ):
        found[membership.user_id].append(membership)
    return found


def _membership(
    session: Session, memberships: dict[int, list[Membership]], user_id: int, team_id: int
) -> Membership:
    """The person's membership row of the team, made (inactive, not leading) if missing."""
    mine = memberships[user_id]
    found = next((m for m in mine if m.team_id == team_id), None)
    if found is None:
        found = Membership(
            user_id=user_id,
            team_id=team_id,
            lti_roles=[],
            lms_role=Role.LEARNER.value,
            active=False,
            leads=False,
        )
        session.add(found)
        mine.append(found)
    return found


def _place(
    session: Session,
    memberships: dict[int, list[Membership]],
    user: User,
    team: Team,
    role: Role | None,
    on: date,
    report: RosterReport,
) -> None:
    """Put the person in ``team``, their one team (``active``), ending another."""
    wanted_role = role.value if role else None
    home = [m for m in memberships[user.id] if m.active]
    current = next((m for m in home if m.team_id == team.id), None)
    if current is not None:
        current.assigned_role = wanted_role
        report.unchanged += 1
        return
    if home:
        report.moved += 1
    for membership in home:
        membership.active, membership.left_on = False, on
    joined = _membership(session, memberships, user.id, team.id)
    joined.active, joined.joined_on, joined.left_on = True, on, None
    joined.assigned_role = wanted_role
    report.joined += 1


def _name_managers(
    session: Session,
    memberships: dict[int, list[Membership]],
    rows: list[RosterRow],
    people: dict[str, User],
    teams: dict[str, Team],
) -> int:
    """Each team the file lists is led by the managers the file names for it (``leads``, on
    a membership of its own when the team is not their own); one no longer named stops."""
    named: dict[int, set[int]] = defaultdict(set)
    listed: set[int] = set()
    for row in rows:
        team_id = teams[team_key(row.team)].id
        listed.add(team_id)
        manager = people.get(row.manager) if row.manager else None
        if manager is not None:
            named[team_id].add(manager.id)
    started = 0
    for user_memberships in list(memberships.values()):
        for membership in user_memberships:
            stays = membership.user_id in named[membership.team_id]
            if membership.leads and membership.team_id in listed and not stays:
                membership.leads = False
    for team_id, managers in named.items():
        for user_id in managers:
            membership = _membership(session, memberships, user_id, team_id)
            if not membership.leads:
                membership.leads = True
                started += 1
    return started


def claim_roster_person(session: Session, platform_id: int, sub: str, email: str | None) -> None:
    """At a person's first launch, the roster's record of them (kept under their e-mail)
    becomes their LMS user, with its teams. Only within the same LMS."""
    if not email:
        return
    session.execute(
        update(User)
        .where(User.platform_id == platform_id, User.sub == ROSTER_SUB_PREFIX + email.lower())
        .values(sub=sub)
    )
