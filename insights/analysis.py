"""Training impact from the database: the roll-ups read into a ``Panel``, each team's training
date from its people's completions, and a manager's weekly trend. The computation itself is
in ``insights.effects`` (pure, tested directly and on simulated organisations); its names are
re-exported here for the callers that import them from this module.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
)
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
from insights.metrics import METRICS, RESPONSES, SCORE_SUM, TOP_TWO_BOX
from insights.models import SurveyResponse, TeamWeeklyRollup
from people.models import Membership, Team, User

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
    # Only the counts the metric keeps are read (CSAT: 3 of 6); the others are zero in every
    # roll-up and count, and are filled in as such: reading fewer integers is most of the time.
    kept = [RESPONSES, SCORE_SUM] + [
        f for f in range(TOP_TWO_BOX, len(FIELDS)) if METRICS[metric].counts(f)
    ]
    if agents:
        if session.get_bind().dialect.name == "postgresql":  # group millions of rows in memory
            session.connection().exec_driver_sql("SET LOCAL work_mem = '256MB'")
        rows = SurveyResponse.__table__.c
        day = _day_number(rows.day, session)
        week = day - (day + 3) % 7  # 1970-01-01 was a Thursday; weeks start on Monday
        counts = METRICS[metric].sql_counts(rows.score)
        query = (
            select(rows.agent_id, week, *(cast(counts[f], Integer) for f in kept))
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
            weekly.team_id,
            _day_number(weekly.week, session),
            *(getattr(weekly, FIELDS[f]) for f in kept),
        ).where(weekly.platform_id == platform_id, weekly.metric == metric)
        if team_ids is not None:
            query = query.where(weekly.team_id.in_(team_ids))
        if deployment_id is not None:
            query = query.where(weekly.team_id.in_(in_deployment))
    read = _integers(session, query, 2 + len(kept))
    array = np.zeros((len(read), 2 + len(FIELDS)), np.int64)
    array[:, :2] = read[:, :2]
    array[:, [2 + f for f in kept]] = read[:, 2:]
    return Panel.from_rows(metric, array, period_days=7)


def _integers(session: Session, query: Select, width: int) -> np.ndarray:
    """A query's rows of integers as an array, read from the driver's own tuples: going
    through SQLAlchemy's Row objects costs seconds at a million rows. PostgreSQL sends them in
    binary, which psycopg turns into integers without parsing text."""
    connection = session.connection()
    cursor: Any  # psycopg's own cursor, or the DBAPI cursor under SQLAlchemy's result
    if connection.dialect.name == "postgresql":
        compiled = query.compile(
            dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
        )
        psycopg_connection: Any = connection.connection.driver_connection
        cursor = psycopg_connection.cursor(binary=True)
        cursor.execute(str(compiled), compiled.params)
    else:
        cursor = connection.execute(query).cursor
    parts = []
    while rows := cursor.fetchmany(FETCH_ROWS):  # a slice at a time: bounded memory
        flat = itertools.chain.from_iterable(rows)
        parts.append(np.fromiter(flat, np.int64, count=len(rows) * width).reshape(-1, width))
    cursor.close()
    return np.concatenate(parts) if parts else np.zeros((0, width), np.int64)


OUTSIDE = "outside:"
# Day numbers standing for "no date": joined with no date (a member from the start), still a
# member (left: never), never completed. Far outside any real day, inside 32 bits.
FROM_THE_START, NEVER = -(2**30), 2**30


def _completion_days(session: Session, courses: Sequence[str]) -> Select:
    """Per person, the day number of their first completion of one of ``courses`` (catalogue
    slugs, or the ``outside:…`` keys of outside trainings), in the tool or brought in from a
    file of past training: (user_id, day), one query."""
    slugs = [c for c in courses if not c.startswith(OUTSIDE)]
    keys = [f"course:{slug}" for slug in slugs] + [c for c in courses if c.startswith(OUTSIDE)]
    # Each source's first per person, then its day: a date is taken of one value per person.
    in_tool = (
        select(CourseResult.user_id, func.min(CourseResult.completed_at).label("first"))
        .join(Course, Course.id == CourseResult.course_id)
        .where(Course.slug.in_(slugs))
        .group_by(CourseResult.user_id)
        .subquery()
    )
    brought_in = (
        select(PastTraining.user_id, func.min(PastTraining.completed_on).label("first"))
        .where(PastTraining.training_key.in_(keys))
        .group_by(PastTraining.user_id)
        .subquery()
    )
    done = union_all(
        select(in_tool.c.user_id, _utc_day(in_tool.c.first, session).label("day")),
        select(brought_in.c.user_id, _day_number(brought_in.c.first, session).label("day")),
    ).subquery()
    return select(done.c.user_id, func.min(done.c.day).label("day")).group_by(done.c.user_id)


def _utc_day(column: ColumnElement[datetime], session: Session) -> ColumnElement[int]:
    """The day number of a UTC timestamp's date (as ``datetime.date()`` of the UTC value)."""
    if session.get_bind().dialect.name == "postgresql":
        return _day_number(cast(func.timezone("UTC", column), Date), session)
    return _day_number(func.date(column), session)


