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
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from core.auth import Role
from core.db import utcnow
from core.tabular import Column, ImportOutcome, Problem, TableRefused, find_columns, open_table
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
SLICE = 5000  # rows one bulk statement writes


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
class RosterReport(ImportOutcome):
    people: int = 0
    added: int = 0  # people not launched yet, kept under their e-mail
    joined: int = 0  # memberships started (a new person, or a move)
    moved: int = 0
    unchanged: int = 0
    teams_created: int = 0
    managers_named: int = 0

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
        report.refuse_bad_rows()
        return report
    # One row a person (a person listed twice in one team is one person).
    good = list({row.email: row for row in rows if row.line not in bad_lines}.values())
    for key in {team_key(row.team) for row in good}:
        if teams[key].id is None:
            session.add(teams[key])
            report.teams_created += 1
    session.flush()
    _add_people(session, platform_id, good, people, report)
    memberships = _Memberships.of(session, deployment_id)
    for row in good:
        report.people += 1
        team_id = teams[team_key(row.team)].id
        memberships.place(people[row.email].id, team_id, row.role, on, report)
    report.managers_named = memberships.name_managers(
        {teams[team_key(row.team)].id for row in good},
        [(teams[team_key(r.team)].id, people[r.manager].id) for r in good if r.manager],
    )
    memberships.save(session)
    return report


@dataclass
class _Person:
    id: int
    name: str


def _add_people(
    session: Session,
    platform_id: int,
    rows: list[RosterRow],
    people: dict[str, _Person],
    report: RosterReport,
) -> None:
    """Add the people not known yet in bulk (one INSERT a slice, not a row at a time): kept
    under the LMS user id when the file gives it (their launch then finds them), else under
    their e-mail (claimed at their first launch). Known people without a name get the file's."""
    new = {row.email: row for row in rows if row.email not in people}
    subs = {email: row.lms_user_id or ROSTER_SUB_PREFIX + email for email, row in new.items()}
    now = utcnow()
    for chunk in _chunks(list(new)):
        session.execute(
            insert(User.__table__),
            [
                {
                    "platform_id": platform_id,
                    "sub": subs[email],
                    "email": email,
                    "name": new[email].name,
                    "created_at": now,
                    "last_launch_at": now,
                }
                for email in chunk
            ],
        )
        ids = dict(
            session.execute(
                select(User.sub, User.id).where(
                    User.platform_id == platform_id, User.sub.in_([subs[e] for e in chunk])
                )
            ).all()
        )
        for email in chunk:
            people[email] = _Person(ids[subs[email]], new[email].name)
    report.added += len(new)
    named = [
        {"id": people[row.email].id, "name": row.name}
        for row in rows
        if row.name and not people[row.email].name and row.email not in new
    ]
    if named:
        session.execute(update(User), named)


