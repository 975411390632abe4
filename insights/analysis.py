"""Training impact from the database: the roll-ups read into a ``Panel``, each team's training
date from its people's completions, and a manager's weekly trend. The computation itself is
in ``insights.effects`` (pure, tested directly and on simulated organisations); its names are
re-exported here for the callers that import them from this module.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import ColumnElement, Date, Integer, Select, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from courses.models import Course, CourseResult, PastTraining
from courses.services import visible_to
from insights.effects import (  # noqa: F401 - re-exported for the callers of this module
    EPOCH,
    FIELDS,
    MIN_AGENT_RESPONSES,
    MIN_RESPONSES,
    MIN_WEEK_RESPONSES,
    WEEKS_AFTER,
    WEEKS_BEFORE,
    Counts,
    Durability,
    Impact,
    Panel,
    TeamChange,
    TeamSummary,
    WeekEffect,
    impact,
    measure_of,
    team_summaries,
    value,
)
from insights.metrics import METRICS, RESPONSES
from insights.models import SurveyResponse, TeamWeeklyRollup
from people.models import Membership, Team

FETCH_ROWS = 100_000
MANAGER_METRICS = ("csat", "nps")  # a manager's dashboard shows these week by week


# -- reading the database --------------------------------------------------------------------


def _day_number(column: ColumnElement[date], session: Session) -> ColumnElement[int]:
    """Days since 1970-01-01, computed by the database (integers read much faster)."""
    if session.get_bind().dialect.name == "postgresql":
        return column - literal(EPOCH, Date)
    return cast(func.julianday(column) - 2440587.5, Integer)


def load_panel(
    session: Session,
    platform_id: int,
    metric: str,
    team_ids: Sequence[int] | None = None,
    *,
    agents: bool = False,
    deployment_id: int | None = None,
) -> Panel:
    """The team weekly roll-ups of one LMS and metric as a panel, or with ``agents`` each
    agent's weeks, counted from the survey rows that name agents. One query, read as plain
    integers: the team analysis must stay well under a second for 1,000 teams. With
    ``deployment_id``, only that deployment's teams (tenancy: one LMS may serve several
    organisations, one per deployment)."""
    in_deployment = select(Team.id).where(Team.deployment_id == deployment_id)
    if agents:
        if session.get_bind().dialect.name == "postgresql":  # group millions of rows in memory
            session.connection().exec_driver_sql("SET LOCAL work_mem = '256MB'")
        rows = SurveyResponse.__table__.c
        day = _day_number(rows.day, session)
        week = day - (day + 3) % 7  # 1970-01-01 was a Thursday; weeks start on Monday
        counts = (cast(c, Integer) for c in METRICS[metric].sql_counts(rows.score))
        query = (
            select(rows.agent_id, week, *counts)
            .where(
                rows.platform_id == platform_id, rows.metric == metric, rows.agent_id.is_not(None)
            )
            .group_by(rows.agent_id, week)
        )
        if deployment_id is not None:
            query = query.where(rows.team_id.in_(in_deployment))
    else:
        weekly = TeamWeeklyRollup
        query = select(
            weekly.team_id, _day_number(weekly.week, session), *(getattr(weekly, f) for f in FIELDS)
        ).where(weekly.platform_id == platform_id, weekly.metric == metric)
        if team_ids is not None:
            query = query.where(weekly.team_id.in_(team_ids))
        if deployment_id is not None:
            query = query.where(weekly.team_id.in_(in_deployment))
    array = _integers(session, query, 2 + len(FIELDS))
    return Panel.from_rows(metric, array, period_days=7)


def _integers(session: Session, query: Select, width: int) -> np.ndarray:
    """A query's rows of integers as an array, read from the driver's own tuples: going
    through SQLAlchemy's Row objects costs seconds at a million rows. PostgreSQL sends them in
    binary, which psycopg turns into integers without parsing text."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        compiled = query.compile(
            dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
        )
        cursor = connection.connection.driver_connection.cursor(binary=True)  # type: ignore[union-attr]
        cursor.execute(str(compiled), compiled.params)
    else:
        cursor = connection.execute(query).cursor  # type: ignore[assignment]
    parts = []
    while rows := cursor.fetchmany(FETCH_ROWS):  # a slice at a time: bounded memory
        flat = itertools.chain.from_iterable(rows)
        parts.append(np.fromiter(flat, np.int64, count=len(rows) * width).reshape(-1, width))
    cursor.close()
    return np.concatenate(parts) if parts else np.zeros((0, width), np.int64)


OUTSIDE = "outside:"


