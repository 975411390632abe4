"""Training-impact statistics: plain functions over arrays (NumPy), no database, no Flask.

The analysis reads per-team aggregates (responses, sums, top-two-box counts, promoters,
detractors), never raw survey rows. Every estimate comes with its uncertainty, and functions
that cannot give an honest number return ``None`` with a reason instead.
"""

from __future__ import annotations

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
    """Change in trained teams minus change in comparison teams, with a cluster-bootstrap CI
    (teams resampled within each group)."""

    effect: float
    low: float
    high: float
    trained: int
    comparison: int
    trained_change: float
    comparison_change: float


def difference_in_differences(
    trained_before: Sequence[float],
    trained_after: Sequence[float],
    comparison_before: Sequence[float],
    comparison_after: Sequence[float],
    *,
    resamples: int = 2000,
    seed: int = 17,
    wild: bool | None = None,
) -> DiD:
    """Team-level means before and after (equal windows). With fewer than 30 teams in all the
    interval comes from a wild cluster bootstrap (Rademacher weights on team residuals),
    otherwise from resampling teams."""
    tb, ta = np.asarray(trained_before, float), np.asarray(trained_after, float)
    cb, ca = np.asarray(comparison_before, float), np.asarray(comparison_after, float)
    if len(tb) != len(ta) or len(cb) != len(ca) or min(len(tb), len(cb)) < 2:
        raise ValueError("each group needs at least two teams with before and after values")
    trained_change, comparison_change = ta - tb, ca - cb
    effect = float(trained_change.mean() - comparison_change.mean())
    rng = np.random.default_rng(seed)
    use_wild = (len(tb) + len(cb) < 30) if wild is None else wild
    if use_wild:
        # Residuals around each group's mean change, flipped at random per team (the null of
        # no effect is not imposed: this is an interval, not a test).
        rt = trained_change - trained_change.mean()
        rc = comparison_change - comparison_change.mean()
        signs_t = rng.choice([-1.0, 1.0], size=(resamples, len(rt)))
        signs_c = rng.choice([-1.0, 1.0], size=(resamples, len(rc)))
        draws = effect + (signs_t * rt).mean(axis=1) - (signs_c * rc).mean(axis=1)
    else:
        draws = (
            bootstrap_means(trained_change[:, None], resamples, rng)[:, 0]
            - bootstrap_means(comparison_change[:, None], resamples, rng)[:, 0]
        )
    low, high = np.percentile(draws, [2.5, 97.5])
    return DiD(effect, float(low), float(high), len(tb), len(cb),
               float(trained_change.mean()), float(comparison_change.mean()))  # fmt: skip


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
