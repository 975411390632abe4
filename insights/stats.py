"""Training-impact statistics: plain functions over arrays (NumPy), no database, no Flask.

The analysis reads per-team aggregates (responses, sums, top-two-box counts, promoters,
detractors), never raw survey rows. Every estimate comes with its uncertainty, and functions
that cannot give an honest number return ``None`` with a reason instead.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

Z95 = 1.959963984540054  # the 97.5% quantile of the standard normal


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float


# -- metrics with their uncertainty ----------------------------------------------------------


def csat_percent(top_two_box: int, responses: int) -> Interval | None:
    """CSAT % (share of 4s and 5s) with a Wilson 95% interval."""
    if responses <= 0:
        return None
    p = top_two_box / responses
    z2 = Z95**2
    centre = (p + z2 / (2 * responses)) / (1 + z2 / responses)
    half = Z95 * math.sqrt(p * (1 - p) / responses + z2 / (4 * responses**2)) / (1 + z2 / responses)
    return Interval(100 * p, 100 * (centre - half), 100 * (centre + half))


def nps(promoters: int, detractors: int, responses: int) -> Interval | None:
    """NPS with the normal-approximation interval from its standard error
    ``100·sqrt((p + d - (p - d)²)/n)``."""
    if responses <= 0:
        return None
    p, d = promoters / responses, detractors / responses
    value = 100 * (p - d)
    se = 100 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / responses)
    return Interval(value, value - Z95 * se, value + Z95 * se)


def nps_standard_error(promoters: int, detractors: int, responses: int) -> float:
    p, d = promoters / responses, detractors / responses
    return 100 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / responses)


# -- difference in differences ---------------------------------------------------------------


@dataclass(frozen=True)
class DiD:
    """Change in trained teams minus change in comparison teams, with a 95% interval from the
    delete-one-team jackknife (see ``stacked_effects``). ``comparison`` counts the distinct
    comparison teams; ``teams`` every team that entered the estimate (the clusters)."""

    effect: float
    low: float
    high: float
    trained: int
    comparison: int
    trained_change: float
    comparison_change: float
    se: float = math.nan
    df: float = math.nan
    teams: int = 0


@dataclass(frozen=True)
class Stack:
    """One training date: the units trained on it and those not trained by the end of its
    after-window, each with its value in the window before and its value(s) after (one column
    per after-period; NaN where a unit has too few responses). ``trained`` and ``comparison``
    are unit numbers: the same unit may be a comparison in several stacks and trained in one."""

    trained: np.ndarray
    trained_before: np.ndarray
    trained_after: np.ndarray  # (trained, periods)
    comparison: np.ndarray
    comparison_before: np.ndarray
    comparison_after: np.ndarray  # (comparison, periods)


@dataclass(frozen=True)
class StackedEffects:
    """The stacked effect per after-period, and the same with each unit left out in turn."""

    effect: np.ndarray  # (periods,)
    leave_one_out: np.ndarray  # (units, periods)
    units: np.ndarray  # the unit numbers, in the order of ``leave_one_out``'s rows
    trained: np.ndarray  # (periods,): trained units measured in that period
    present: np.ndarray  # (units, periods): the unit was measured there (it is a cluster)


# What ``stacked_effects`` sums per stack and period, on the first axis of its arrays: the
# trained units' sum of changes and how many were measured; the comparison units' sum of after
# values, how many were measured, their sum of before values and how many there are.
STACK_SUMS = ("t_change", "t_seen", "c_after", "c_seen", "c_before", "c_count")
T_CHANGE, T_SEEN, C_AFTER, C_SEEN, C_BEFORE, C_COUNT = range(len(STACK_SUMS))


def stacked_effects(stacks: Sequence[Stack], block_cells: int = 2_000_000) -> StackedEffects:
    """Per after-period: the mean over trained units of (after - before) minus, for each,
    the mean (after) - mean (before) of its stack's comparison units, where measured. The
    same with every unit left out in turn, across every stack it appears in (so a team that
    is a comparison for many training dates, and later trained itself, is left out of all of
    them at once): that is what makes the jackknife a team-level (cluster) one.

    Each stack is reduced to a few sums; leaving a unit out subtracts its own share from the
    sums of the stacks it is in, so all the leave-one-out estimates cost one pass over the
    stacks (in blocks of units, to keep memory bounded with tens of thousands of agents)."""
    periods = stacks[0].trained_after.shape[1]
    units = np.unique(np.concatenate([np.concatenate([s.trained, s.comparison]) for s in stacks]))
    # Per stack and period, the sums named by ``STACK_SUMS`` (on the first axis).
    sums = np.zeros((len(STACK_SUMS), len(stacks), periods))
    parts = []
    for i, s in enumerate(stacks):
        t_seen = ~np.isnan(s.trained_after)
        t_change = np.where(t_seen, s.trained_after - s.trained_before[:, None], 0.0)
        c_seen = ~np.isnan(s.comparison_after)
        c_after = np.where(c_seen, s.comparison_after, 0.0)
        c_before = np.broadcast_to(s.comparison_before[:, None], c_after.shape)
        ones = np.ones_like(c_after)
        own = (
            (np.searchsorted(units, s.trained), t_change, t_seen.astype(float)),
            (np.searchsorted(units, s.comparison), c_after, c_seen.astype(float), c_before, ones),
        )
        parts.append(own)
        sums[T_CHANGE, i], sums[T_SEEN, i] = t_change.sum(axis=0), t_seen.sum(axis=0)
        sums[C_AFTER, i], sums[C_SEEN, i] = c_after.sum(axis=0), c_seen.sum(axis=0)
        sums[C_BEFORE, i], sums[C_COUNT, i] = c_before.sum(axis=0), float(len(s.comparison))
    effect = _combine(sums)
    trained = np.where(sums[C_SEEN] > 0, sums[T_SEEN], 0).sum(axis=0)
    leave_one_out = np.empty((len(units), periods))
    present = np.zeros((len(units), periods), bool)
    for (t_pos, _, t_seen), (c_pos, _, c_seen, _, _) in parts:
        present[t_pos] |= t_seen > 0
        present[c_pos] |= c_seen > 0
    block = max(1, block_cells // max(1, len(stacks) * periods))
    for start in range(0, len(units), block):
        stop = min(start + block, len(units))
        out = np.repeat(sums[:, None], stop - start, axis=1)  # (sums, block, stacks, periods)
        for i, ((t_pos, t_change, t_seen), (c_pos, c_after, c_seen, c_before, ones)) in enumerate(
            parts
        ):
            t_in = (t_pos >= start) & (t_pos < stop)
            out[T_CHANGE, t_pos[t_in] - start, i] -= t_change[t_in]
            out[T_SEEN, t_pos[t_in] - start, i] -= t_seen[t_in]
            c_in = (c_pos >= start) & (c_pos < stop)
            rows = c_pos[c_in] - start
            out[C_AFTER, rows, i] -= c_after[c_in]
            out[C_SEEN, rows, i] -= c_seen[c_in]
            out[C_BEFORE, rows, i] -= c_before[c_in]
            out[C_COUNT, rows, i] -= ones[c_in]
        leave_one_out[start:stop] = _combine(out)
    return StackedEffects(effect, leave_one_out, units, trained, present)


def _combine(sums: np.ndarray) -> np.ndarray:
    """The stacked effect from the per-stack sums (stacks on the second-to-last axis)."""
    t_change, t_seen, c_after, c_seen, c_before, c_count = sums  # in ``STACK_SUMS`` order
    with np.errstate(invalid="ignore", divide="ignore"):
        kept = (c_seen > 0) & (c_count > 0)
        steady = np.where(kept, c_after / c_seen - c_before / c_count, 0.0)
        numerator = np.where(kept, t_change - t_seen * steady, 0.0).sum(axis=-2)
        denominator = np.where(kept, t_seen, 0.0).sum(axis=-2)
        return np.where(denominator > 0, numerator / denominator, np.nan)


@dataclass(frozen=True)
class Estimate:
    value: float
    se: float
    df: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


@functools.lru_cache(maxsize=4096)
def _t_quantile(q: float, df: float) -> float:
    """Cached: SciPy's quantile costs about a millisecond, and a report asks for the same few."""
    return float(scipy_stats.t.ppf(q, df))