def first_completions(session: Session, courses: Sequence[str]) -> dict[int, date]:
    """Per person, the day they first completed one of ``courses`` (catalogue slugs, or the
    ``outside:…`` keys of outside trainings), in the tool or brought in from a file of past
    training."""
    slugs = [c for c in courses if not c.startswith(OUTSIDE)]
    keys = [f"course:{slug}" for slug in slugs] + [c for c in courses if c.startswith(OUTSIDE)]
    in_tool = (
        select(CourseResult.user_id, func.min(CourseResult.completed_at))
        .join(Course, Course.id == CourseResult.course_id)
        .where(Course.slug.in_(slugs))
        .group_by(CourseResult.user_id)
    )
    first = {user_id: completed.date() for user_id, completed in session.execute(in_tool)}
    brought_in = (
        select(PastTraining.user_id, func.min(PastTraining.completed_on))
        .where(PastTraining.training_key.in_(keys))
        .group_by(PastTraining.user_id)
    )
    for user_id, completed_on in session.execute(brought_in):
        if user_id not in first or completed_on < first[user_id]:
            first[user_id] = completed_on
    return first


def outside_trainings(session: Session, platform_id: int) -> list[tuple[str, str]]:
    """The outside trainings an LMS brought in, as (key, name), for choosing what counts."""
    found = session.execute(
        select(PastTraining.training_key, func.min(PastTraining.training_name))
        .where(
            PastTraining.platform_id == platform_id,
            PastTraining.training_key.startswith(OUTSIDE),
        )
        .group_by(PastTraining.training_key)
        .order_by(func.min(PastTraining.training_name))
    )
    return [(key, name) for key, name in found]


def training_dates(
    session: Session, team_ids: Sequence[int], courses: Sequence[str], share: float = 0.5
) -> tuple[dict[int, date], dict[int, float]]:
    """Per team: the first date on which ``share`` of its members at that date had completed
    one of ``courses`` (no date if never), and the share of its current members who have
    (exposure).

    People count in the team they were in at the time: a person who moved between the
    organisation's teams counts in each for the days they belonged to it, and brings their
    training to a team on the day they joined it (or the day they completed, if later). A
    course context's members have no dates: they count while active, as the LMS says."""
    stays: dict[int, list[tuple[int, date | None, date | None]]] = defaultdict(list)
    current: dict[int, list[int]] = defaultdict(list)
    for team_id, user_id, active, joined, left in session.execute(
        select(
            Membership.team_id,
            Membership.user_id,
            Membership.active,
            Membership.joined_on,
            Membership.left_on,
        ).where(
            Membership.team_id.in_(team_ids),
            or_(Membership.active.is_(True), Membership.left_on.is_not(None)),
        )
    ):
        stays[team_id].append((user_id, joined, None if active else left))
        if active:
            current[team_id].append(user_id)
    completed = first_completions(session, courses)
    dates, exposure = {}, {}
    for team_id, team_stays in stays.items():
        people = current[team_id]
        exposure[team_id] = sum(u in completed for u in people) / len(people) if people else 0.0
        trained_date = _date_share_reached(team_stays, completed, share)
        if trained_date is not None:
            dates[team_id] = trained_date
    return dates, exposure


def _date_share_reached(
    stays: list[tuple[int, date | None, date | None]], completed: dict[int, date], share: float
) -> date | None:
    """The first day on which the trained share of the team's members that day reached
    ``share`` (at least one person)."""
    trained_from = {
        (user, joined, left): max(completed[user], joined or completed[user])
        for user, joined, left in stays
        if user in completed and (left is None or completed[user] < left)
    }
    for day in sorted(set(trained_from.values())):
        members = [
            s for s in stays if (s[1] is None or s[1] <= day) and (s[2] is None or day < s[2])
        ]
        trained = sum(1 for s in members if s in trained_from and trained_from[s] <= day)
        needed = max(1, int(np.ceil(share * len(members))))
        if members and trained >= needed:
            return day
    return None


@dataclass(frozen=True)
class WeekPoint:
    week: date  # Monday
    value: float
    responses: int


def weekly_series(panel: Panel, team_id: int, minimum: int = MIN_RESPONSES) -> list[WeekPoint]:
    """One team's metric week by week from a weekly panel (weeks with fewer than ``minimum``
    responses are left out)."""
    if team_id not in panel.units:
        return []
    weeks = np.diff(panel.totals[:, :, [panel.units.index(team_id)]], axis=0)
    values = panel.values(weeks, minimum)[:, 0]
    return [
        WeekPoint(panel.date_of(int(p)), float(values[p]), int(weeks[p, RESPONSES, 0]))
        for p in np.flatnonzero(~np.isnan(values))
    ]


def team_trend(session: Session, platform_id: int, team_id: int) -> dict[str, object]:
    """What a manager sees of their team: weekly CSAT and NPS, and the training date."""
    series = {}
    for metric in MANAGER_METRICS:
        points = weekly_series(load_panel(session, platform_id, metric, [team_id]), team_id)
        if points:
            series[METRICS[metric].name] = points
    all_courses = list(session.scalars(select(Course.slug).where(visible_to(platform_id))))
    all_courses += [key for key, _ in outside_trainings(session, platform_id)]
    dates, exposure = training_dates(session, [team_id], all_courses)
    team = session.get(Team, team_id)
    return {
        "name": team.display_name if team else "",
        "series": series,
        "trained_on": dates.get(team_id),
        "exposure": exposure.get(team_id, 0.0),
    }
