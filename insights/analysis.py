"""Training impact from the roll-ups: each team's training date, before/after windows of equal
length, a stacked difference in differences against teams not (yet) trained in the same
windows, the effect week by week around training (with the pre-trend check), the correlation
between exposure and change across teams, and the same comparison for individual agents.

The roll-ups are read into a ``Panel``: one row per team (or agent), one column per day (or
week), kept as running totals so any window's counts are one subtraction for every team at
once. ``impact`` is a plain function over a panel and plain dicts (tested directly).
"""

from __future__ import annotations

import contextlib
import itertools
import warnings
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from sqlalchemy import ColumnElement, Date, Integer, Select, cast, func, literal, select
from sqlalchemy.orm import Session

from courses.models import Course, CourseResult
from courses.services import visible_to
from insights.importer import rollup_counts
from insights.models import SurveyResponse, TeamWeeklyRollup
from insights.stats import (
    Correlation,
    DiD,
    Interval,
    PreTrend,
    bootstrap_means,
    correlation,
    csat_percent,
    difference_in_differences,
    nps,
    pre_trend_check,
)
from people.models import Membership, Team

MIN_RESPONSES = 10  # per team and window, below which a team's value is too noisy to use
MIN_AGENT_RESPONSES = 5  # per agent and window
MIN_WEEK_RESPONSES = 5  # per team and week, for the week-by-week effect
WEEKS_BEFORE, WEEKS_AFTER = 6, 12  # the week-by-week view around each team's training
EPOCH = date(1970, 1, 1)
FETCH_ROWS = 100_000
FIELDS = ("responses", "score_sum", "top_two_box", "promoters", "passives", "detractors")


@dataclass(frozen=True)
class Counts:
    responses: int = 0
    score_sum: int = 0
    top_two_box: int = 0
    promoters: int = 0
    detractors: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            *(a + b for a, b in zip(self.__dict__.values(), other.__dict__.values(), strict=True))
        )


def value(metric: str, counts: Counts) -> float:
    """CSAT % (4-5), NPS, or mean CES of a window's counts."""
    if metric == "csat":
        return 100 * counts.top_two_box / counts.responses
    if metric == "nps":
        return 100 * (counts.promoters - counts.detractors) / counts.responses
    return counts.score_sum / counts.responses


@dataclass
class Panel:
    """Running totals of the roll-up counts: ``totals[p, f, u]`` is field ``f`` of unit ``u``
    summed over the periods before ``p`` (a period is ``period_days`` long from ``first``)."""

    metric: str
    units: list[int]
    first: date
    period_days: int
    totals: np.ndarray

    @classmethod
    def from_rows(cls, metric: str, rows: np.ndarray, period_days: int = 1) -> Panel:
        """Rows of (unit id, day number since 1970-01-01, six counts in ``FIELDS`` order)."""
        if len(rows) == 0:
            return cls(metric, [], EPOCH, period_days, np.zeros((1, len(FIELDS), 0), np.int32))
        units, unit_index = np.unique(rows[:, 0], return_inverse=True)
        start = int(rows[:, 1].min())
        periods = (rows[:, 1] - start) // period_days
        dense = np.zeros((int(periods.max()) + 2, len(FIELDS), len(units)), np.int32)
        # Roll-ups have one row per unit and period (their primary key): a plain assignment.
        dense[periods + 1, :, unit_index] = rows[:, 2:]
        return cls(
            metric,
            [int(u) for u in units],
            EPOCH + timedelta(days=start),
            period_days,
            dense.cumsum(axis=0, dtype=np.int32),
        )

    @classmethod
    def from_days(
        cls, metric: str, unit_days: Mapping[int, Mapping[date, Counts]], period_days: int = 1
    ) -> Panel:
        """From per-day counts, by day or summed into weeks (``period_days=7``)."""
        periods: dict[tuple[int, int], np.ndarray] = {}
        for unit, days in unit_days.items():
            for day, c in days.items():
                number = (day - EPOCH).days
                if period_days == 7:
                    number -= (number + 3) % 7  # the Monday (1970-01-01 was a Thursday)
                passives = c.responses - c.promoters - c.detractors if metric == "nps" else 0
                counts = np.array([c.responses, c.score_sum, c.top_two_box, c.promoters,
                                   passives, c.detractors], np.int64)  # fmt: skip
                key = (unit, number)
                periods[key] = periods[key] + counts if key in periods else counts
        rows = [(unit, number, *counts) for (unit, number), counts in periods.items()]
        array = np.array(rows, np.int64).reshape(-1, 2 + len(FIELDS))
        return cls.from_rows(metric, array, period_days)

    @property
    def periods(self) -> int:
        return self.totals.shape[0] - 1

    def index(self, when: date) -> int:
        return (when - self.first).days // self.period_days

    def date_of(self, index: int) -> date:
        return self.first + timedelta(days=index * self.period_days)

    def sums(self, start: int, end: int) -> np.ndarray:
        """Counts of every unit over periods [start, end): shape (fields, units)."""
        start, end = min(max(start, 0), self.periods), min(max(end, 0), self.periods)
        return self.totals[end] - self.totals[start]

    def consecutive_sums(self, boundaries: np.ndarray) -> np.ndarray:
        """Counts of every unit between consecutive boundaries: shape (len - 1, fields, units)."""
        return np.diff(self.totals[np.clip(boundaries, 0, self.periods)], axis=0)

    def values(self, sums: np.ndarray, minimum: int = 1) -> np.ndarray:
        """The metric per unit (shape: ``sums`` without its fields axis, the one before the
        last); NaN where fewer than ``minimum`` responses."""
        responses = sums[..., 0, :].astype(float)
        if self.metric == "csat":
            numerator = 100.0 * sums[..., 2, :]
        elif self.metric == "nps":
            numerator = 100.0 * (sums[..., 3, :] - sums[..., 5, :])
        else:
            numerator = sums[..., 1, :].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(responses >= max(minimum, 1), numerator / responses, np.nan)