def jackknife(value: float, leave_one_out: np.ndarray, level: float = 0.95) -> Estimate | None:
    """The delete-one-cluster jackknife variance (MacKinnon, Nielsen and Webb's CV3:
    (G - 1)/G times the sum of squared deviations of the G leave-one-out estimates from their
    mean) with a t interval on G - 1 degrees of freedom. None when some leave-one-out estimate
    is undefined (a unit without which nothing could be compared) or G < 3."""
    loo = np.asarray(leave_one_out, float)
    g = len(loo)
    if g < 3 or np.isnan(loo).any() or math.isnan(value):
        return None
    variance = (g - 1) / g * float(((loo - loo.mean()) ** 2).sum())
    se = math.sqrt(variance)
    df = float(g - 1)
    half = _t_quantile(0.5 + level / 2, df) * se
    return Estimate(value, se, df, value - half, value + half)


class TooFewToCompare(ValueError):
    """The data cannot give an honest interval; the message says what is missing."""


def stacked_did(stacks: Sequence[Stack]) -> DiD:
    """The stacked difference in differences over the windows of each stack (one after-period
    per stack) with its team-level jackknife interval.

    Why this interval: the same comparison team serves many training dates (and a team's
    window before its own training overlaps its after-windows as a comparison), so the
    stacks are not independent. The bootstrap used before resampled the trained rows and
    the per-stack comparison means as if they were, and so missed the comparison teams'
    own variation and its correlation across stacks: in simulated organisations its "95%"
    interval covered the truth in 86-89% of runs. Leaving each team out of every stack at
    once keeps that dependence; the delete-one-cluster jackknife (CV3) with a t(G - 1)
    critical value is the variant that keeps its level best with few clusters (MacKinnon,
    Nielsen and Webb, 2023), needs no random draws (the same data always give the same
    interval) and costs one pass over the stacks. ``bench/impact_coverage.py`` measures its
    coverage (``docs/benchmarks.md``).

    The point estimate is computed exactly as before (rows of trained before/after, each
    with its stack's comparison means), so it is unchanged to the last bit."""
    if not stacks:
        raise TooFewToCompare("no training date has trained and comparison teams")
    tb = np.concatenate([s.trained_before for s in stacks])
    ta = np.concatenate([s.trained_after[:, 0] for s in stacks])
    cb = np.concatenate(
        [np.full(len(s.trained), float(s.comparison_before.mean())) for s in stacks]
    )
    ca = np.concatenate(
        [np.full(len(s.trained), float(s.comparison_after[:, 0].mean())) for s in stacks]
    )
    comparison_units = np.unique(np.concatenate([s.comparison for s in stacks]))
    if len(tb) < 2 or len(comparison_units) < 2:
        raise TooFewToCompare(
            f"at least two trained and two comparison teams are needed; found {len(tb)} "
            f"and {len(comparison_units)}"
        )
    trained_change, comparison_change = ta - tb, ca - cb
    effect = float(trained_change.mean() - comparison_change.mean())
    effects = stacked_effects(stacks)
    interval = jackknife(effect, effects.leave_one_out[effects.present[:, 0], 0])
    if interval is None:
        raise TooFewToCompare("leaving out one team leaves nothing to compare")
    return DiD(
        effect,
        interval.low,
        interval.high,
        len(tb),
        len(comparison_units),
        float(trained_change.mean()),
        float(comparison_change.mean()),
        interval.se,
        interval.df,
        len(effects.units),
    )


