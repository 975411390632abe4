"""Training impact from weekly roll-ups, as plain computation (NumPy, no database, no Flask):
each team's training date, before/after windows of equal length, a stacked difference in
differences against teams not (yet) trained in the same windows, the effect week by week
around training (with the pre-trend check and whether the effect lasted, judged in
``insights.durability``), the correlation between exposure and change across teams, and the
same comparison for individual agents.

The roll-ups are read into a ``Panel``: one row per team (or agent), one column per day (or
week), kept as running totals so any window's counts are one subtraction for every team at
once. ``impact`` is a plain function over a panel and plain dicts; ``insights.analysis``
reads the panel and training dates from the database, ``insights.simulate`` draws them.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import NamedTuple

import numpy as np

from insights.durability import (
    EARLY_WEEKS,
    LATE_WEEKS,
    WEEKS_AFTER,
    WEEKS_BEFORE,
    Durability,
    durability,
)
from insights.metrics import (
    FIELDS,
    METRICS,
    PASSIVES,
    RESPONSES,
    SCORE_SUM,
    Measure,
)
from insights.stats import (
    Correlation,
    DiD,
    Estimate,
    Interval,
    PreTrend,
    Stack,
    TooFewToCompare,
    correlation,
    jackknife,
    pre_trend_check,
    stacked_did,
    stacked_effects,
)

MIN_RESPONSES = 10  # per team and window, below which a team's value is too noisy to use
MIN_AGENT_RESPONSES = 5  # per agent and window
MIN_WEEK_RESPONSES = 5  # per team and week, for the week-by-week effect
EPOCH = date(1970, 1, 1)


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

    def fields(self, metric: str) -> list[int]:
        """The six roll-up counts in ``FIELDS`` order (passives: the rest, where counted)."""
        counted = METRICS[metric].counts(PASSIVES)
        passives = self.responses - self.promoters - self.detractors if counted else 0
        return [
            self.responses,
            self.score_sum,
            self.top_two_box,
            self.promoters,
            passives,
            self.detractors,
        ]


def value(metric: str, counts: Counts, csat_as: str = "top2") -> float:
    """The metric's figure of a window's counts: CSAT % (4-5) or mean CSAT, NPS, mean CES."""
    return METRICS[metric].measure(csat_as).value(counts.fields(metric))


@dataclass
class Panel:
    """Running totals of the roll-up counts: ``totals[p, f, u]`` is field ``f`` of unit ``u``
    summed over the periods before ``p`` (a period is ``period_days`` long from ``first``)."""

    metric: str
    units: list[int]
    first: date
    period_days: int
    totals: np.ndarray
    csat_as: str = "top2"  # CSAT as the top-two-box % or, "mean", the mean score

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
                counts = np.array(c.fields(metric), np.int64)
                key = (unit, number)
                periods[key] = periods[key] + counts if key in periods else counts
        rows = [(unit, number, *counts) for (unit, number), counts in periods.items()]
        array = np.array(rows, np.int64).reshape(-1, 2 + len(FIELDS))
        return cls.from_rows(metric, array, period_days)

    @property
    def measure(self) -> Measure:
        return METRICS[self.metric].measure(self.csat_as)

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
        responses = sums[..., RESPONSES, :].astype(float)
        numerator = self.measure.numerator(sums)
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


class ExposurePoint(NamedTuple):
    """One team behind the correlation: the share of its people trained, and its change."""

    team_id: int
    exposure: float
    change: float


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
    shares: tuple[float, ...] | None  # the metric's breakdown: NPS promoters, passives, detractors


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
    exposure_points: list[ExposurePoint] = field(default_factory=list)
    split_on: date | None = None
    weeks: list[WeekEffect] = field(default_factory=list)
    pre_trend: PreTrend | None = None
    missing: list[str] = field(default_factory=list)  # why a number could not be given
    durability: Durability = field(
        default_factory=lambda: Durability("unclear", "No week-by-week effect could be measured.")
    )
    csat_as: str = "top2"
    ramp_days: int = 0
    comparison_teams: int = 0  # distinct units compared with, over every training date

    @property
    def lasting(self) -> str:
        """held, faded or unclear (``durability`` has the reason and the numbers)."""
        return self.durability.verdict


def measure_of(metric: str, csat_as: str = "top2") -> str:
    """What the numbers are: ``csat`` (top-two-box %), ``csat_mean`` (mean 1-5), ``nps``,
    ``ces`` (mean score)."""
    return METRICS[metric].measure(csat_as).key


def impact(
    metric: str,
    panel: Panel | Mapping[int, Mapping[date, Counts]],
    trained_on: Mapping[int, date],
    exposure: Mapping[int, float],
    *,
    window_days: int = 28,
    minimum: int = MIN_RESPONSES,
    correlate: bool = True,
    unit: str = "team",
    csat_as: str = "top2",
    ramp_days: int = 0,
) -> Impact:
    """Stacked difference in differences: for each trained unit, its change from the window
    before its training date to the window after, minus the mean change of the units not
    trained by the end of that after-window, over the same dates. ``ramp_days`` after the
    training date are left out: the after-window starts when they are over. CSAT is the
    top-two-box % or, with ``csat_as="mean"``, the mean score."""
    if not isinstance(panel, Panel):
        panel = Panel.from_days(metric, panel)
    panel = replace(panel, csat_as=csat_as)
    result = Impact(metric, window_days, None, None, None, csat_as=csat_as, ramp_days=ramp_days)
    span = max(window_days // panel.period_days, 1)
    ramp = -(-ramp_days // panel.period_days)  # whole periods, rounded up
    week = max(7 // panel.period_days, 1)
    position = {u: i for i, u in enumerate(panel.units)}
    never = panel.periods + 10_000
    trained_at = np.full(len(panel.units), never)
    for unit_id, when in trained_on.items():
        if unit_id in position:
            trained_at[position[unit_id]] = panel.index(when)
    stacks: list[Stack] = []
    week_stacks: list[Stack] = []
    paths = []
    for at in np.unique(trained_at[trained_at != never]):
        # The training day (or week) itself is left out: it is partly before, partly after.
        start = at + 1 + ramp
        before, after = panel.sums(at - span, at), panel.sums(start, start + span)
        vb, va = panel.values(before, minimum), panel.values(after, minimum)
        usable = ~np.isnan(vb) & ~np.isnan(va)
        comparison = usable & (trained_at >= start + span)
        trained = np.flatnonzero(usable & (trained_at == at))
        if not comparison.any() or not len(trained):
            continue
        others = np.flatnonzero(comparison)
        cb, ca = float(vb[comparison].mean()), float(va[comparison].mean())
        stacks.append(
            Stack(trained, vb[trained], va[trained, None], others, vb[others], va[others, None])
        )
        # Week by week: the comparison must stay untrained for the whole view.
        steady = comparison & (trained_at >= at + WEEKS_AFTER * week)
        boundaries = at + week * np.arange(-WEEKS_BEFORE, WEEKS_AFTER + 1)
        weekly = panel.values(panel.consecutive_sums(boundaries), MIN_WEEK_RESPONSES)
        if steady.any():
            kept = np.flatnonzero(steady)
            week_stacks.append(
                Stack(trained, vb[trained], weekly[:, trained].T, kept, vb[kept], weekly[:, kept].T)
            )
            with np.errstate(invalid="ignore"), _quiet_nan_means():
                steady_path = np.nanmean(weekly[:, steady], axis=1) - vb[steady].mean()
            paths.extend((weekly[:, i] - vb[i]) - steady_path for i in trained)
        for i in trained:
            result.teams.append(
                TeamChange(
                    panel.units[i],
                    trained_on.get(panel.units[i]),
                    float(vb[i]),
                    float(va[i]),
                    exposure.get(panel.units[i], 0.0),
                    int(before[RESPONSES, i]),
                    int(after[RESPONSES, i]),
                    cb,
                    ca,
                    int(comparison.sum()),
                )
            )
    plural = f"{unit}s"
    if stacks:
        result.comparison_teams = len(np.unique(np.concatenate([s.comparison for s in stacks])))
    try:
        result.did = stacked_did(stacks)
    except TooFewToCompare as refused:
        result.missing.append(
            f"At least two trained {plural} with {minimum}+ responses before and after "
            f"training, and two untrained {plural} to compare with, are needed; found "
            f"{len(result.teams)} trained ({refused})."
        )
    if week_stacks:
        _week_by_week(result, week_stacks, np.array(paths), plural, ramp_days, panel.period_days)
    if correlate:
        _exposure_correlation(result, panel, trained_at, never, span, exposure, minimum)
    return result


@contextlib.contextmanager
def _quiet_nan_means() -> Iterator[None]:
    """numpy warns on the mean of an all-NaN slice; here that is an expected 'no value'."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _week_by_week(
    result: Impact,
    stacks: list[Stack],
    paths: np.ndarray,
    plural: str,
    ramp_days: int,
    period_days: int,
) -> None:
    """The mean effect by week with its team-level jackknife interval (as for the main
    estimate: a team is left out of every stack at once), the durability verdict from the
    same leave-one-out estimates, and the pre-trend check on the weeks before training."""
    effects = stacked_effects(stacks)
    estimates: dict[int, Estimate] = {}
    for k in range(len(effects.effect)):
        if effects.trained[k] < 2:
            continue
        present = effects.present[:, k]
        estimate = jackknife(float(effects.effect[k]), effects.leave_one_out[present, k])
        if estimate is None:
            continue
        estimates[k - WEEKS_BEFORE] = estimate
        result.weeks.append(
            WeekEffect(
                k - WEEKS_BEFORE,
                estimate.value,
                estimate.low,
                estimate.high,
                int(effects.trained[k]),
            )
        )
    # The first full weeks after training (after the ramp-up), and the last weeks of the view.
    first = -(-ramp_days // 7) + (1 if period_days > 1 else 0)
    result.durability = durability(
        effects, range(first, first + EARLY_WEEKS), range(WEEKS_AFTER - LATE_WEEKS, WEEKS_AFTER)
    )
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
        change = float(va[i] - vb[i])
        result.exposure_points.append(ExposurePoint(unit_id, exposure.get(unit_id, 0.0), change))
    xs = [p.exposure for p in result.exposure_points]
    ys = [p.change for p in result.exposure_points]
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
    metric, measure = METRICS[panel.metric], panel.measure
    out = []
    for i, unit_id in enumerate(panel.units):
        counts = [int(v) for v in sums[:, i]]
        n = counts[RESPONSES]
        if n == 0:
            continue
        figure = measure.interval(counts) if measure.interval else None
        shares = tuple(counts[f] / n for f in metric.breakdown) if metric.breakdown else None
        out.append(TeamSummary(unit_id, n, counts[SCORE_SUM] / n, figure, shares))
    return out