def first_completions(session: Session, courses: Sequence[str]) -> dict[int, date]:
    """Per person, the day they first completed one of ``courses`` (catalogue slugs, or the
    ``outside:…`` keys of outside trainings), in the tool or brought in from a file of past
    training."""
    found = _integers(session, _completion_days(session, courses), 2)
    return {int(u): EPOCH + timedelta(days=int(d)) for u, d in found}


def completions_digest(session: Session, platform_id: int, courses: Sequence[str]) -> str:
    """A digest of the first completions of ``courses`` by the LMS's people: it changes when
    any of them does (a completion in the tool or brought in, added or removed)."""
    done = _completion_days(session, courses).subquery()
    query = (
        select(done.c.user_id, done.c.day)
        .join(User, User.id == done.c.user_id)
        .where(User.platform_id == platform_id)
        .order_by(done.c.user_id)
    )
    return _digest(_integers(session, query, 2))


def teams_digest(session: Session, platform_id: int, metric: str, deployment_id: int) -> str:
    """A digest of which teams with results of ``metric`` are in the deployment: it changes
    when such a team is moved in or out (a team without results changes nothing)."""
    with_results = select(TeamWeeklyRollup.team_id).where(
        TeamWeeklyRollup.platform_id == platform_id, TeamWeeklyRollup.metric == metric
    )
    query = (
        select(Team.id)
        .where(Team.deployment_id == deployment_id, Team.id.in_(with_results))
        .order_by(Team.id)
    )
    return _digest(_integers(session, query, 1))


def _digest(rows: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(rows, np.int64).tobytes()).hexdigest()


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
    course context's members have no dates: they count while active, as the LMS says.

    One query returns each stay with its person's first completion as day numbers; the
    counting is ``training_days`` over arrays (a loop over people cost seconds at 50,000)."""
    completed = _completion_days(session, courses).subquery()
    left = case(
        (Membership.active.is_(True), NEVER), else_=_day_number(Membership.left_on, session)
    )
    stays = (
        select(
            Membership.team_id,
            cast(Membership.active, Integer),
            func.coalesce(_day_number(Membership.joined_on, session), FROM_THE_START),
            left,
            func.coalesce(completed.c.day, NEVER),
        )
        .outerjoin(completed, completed.c.user_id == Membership.user_id)
        .where(
            Membership.team_id.in_(team_ids),
            or_(Membership.active.is_(True), Membership.left_on.is_not(None)),
        )
    )
    rows = _integers(session, stays, 5)
    days, exposure = training_days(rows, share)
    return {team: EPOCH + timedelta(days=day) for team, day in days.items()}, exposure


def training_days(stays: np.ndarray, share: float) -> tuple[dict[int, int], dict[int, float]]:
    """Per team, the first day number on which ``share`` of the members that day had
    completed, and the share of the current members who completed (exposure), from rows of
    (team, active, joined, left, first completion): day numbers, with ``FROM_THE_START``
    for no joining date and ``NEVER`` for still a member (left) or no completion.

    A stay counts as a member on day d when joined <= d < left, and as trained from
    max(completed, joined) when it completed before it left. The days looked at are those
    on which some stay became trained (as the day-by-day search did); on each, members and
    trained are counted for every team at once by binary search over sorted (team, day)
    keys."""
    if len(stays) == 0:
        return {}, {}
    teams, team = np.unique(stays[:, 0], return_inverse=True)
    active, joined, left, done = (stays[:, i] for i in range(1, 5))
    current = np.bincount(team, weights=active, minlength=len(teams))
    finished = np.bincount(team, weights=active * (done != NEVER), minlength=len(teams))
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(current > 0, finished / current, 0.0)
    exposure = {int(t): float(s) for t, s in zip(teams, shares, strict=True)}

    base = team.astype(np.int64) << 32  # team in the high bits, day + 2**31 in the low ones

    def keys(days: np.ndarray, where: np.ndarray) -> np.ndarray:
        return np.sort(base[where] + days[where] + 2**31)

    trained = done < left
    trained_from = np.maximum(done, joined)
    candidates = np.unique(base[trained] + trained_from[trained] + 2**31)
    starts = (candidates >> 32) << 32  # each candidate's team's first key

    def counted(sorted_keys: np.ndarray) -> np.ndarray:  # per candidate: keys <= it, same team
        return np.searchsorted(sorted_keys, candidates, "right") - np.searchsorted(
            sorted_keys, starts, "left"
        )

    member = joined < left  # a stay that left before it joined never counts
    members = counted(keys(joined, member)) - counted(keys(left, member))
    counting = trained & member
    trained_count = counted(keys(trained_from, counting)) - counted(keys(left, counting))
    needed = np.maximum(1, np.ceil(share * members))
    reached = np.flatnonzero((members > 0) & (trained_count >= needed))
    found, first = np.unique(candidates[reached] >> 32, return_index=True)
    day = (candidates[reached[first]] & (2**32 - 1)) - 2**31
    return {int(teams[t]): int(d) for t, d in zip(found, day, strict=True)}, exposure


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
