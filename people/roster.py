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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO

import sqlalchemy as sa
from flask import has_app_context
from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.orm import Session

from core.auth import Role
from core.bulk import (
    analyse_temporary,
    create_temporary,
    drop_temporary,
    load_rows,
    plan_for_bulk,
)
from core.cache import forget_process_cache
from core.db import utcnow
from core.tabular import (
    Column,
    ImportOutcome,
    Problem,
    Table,
    TableRefused,
    find_columns,
    open_table,
)
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
    caller commits when ``report.ok`` (a dry run rolls back).

    One pass over the file checks each row's cells and stages the good rows (COPY on
    PostgreSQL); the checks between rows (a person in two teams, a manager nobody knows, an
    archived team) and every change (teams, people, memberships, managers) are then a few
    set-based statements over the staged rows, so the file is never held in memory."""
    report = RosterReport()
    plan_for_bulk(session)
    stage = _Stage.create(session)
    try:
        try:
            table = open_table(data)
            at = find_columns(table, COLUMNS, columns or {})
            load_rows(session, stage.rows.name, STAGED, _checked(table, at, report))
        except TableRefused as refused:
            report.refused = str(refused)
            return report
        stage.prepare(platform_id)
        report.bad_rows += stage.find_bad_rows(deployment_id, report.problems)
        if report.bad_rows and not skip_bad:
            report.refuse_bad_rows()
            return report
        on = effective or utcnow().date()
        report.teams_created = stage.add_teams(platform_id, deployment_id)
        stage.choose_one_row_a_person(platform_id, deployment_id)
        report.added = stage.add_people(platform_id)
        stage.place(deployment_id, on, report)
        report.managers_named = stage.name_managers()
        return report
    finally:
        stage.drop()


STAGED = ("line", "email", "team", "team_key", "name", "manager", "role", "sub")


def _checked(table: Table, at: dict[str, int], report: RosterReport) -> Iterator[tuple]:
    """The file's rows whose own cells are good, as staged; the others' problems kept (the
    first ``MAX_PROBLEMS``) and counted."""

    def cell(record: list[str], label: str) -> str:
        position = at.get(label)
        return record[position].strip() if position is not None and position < len(record) else ""

    problems = report.problems
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
            report.bad_rows += 1
            problems.extend(found[: max(0, MAX_PROBLEMS - len(problems))])
            continue
        role = ROLES.get(role_text)
        yield (
            line,
            email,
            team[:255],
            team_key(team)[:255],
            cell(record, "name")[:255],
            manager,
            role.value if role else None,
            cell(record, "lms_user_id")[:255],
        )


def _organisation(deployment_id: int) -> sa.ColumnElement[bool]:
    """The deployment's organisation teams (not its LMS course contexts)."""
    return and_(Team.deployment_id == deployment_id, Team.source == ORGANISATION)


def _temporary(name: str, *columns: sa.Column) -> sa.Table:
    return sa.Table(name, sa.MetaData(), *columns, prefixes=["TEMPORARY"])


def _text(name: str, **extra: Any) -> sa.Column:
    return sa.Column(name, sa.String, **extra)