def difference_in_differences(
    trained_before: Sequence[float],
    trained_after: Sequence[float],
    comparison_before: Sequence[float],
    comparison_after: Sequence[float],
) -> DiD:
    """Two groups of different teams measured over the same windows: one stack of
    ``stacked_did``."""
    tb, ta = np.asarray(trained_before, float), np.asarray(trained_after, float)
    cb, ca = np.asarray(comparison_before, float), np.asarray(comparison_after, float)
    if len(tb) != len(ta) or len(cb) != len(ca) or min(len(tb), len(cb)) < 2:
        raise ValueError("each group needs at least two teams with before and after values")
    trained = np.arange(len(tb))
    return stacked_did(
        [Stack(trained, tb, ta[:, None], len(tb) + np.arange(len(cb)), cb, ca[:, None])]
    )


def bootstrap_means(
    values: np.ndarray, resamples: int, rng: np.random.Generator, block_cells: int = 4_000_000
) -> np.ndarray:
    """Column means (ignoring NaN) of ``resamples`` resamples of the rows of ``values`` (rows x
    columns), drawn with replacement. Each resample is a vector of how often each row was
    drawn, so a block of resamples is one matrix product; blocks keep memory small when there
    are tens of thousands of rows (agents)."""
    n = len(values)
    seen = ~np.isnan(values)
    filled = np.where(seen, values, 0.0)
    out = np.empty((resamples, values.shape[1]))
    block = max(1, block_cells // n)
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        counts = rng.multinomial(n, np.full(n, 1 / n), size=size).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + size] = (counts @ filled) / (counts @ seen)
    return out