@dataclass
class TeamChange:
    team_id: int
    trained_on: date | None
    before: float
    after: float
    exposure: float
    before_n: int = 0
    after_n: int = 0
    comparison_before: float = 0.0
    comparison_after: float = 0.0
    comparison_teams: int = 0

    @property
    def change(self) -> float:
        return self.after - self.before


@dataclass(frozen=True)
class WeekEffect:
    """Trained minus comparison change, ``week`` weeks from training (negative: before)."""

    week: int
    effect: float
    low: float
    high: float
    teams: int


@dataclass(frozen=True)
class TeamSummary:
    team_id: int
    responses: int
    mean: float
    value: Interval | None  # CSAT % with Wilson CI, NPS with its SE interval, or mean CES
    shares: tuple[float, float, float] | None  # NPS promoters, passives, detractors


@dataclass
class Impact:
    metric: str
    window_days: int
    did: DiD | None
    pearson: Correlation | None
    spearman: Correlation | None
    teams: list[TeamChange] = field(default_factory=list)
    # (team, exposure, change) behind the correlation: every team with enough responses
    # around its training date (untrained teams: the median training date, ``split_on``).
    exposure_points: list[tuple[int, float, float]] = field(default_factory=list)
    split_on: date | None = None
    weeks: list[WeekEffect] = field(default_factory=list)
    pre_trend: PreTrend | None = None
    missing: list[str] = field(default_factory=list)  # why a number could not be given

    @property
    def lasting(self) -> str:
        """Whether the effect held in the last weeks measured: held, faded or unclear."""
        late = [w for w in self.weeks if w.week >= WEEKS_AFTER - 4]
        early = [w for w in self.weeks if 0 <= w.week < 4]
        if not late or not early or self.did is None:
            return "unclear"
        if min(w.low for w in late) > 0:
            return "held"
        if np.mean([w.effect for w in late]) < 0.5 * np.mean([w.effect for w in early]):
            return "faded"
        return "unclear"