def _people(
    session: Session, platform_id: int, rows: list[RosterRow], problems: list[Problem]
) -> dict[str, _Person]:
    """The LMS's users the file names, by e-mail (an LMS user id, when given, wins)."""
    emails = {row.email for row in rows} | {row.manager for row in rows if row.manager}
    subs = {row.lms_user_id for row in rows if row.lms_user_id}
    found: dict[str, _Person] = {}
    by_sub: dict[str, _Person] = {}
    for chunk in _chunks(sorted(subs)):
        query = select(User.sub, User.id, User.name).where(
            User.platform_id == platform_id, User.sub.in_(chunk)
        )
        by_sub.update((sub, _Person(user, name)) for sub, user, name in session.execute(query))
    for chunk in _chunks(sorted(emails)):
        query = select(func.lower(User.email), User.id, User.name).where(
            User.platform_id == platform_id, func.lower(User.email).in_(chunk)
        )
        for email, user, name in session.execute(query.order_by(User.id)):
            found.setdefault(email, _Person(user, name))
    for row in rows:
        if row.lms_user_id and row.lms_user_id in by_sub:
            found[row.email] = by_sub[row.lms_user_id]
    in_file = {row.email for row in rows}
    for row in rows:
        if row.manager and row.manager not in in_file and row.manager not in found:
            problems.append(
                Problem(
                    row.line,
                    "manager",
                    f"{row.manager} is neither in this file nor a person of this LMS",
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


@dataclass
class _Membership:
    """A membership of an organisation team as plain values, changed in memory and written
    in bulk by ``_Memberships.save``."""

    id: int | None
    user_id: int
    team_id: int
    active: bool
    leads: bool
    assigned_role: str | None
    joined_on: date | None
    left_on: date | None
    changed: bool = False


FIELDS = ("active", "leads", "assigned_role", "joined_on", "left_on")


@dataclass
class _Memberships:
    """The deployment's organisation memberships, by person."""

    by_user: dict[int, list[_Membership]]

    @classmethod
    def of(cls, session: Session, deployment_id: int) -> _Memberships:
        by_user: dict[int, list[_Membership]] = defaultdict(list)
        query = (
            select(Membership.id, Membership.user_id, Membership.team_id)
            .add_columns(*(getattr(Membership, f) for f in FIELDS))
            .join(Team, Team.id == Membership.team_id)
            .where(Team.deployment_id == deployment_id, Team.source == ORGANISATION)
        )
        for row in session.execute(query):
            by_user[row.user_id].append(_Membership(*row))
        return cls(by_user)

    def of_team(self, user_id: int, team_id: int) -> _Membership:
        """The person's membership of the team, made (inactive, not leading) if missing."""
        mine = self.by_user[user_id]
        found = next((m for m in mine if m.team_id == team_id), None)
        if found is None:
            found = _Membership(None, user_id, team_id, False, False, None, None, None, True)
            mine.append(found)
        return found

    def place(
        self, user_id: int, team_id: int, role: Role | None, on: date, report: RosterReport
    ) -> None:
        """Put the person in the team, their one team (``active``), ending another."""
        wanted_role = role.value if role else None
        home = [m for m in self.by_user[user_id] if m.active]
        current = next((m for m in home if m.team_id == team_id), None)
        if current is not None:
            if current.assigned_role != wanted_role:
                current.assigned_role, current.changed = wanted_role, True
            report.unchanged += 1
            return
        if home:
            report.moved += 1
        for membership in home:
            membership.active, membership.left_on, membership.changed = False, on, True
        joined = self.of_team(user_id, team_id)
        joined.active, joined.joined_on, joined.left_on = True, on, None
        joined.assigned_role, joined.changed = wanted_role, True
        report.joined += 1

    def name_managers(self, listed: set[int], named: list[tuple[int, int]]) -> int:
        """Each team the file lists is led by the managers the file names for it (``leads``,
        on a membership of its own when the team is not theirs); one no longer named stops.
        Returns how many started leading."""
        wanted = set(named)
        for mine in self.by_user.values():
            for m in mine:
                if m.leads and m.team_id in listed and (m.team_id, m.user_id) not in wanted:
                    m.leads, m.changed = False, True
        started = 0
        for team_id, user_id in sorted(wanted):
            membership = self.of_team(user_id, team_id)
            if not membership.leads:
                membership.leads, membership.changed = True, True
                started += 1
        return started

    def save(self, session: Session) -> None:
        """Write what changed: new memberships in one INSERT a slice, changed ones in one
        UPDATE by primary key a slice."""
        changed = [m for mine in self.by_user.values() for m in mine if m.changed]
        now = utcnow()
        new = [
            {
                "user_id": m.user_id,
                "team_id": m.team_id,
                "lti_roles": [],
                "lms_role": Role.LEARNER.value,
                "first_seen_at": now,
                "last_seen_at": now,
                **{f: getattr(m, f) for f in FIELDS},
            }
            for m in changed
            if m.id is None
        ]
        known = [{"id": m.id, **{f: getattr(m, f) for f in FIELDS}} for m in changed if m.id]
        for at in range(0, len(new), SLICE):
            session.execute(insert(Membership.__table__), new[at : at + SLICE])
        for at in range(0, len(known), SLICE):
            session.execute(update(Membership), known[at : at + SLICE])


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