@dataclass(frozen=True)
class PreTrend:
    """Whether trained and comparison teams moved alike before training."""

    difference: float  # mean slope of (trained - comparison), metric units per period
    p_value: float
    teams: int
    parallel: bool


def pre_trend_check(
    differences: np.ndarray | Sequence[Sequence[float]], alpha: float = 0.05
) -> PreTrend:
    """Teams x pre-training periods of (trained value - its comparison's value). Each team's
    least-squares slope over the periods; a one-sample t-test of the slopes against 0. A small
    p-value means the two groups were already drifting apart before training."""
    d = np.asarray(differences, float)
    x = np.arange(d.shape[1], dtype=float)
    slopes = np.polyfit(x, d.T, 1)[0]
    if np.allclose(slopes, slopes[0], rtol=0, atol=1e-12):  # no spread: the t-test is undefined
        p_value = 1.0 if abs(slopes[0]) < 1e-12 else 0.0
    else:
        p_value = float(scipy_stats.ttest_1samp(slopes, 0.0).pvalue)
    return PreTrend(float(slopes.mean()), p_value, len(slopes), p_value >= alpha)


# -- correlation across teams ----------------------------------------------------------------


@dataclass(frozen=True)
class Correlation:
    method: str  # pearson | spearman
    r: float
    low: float
    high: float
    p_value: float
    n: int


def correlation(
    x: Sequence[float], y: Sequence[float], method: str = "pearson"
) -> Correlation | None:
    """Pearson or Spearman correlation with a 95% CI by Fisher's z and the two-sided p-value.
    None with fewer than 4 teams (the interval is undefined)."""
    a, b = np.asarray(x, float), np.asarray(y, float)
    n = len(a)
    if n < 4 or a.std() == 0 or b.std() == 0:
        return None
    if method == "spearman":
        result = scipy_stats.spearmanr(a, b)
        r, p = float(result.statistic), float(result.pvalue)
    else:
        result = scipy_stats.pearsonr(a, b)
        r, p = float(result.statistic), float(result.pvalue)
    z = math.atanh(max(min(r, 0.999999999), -0.999999999))
    half = Z95 / math.sqrt(n - 3)
    return Correlation(method, r, math.tanh(z - half), math.tanh(z + half), p, n)


def fit_line(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line, for the scatter chart."""
    slope, intercept = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    return float(slope), float(intercept)


# -- return on investment --------------------------------------------------------------------


@dataclass(frozen=True)
class ROI:
    percent: float
    low: float
    high: float
    benefit: float


def phillips_roi(effect: Interval | DiD, value_per_point: float, cost: float) -> ROI:
    """Phillips ROI % = (benefit - cost) / cost, with the range implied by the effect's CI."""
    if cost <= 0:
        raise ValueError("the cost must be positive")

    def roi(points: float) -> float:
        return 100 * (points * value_per_point - cost) / cost

    value = effect.effect if isinstance(effect, DiD) else effect.value
    return ROI(roi(value), roi(effect.low), roi(effect.high), value * value_per_point)