def impact(
    metric: str,
    panel: Panel | Mapping[int, Mapping[date, Counts]],
    trained_on: Mapping[int, date],
    exposure: Mapping[int, float],
    *,
    window_days: int = 28,
    resamples: int = 2000,
    minimum: int = MIN_RESPONSES,
    correlate: bool = True,
    unit: str = "team",
) -> Impact:
    """Stacked difference in differences: for each trained unit, its change from the window
    before its training date to the window after, minus the mean change of the units not
    trained by the end of that after-window, over the same dates."""
    if not isinstance(panel, Panel):
        panel = Panel.from_days(metric, panel)
    result = Impact(metric, window_days, None, None, None)
    span = max(window_days // panel.period_days, 1)
    week = max(7 // panel.period_days, 1)
    position = {u: i for i, u in enumerate(panel.units)}
    never = panel.periods + 10_000
    trained_at = np.full(len(panel.units), never)
    for unit_id, when in trained_on.items():
        if unit_id in position:
            trained_at[position[unit_id]] = panel.index(when)
    rows_b, rows_a, comp_b, comp_a, paths = [], [], [], [], []
    for at in np.unique(trained_at[trained_at != never]):
        # The training day (or week) itself is left out: it is partly before, partly after.
        before, after = panel.sums(at - span, at), panel.sums(at + 1, at + 1 + span)
        vb, va = panel.values(before, minimum), panel.values(after, minimum)
        usable = ~np.isnan(vb) & ~np.isnan(va)
        comparison = usable & (trained_at >= at + 1 + span)
        trained = np.flatnonzero(usable & (trained_at == at))
        if not comparison.any() or not len(trained):
            continue
        cb, ca = float(vb[comparison].mean()), float(va[comparison].mean())
        # Week by week: the comparison must stay untrained for the whole view.
        steady = comparison & (trained_at >= at + WEEKS_AFTER * week)
        boundaries = at + week * np.arange(-WEEKS_BEFORE, WEEKS_AFTER + 1)
        weekly = panel.values(panel.consecutive_sums(boundaries), MIN_WEEK_RESPONSES)
        with np.errstate(invalid="ignore"), _quiet_nan_means():
            steady_path = np.nanmean(weekly[:, steady], axis=1) - vb[steady].mean()
        for i in trained:
            rows_b.append(vb[i])
            rows_a.append(va[i])
            comp_b.append(cb)
            comp_a.append(ca)
            if steady.any():
                paths.append((weekly[:, i] - vb[i]) - steady_path)
            result.teams.append(TeamChange(
                panel.units[i], trained_on.get(panel.units[i]), float(vb[i]), float(va[i]),
                exposure.get(panel.units[i], 0.0), int(before[0, i]), int(after[0, i]),
                cb, ca, int(comparison.sum()),
            ))  # fmt: skip
    plural = f"{unit}s"
    if len(rows_b) >= 2:
        result.did = difference_in_differences(rows_b, rows_a, comp_b, comp_a, resamples=resamples)
    else:
        result.missing.append(
            f"At least two trained {plural} with {minimum}+ responses before and after "
            f"training, and untrained {plural} to compare with, are needed; found {len(rows_b)}."
        )
    if paths:
        _week_by_week(result, np.array(paths), resamples, plural)
    if correlate:
        _exposure_correlation(result, panel, trained_at, never, span, exposure, minimum)
    return result


@contextlib.contextmanager
def _quiet_nan_means() -> Iterator[None]:
    """numpy warns on the mean of an all-NaN slice; here that is an expected 'no value'."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _week_by_week(result: Impact, paths: np.ndarray, resamples: int, plural: str) -> None:
    """Mean path of (trained change - comparison change) by week, with a cluster-bootstrap CI,
    and the pre-trend check on the weeks before training."""
    boot = bootstrap_means(paths, resamples, np.random.default_rng(23))
    seen = (~np.isnan(paths)).sum(axis=0)
    with _quiet_nan_means():
        effects = np.nanmean(paths, axis=0)
        lows, highs = np.nanpercentile(boot, [2.5, 97.5], axis=0)
    for k in range(paths.shape[1]):
        if seen[k] >= 2:
            result.weeks.append(WeekEffect(
                k - WEEKS_BEFORE, float(effects[k]), float(lows[k]), float(highs[k]),
                int(seen[k]),
            ))  # fmt: skip
    complete = paths[~np.isnan(paths[:, :WEEKS_BEFORE]).any(axis=1), :WEEKS_BEFORE]
    if len(complete) >= 3:
        result.pre_trend = pre_trend_check(complete)
    else:
        result.missing.append(
            f"The pre-trend check needs three trained {plural} with {MIN_WEEK_RESPONSES}+ "
            f"responses in each of the {WEEKS_BEFORE} weeks before training; found {len(complete)}."
        )


def _exposure_correlation(
    result: Impact,
    panel: Panel,
    trained_at: np.ndarray,
    never: int,
    span: int,
    exposure: Mapping[int, float],
    minimum: int,
) -> None:
    """Exposure against change across every team: a trained team's change around its own
    training date, an untrained team's around the median training date."""
    if panel.periods == 0:
        return
    ordered = np.sort(trained_at[trained_at != never])
    median = int(ordered[len(ordered) // 2]) if len(ordered) else panel.periods - span
    result.split_on = panel.date_of(median)
    split = np.clip(np.where(trained_at == never, median, trained_at), 0, panel.periods)
    units = np.arange(len(panel.units))

    def window(start: np.ndarray, end: np.ndarray) -> np.ndarray:
        start, end = np.clip(start, 0, panel.periods), np.clip(end, 0, panel.periods)
        return (panel.totals[end, :, units] - panel.totals[start, :, units]).T

    vb = panel.values(window(split - span, split), minimum)
    va = panel.values(window(split + 1, split + 1 + span), minimum)
    for i in np.flatnonzero(~np.isnan(vb) & ~np.isnan(va)):
        unit_id = panel.units[i]
        result.exposure_points.append((unit_id, exposure.get(unit_id, 0.0), float(va[i] - vb[i])))
    xs = [p[1] for p in result.exposure_points]
    ys = [p[2] for p in result.exposure_points]
    result.pearson = correlation(xs, ys, "pearson")
    result.spearman = correlation(xs, ys, "spearman")
    if result.pearson is None:
        result.missing.append(
            f"Relating training to change needs at least four teams with {minimum}+ "
            f"responses in the {result.window_days} days before and after their training date "
            f"(untrained teams: {result.split_on}, the median training date) and different "
            f"shares trained; found {len(xs)} team(s)"
            + (", all with the same share." if len(set(xs)) == 1 and xs else ".")
        )


def team_summaries(panel: Panel) -> list[TeamSummary]:
    """Each team over the whole period: responses, mean score and the metric with its CI."""
    sums = panel.sums(0, panel.periods)
    out = []
    for i, unit_id in enumerate(panel.units):
        n, score_sum, top, promoters, passives, detractors = (int(v) for v in sums[:, i])
        if n == 0:
            continue
        shares = None
        if panel.metric == "csat":
            metric_value = csat_percent(top, n)
        elif panel.metric == "nps":
            metric_value = nps(promoters, detractors, n)
            shares = (promoters / n, passives / n, detractors / n)
        else:
            metric_value = None
        out.append(TeamSummary(unit_id, n, score_sum / n, metric_value, shares))
    return out


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
        counts = (cast(c, Integer) for c in rollup_counts(metric, rows.score))
        query = (
            select(rows.agent_id, week, *counts)
            .where(rows.platform_id == platform_id, rows.metric == metric,
                   rows.agent_id.is_not(None))
            .group_by(rows.agent_id, week)
        )  # fmt: skip
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


def first_completions(session: Session, courses: Sequence[str]) -> dict[int, date]:
    """Per person, the day they first completed one of ``courses``."""
    query = (
        select(CourseResult.user_id, func.min(CourseResult.completed_at))
        .join(Course, Course.id == CourseResult.course_id)
        .where(Course.slug.in_(courses))
        .group_by(CourseResult.user_id)
    )
    return {user_id: completed.date() for user_id, completed in session.execute(query)}


def training_dates(
    session: Session, team_ids: Sequence[int], courses: Sequence[str], share: float = 0.5
) -> tuple[dict[int, date], dict[int, float]]:
    """Per team: the date by which ``share`` of its active members completed one of
    ``courses`` (no date if never), and the share who completed (exposure)."""
    members: dict[int, list[int]] = defaultdict(list)
    for team_id, user_id in session.execute(
        select(Membership.team_id, Membership.user_id).where(
            Membership.team_id.in_(team_ids), Membership.active.is_(True)
        )
    ):
        members[team_id].append(user_id)
    completed = first_completions(session, courses)
    dates, exposure = {}, {}
    for team_id, people in members.items():
        done = sorted(completed[u] for u in people if u in completed)
        exposure[team_id] = len(done) / len(people) if people else 0.0
        needed = max(1, int(np.ceil(share * len(people))))
        if len(done) >= needed:
            dates[team_id] = done[needed - 1]
    return dates, exposure


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
        WeekPoint(panel.date_of(int(p)), float(values[p]), int(weeks[p, 0, 0]))
        for p in np.flatnonzero(~np.isnan(values))
    ]


def team_trend(session: Session, platform_id: int, team_id: int) -> dict[str, object]:
    """What a manager sees of their team: weekly CSAT and NPS, and the training date."""
    series = {}
    for metric in ("csat", "nps"):
        points = weekly_series(load_panel(session, platform_id, metric, [team_id]), team_id)
        if points:
            series[metric] = points
    all_courses = list(session.scalars(select(Course.slug).where(visible_to(platform_id))))
    dates, exposure = training_dates(session, [team_id], all_courses)
    return {
        "series": series,
        "trained_on": dates.get(team_id),
        "exposure": exposure.get(team_id, 0.0),
    }