@dataclass
class _Stage:
    """The import's temporary tables: ``rows``, the file's good rows as read; ``bad``, the
    lines the checks between rows found bad; ``known``, the LMS's people by e-mail; ``people``,
    one row a person with their user and team; ``leads``, who leads which team."""

    session: Session
    rows: sa.Table
    bad: sa.Table
    known: sa.Table
    people: sa.Table
    teams: sa.Table
    leads: sa.Table

    @classmethod
    def create(cls, session: Session) -> _Stage:
        stage = cls(
            session,
            rows=_temporary(
                "roster_rows",
                sa.Column("line", sa.Integer, nullable=False),
                *(_text(name, nullable=name == "role") for name in STAGED[1:]),
            ),
            bad=_temporary("roster_bad", sa.Column("line", sa.Integer, primary_key=True)),
            known=_temporary(
                "roster_known",
                _text("email", primary_key=True),
                sa.Column("user_id", sa.Integer, nullable=False),
            ),
            people=_temporary(
                "roster_people",
                _text("email", primary_key=True),
                sa.Column("line", sa.Integer, nullable=False),
                *(_text(name) for name in ("team_key", "name", "manager", "role", "sub")),
                sa.Column("user_id", sa.Integer, index=True),
                sa.Column("team_id", sa.Integer),
                _text("state"),  # unchanged, moved (from another team) or joined
            ),
            teams=_temporary(
                "roster_teams",
                _text("team_key", primary_key=True),
                sa.Column("team_id", sa.Integer, nullable=False),
            ),
            leads=_temporary(
                "roster_leads",
                sa.Column("team_id", sa.Integer, primary_key=True),
                sa.Column("user_id", sa.Integer, primary_key=True),
            ),
        )
        for table in stage.tables:
            create_temporary(session, table)
        return stage

    @property
    def tables(self) -> tuple[sa.Table, ...]:
        return (self.rows, self.bad, self.known, self.people, self.teams, self.leads)

    def drop(self) -> None:
        for table in self.tables:
            drop_temporary(self.session, table)

    def execute(self, statement: Any) -> Any:
        return self.session.execute(statement.execution_options(preserve_rowcount=True))

    def prepare(self, platform_id: int) -> None:
        """Index the rows by e-mail and find the LMS's people by e-mail, folded (the first
        user when two share one); never another LMS's."""
        self.session.connection().exec_driver_sql(
            f"CREATE INDEX {self.rows.name}_email ON {self.rows.name} (email)"
        )
        analyse_temporary(self.session, self.rows)
        email = func.lower(User.email)
        self.execute(
            self.known.insert().from_select(
                ["email", "user_id"],
                select(email, func.min(User.id))
                .where(User.platform_id == platform_id, User.email.is_not(None))
                .group_by(email),
            )
        )

    def find_bad_rows(self, deployment_id: int, problems: list[Problem]) -> int:
        """The checks between rows: a person in two teams at once, a manager neither in the
        file nor of the LMS, a team that is archived. Returns how many rows they found bad;
        their problems join ``problems`` (the first ``MAX_PROBLEMS``)."""
        r = self.rows.c
        first = {"partition_by": r.email, "order_by": r.line}
        ranked = select(
            r.line,
            r.email,
            r.team,
            r.team_key,
            func.first_value(r.team_key).over(**first).label("first_key"),
            func.first_value(r.team).over(**first).label("first_team"),
            func.first_value(r.line).over(**first).label("first_line"),
        ).subquery()
        two_teams = select(
            ranked.c.line, ranked.c.email, ranked.c.first_team, ranked.c.first_line, ranked.c.team
        ).where(ranked.c.team_key != ranked.c.first_key)
        in_file = self.rows.alias("in_file")
        stranger = select(r.line, r.manager).where(
            r.manager != "",
            ~sa.exists().where(in_file.c.email == r.manager),
            ~sa.exists().where(self.known.c.email == r.manager),
        )
        archived = select(r.line, Team.title).join(
            Team,
            and_(
                Team.deployment_id == deployment_id,
                Team.source == ORGANISATION,
                Team.external_id == r.team_key,
                Team.archived_at.is_not(None),
            ),
        )
        lines = [
            query.with_only_columns(query.selected_columns[0])
            for query in (two_teams, stranger, archived)
        ]
        self.execute(self.bad.insert().from_select(["line"], sa.union(*lines)))
        bad = self.session.scalar(select(func.count()).select_from(self.bad)) or 0
        if not bad:
            return 0
        said = {
            two_teams: lambda line, email, first_team, first_line, team: (
                "team",
                f"{email} is in two teams at once: {first_team!r} on line {first_line} and "
                f"{team!r} here",
            ),
            stranger: lambda line, manager: (
                "manager",
                f"{manager} is neither in this file nor a person of this LMS",
            ),
            archived: lambda line, title: (
                "team",
                f"the team {title!r} is archived; restore it or use another team",
            ),
        }
        for query, say in said.items():
            room = MAX_PROBLEMS - len(problems)
            if room <= 0:
                break
            for found in self.session.execute(
                query.order_by(query.selected_columns[0]).limit(room)
            ):
                problems.append(Problem(found[0], *say(*found)))
        return bad

    def add_teams(self, platform_id: int, deployment_id: int) -> int:
        """The organisation teams the good rows name and the deployment has not yet, titled
        as the file first wrote them. Returns how many were added.

        ``roster_teams`` gets the deployment's teams the rows name, for the plans to come (a
        temporary table has statistics): those there before, read before adding any, then
        the added ones as their insert returns them. Reading them all after the insert let
        PostgreSQL plan with the teams table's statistics of before (none of the new teams):
        a nested loop over every team and row, nine seconds at 20,000 people."""
        r = self.rows.c
        titled = select(
            r.team_key,
            r.team,
            func.row_number().over(partition_by=r.team_key, order_by=r.line).label("n"),
        ).subquery()
        good = select(r.team_key).where(r.line.not_in(select(self.bad.c.line)))
        self.execute(
            self.teams.insert().from_select(
                ["team_key", "team_id"],
                select(Team.external_id, Team.id).where(
                    _organisation(deployment_id), Team.external_id.in_(good)
                ),
            )
        )
        added = self.session.execute(
            insert(Team.__table__)
            .from_select(
                [
                    "platform_id",
                    "deployment_id",
                    "source",
                    "external_id",
                    "title",
                    "label",
                    "created_at",
                ],
                select(
                    sa.literal(platform_id, sa.Integer),
                    sa.literal(deployment_id, sa.Integer),
                    sa.literal(ORGANISATION, sa.String),
                    titled.c.team_key,
                    titled.c.team,
                    sa.literal("", sa.String),
                    sa.literal(utcnow(), Team.__table__.c.created_at.type),
                ).where(
                    titled.c.n == 1,
                    titled.c.team_key.in_(good),
                    ~sa.exists().where(
                        _organisation(deployment_id), Team.external_id == titled.c.team_key
                    ),
                ),
            )
            .returning(Team.__table__.c.external_id, Team.__table__.c.id)
        ).all()  # one row a new team: no more than the file names
        if added:
            load_rows(self.session, self.teams.name, ("team_key", "team_id"), added)
            if has_app_context():
                # Written without the ORM, which would have told the launches' cache on flush.
                forget_process_cache()
        analyse_temporary(self.session, self.teams)
        return len(added)

    def choose_one_row_a_person(self, platform_id: int, deployment_id: int) -> None:
        """One row a person: the last good row that names them (a person listed twice in one
        team is one person), with their team, their LMS user when the LMS has them (by LMS
        user id when the file gives one it knows, else by e-mail) and where they stand:
        already in the team (unchanged), in another of the deployment's teams (moved), or
        in none (joined)."""
        r, m = self.rows.c, Membership
        names = ("email", "line", "team_key", "name", "manager", "role", "sub")
        ranked = (
            select(
                *(r[name] for name in names),
                func.row_number().over(partition_by=r.email, order_by=r.line.desc()).label("n"),
            )
            .where(r.line.not_in(select(self.bad.c.line)))
            .subquery()
        )
        by_sub = User.__table__.alias("by_sub")
        other = Team.__table__.alias("other_team")
        user_id = func.coalesce(by_sub.c.id, self.known.c.user_id)
        team = self.teams.c
        state = sa.case(
            (user_id.is_(None), "joined"),
            (
                sa.exists().where(m.user_id == user_id, m.team_id == team.team_id, m.active),
                "unchanged",
            ),
            (
                sa.exists().where(
                    m.user_id == user_id,
                    m.active,
                    m.team_id.in_(
                        select(other.c.id).where(
                            other.c.deployment_id == deployment_id,
                            other.c.source == ORGANISATION,
                        )
                    ),
                ),
                "moved",
            ),
            else_="joined",
        )
        chosen = (
            select(*(ranked.c[name] for name in names), user_id, team.team_id, state)
            .select_from(
                ranked.join(self.teams, team.team_key == ranked.c.team_key)
                .outerjoin(
                    by_sub,
                    and_(
                        ranked.c.sub != "",
                        by_sub.c.platform_id == platform_id,
                        by_sub.c.sub == ranked.c.sub,
                    ),
                )
                .outerjoin(self.known, self.known.c.email == ranked.c.email)
            )
            .where(ranked.c.n == 1)
        )
        self.execute(
            self.people.insert().from_select([*names, "user_id", "team_id", "state"], chosen)
        )
        analyse_temporary(self.session, self.people)

    def add_people(self, platform_id: int) -> int:
        """The people the LMS does not have yet added (under the LMS user id when given,
        their launch then finds them, else under their e-mail, claimed at their first
        launch); known people without a name get the file's. Returns how many were added."""
        p = self.people.c
        self.execute(
            update(User)
            .where(User.id == p.user_id, p.name != "", User.name == "")
            .values(name=p.name)
        )
        sub = sa.case((p.sub != "", p.sub), else_=sa.literal(ROSTER_SUB_PREFIX) + p.email)
        now = sa.literal(utcnow(), User.__table__.c.created_at.type)
        added = self.execute(
            insert(User.__table__).from_select(
                [
                    "platform_id",
                    "sub",
                    "email",
                    "name",
                    "given_name",
                    "family_name",
                    "created_at",
                    "last_launch_at",
                ],
                select(
                    sa.literal(platform_id, sa.Integer),
                    sub,
                    p.email,
                    p.name,
                    sa.literal("", sa.String),
                    sa.literal("", sa.String),
                    now,
                    now,
                ).where(p.user_id.is_(None)),
            )
        ).rowcount
        if added:
            self.execute(
                update(self.people)
                .where(p.user_id.is_(None), User.platform_id == platform_id, User.sub == sub)
                .values(user_id=User.id)
            )
        return added

    def place(self, deployment_id: int, on: date, report: RosterReport) -> None:
        """Put each person in their team, their one team (``active``): one already there is
        unchanged (their role brought up to date); one in another team leaves it on ``on``
        (moved) and joins theirs on ``on``, as does one in no team yet (joined)."""
        p, m = self.people.c, Membership
        here = and_(m.user_id == p.user_id, m.team_id == p.team_id)
        org_team = select(Team.id).where(_organisation(deployment_id))
        states = dict(self.session.execute(select(p.state, func.count()).group_by(p.state)).all())
        report.unchanged, report.moved = states.get("unchanged", 0), states.get("moved", 0)
        report.joined = report.moved + states.get("joined", 0)
        report.people = report.joined + report.unchanged
        self.execute(
            update(Membership)
            .where(here, p.state == "unchanged", m.active)
            .where(m.assigned_role.is_distinct_from(p.role))
            .values(assigned_role=p.role)
        )
        if not report.joined:
            return
        self.execute(
            update(Membership)
            .where(
                m.active,
                m.user_id.in_(select(p.user_id).where(p.state == "moved")),
                m.team_id.in_(org_team),
            )
            .values(active=False, left_on=on)
        )
        joining = p.state.in_(("moved", "joined"))
        self.execute(
            update(Membership)
            .where(here, joining)
            .values(active=True, joined_on=on, left_on=None, assigned_role=p.role)
        )
        self._add_memberships(
            select(
                p.user_id,
                p.team_id,
                p.role,
                sa.literal(True),
                sa.literal(on, sa.Date),
                sa.literal(False),
            ).where(joining, ~sa.exists().where(here))
        )

    def _add_memberships(self, rows: sa.Select) -> None:
        """New memberships: user, team, assigned role, active, joined on, leads."""
        now = sa.literal(utcnow(), Membership.__table__.c.first_seen_at.type)
        columns = ["user_id", "team_id", "assigned_role", "active", "joined_on", "leads"]
        self.execute(
            insert(Membership.__table__).from_select(
                [*columns, "lms_role", "first_seen_at", "last_seen_at"],
                rows.add_columns(sa.literal(Role.LEARNER.value, sa.String), now, now),
            )
        )

    def name_managers(self) -> int:
        """Each team the file lists is led by the managers the file names for it (``leads``,
        on a membership of its own when the team is not theirs); one no longer named stops.
        Returns how many started leading."""
        p, m, w = self.people.c, Membership, self.leads.c
        manager = self.people.alias("manager")
        known = self.known.c
        leader = func.coalesce(manager.c.user_id, known.user_id)
        self.execute(
            self.leads.insert().from_select(
                ["team_id", "user_id"],
                select(p.team_id, leader)
                .distinct()
                .select_from(
                    self.people.outerjoin(manager, manager.c.email == p.manager).outerjoin(
                        self.known, known.email == p.manager
                    )
                )
                .where(p.manager != "", leader.is_not(None)),
            )
        )
        analyse_temporary(self.session, self.leads)
        named = and_(m.user_id == w.user_id, m.team_id == w.team_id)
        self.execute(
            update(Membership)
            .where(m.leads, m.team_id.in_(select(p.team_id)), ~sa.exists().where(named))
            .values(leads=False)
        )
        started = self.session.scalar(
            select(func.count()).select_from(self.leads).where(~sa.exists().where(named, m.leads))
        )
        self.execute(update(Membership).where(named, sa.not_(m.leads)).values(leads=True))
        self._add_memberships(
            select(
                w.user_id, w.team_id, sa.null(), sa.literal(False), sa.null(), sa.literal(True)
            ).where(~sa.exists().where(named))
        )
        return started or 0


def claim_roster_person(
    session: Session, platform_id: int, sub: str, email: str, launched_id: int
) -> None:
    """At a person's first launch, the roster's record of them (kept under their e-mail)
    becomes their LMS user, with its teams. Only within the same LMS. The launch has just
    added a row for them (``launched_id``, which nothing refers to yet): it gives way, so the
    record keeps its id and everything attached to it. Called only when the launch's upsert
    found such a record (``people.services``): most launches have none to claim."""
    session.execute(delete(User).where(User.id == launched_id))
    session.execute(
        update(User)
        .where(User.platform_id == platform_id, User.sub == ROSTER_SUB_PREFIX + email.lower())
        .values(sub=sub)
    )
