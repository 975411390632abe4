"""Agreement between graders (and between the suggestion engine and graders): plain functions
over arrays, with bootstrap confidence intervals. Tested against independent implementations
(scikit-learn's kappa, the ``krippendorff`` package's own examples, textbook ICC values).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import krippendorff
import numpy as np

Ratings = Sequence[Sequence[float | None]]  # raters x items; None = not rated

SCALE = (1, 2, 3, 4)  # the rubric's four ordinal levels
RESAMPLES = 500  # bootstrap draws behind each interval the results and calibration pages show
MIN_RATERS = 2  # agreement needs two graders
MIN_PAIRS = 5  # paired levels (criteria both graded) before a kappa is shown
MIN_ICC_SESSIONS = 3  # sessions every grader graded before the ICC of their totals is shown

Unit = tuple[int, str]  # one criterion of one calibration session
Grid = Mapping[int, Mapping[Unit, int]]  # rater -> unit -> level (first locked levels)


def quadratic_weighted_kappa(a: Sequence[int], b: Sequence[int], levels: Sequence[int]) -> float:
    """Cohen's kappa with quadratic weights for two raters on an ordinal scale."""
    if len(a) != len(b) or not a:
        raise ValueError("two equally long, non-empty lists of ratings are needed")
    index = {level: i for i, level in enumerate(levels)}
    k = len(levels)
    observed = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        observed[index[x], index[y]] += 1
    weights = np.array([[(i - j) ** 2 for j in range(k)] for i in range(k)]) / (k - 1) ** 2
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    disagreement_expected = (weights * expected).sum()
    if disagreement_expected == 0:
        return 1.0
    return float(1 - (weights * observed).sum() / disagreement_expected)


def krippendorff_alpha(ratings: Ratings, level_of_measurement: str = "ordinal") -> float:
    """Krippendorff's alpha for any number of raters, missing ratings allowed."""
    data = np.array([[np.nan if r is None else r for r in row] for row in ratings], dtype=float)
    return float(
        krippendorff.alpha(reliability_data=data, level_of_measurement=level_of_measurement)
    )


def icc_2_1(scores: np.ndarray | Sequence[Sequence[float]]) -> float:
    """ICC(2,1) (Shrout & Fleiss): two-way random effects, absolute agreement, single rater.
    ``scores`` is items x raters, complete."""
    x = np.asarray(scores, dtype=float)
    n, k = x.shape
    grand = x.mean()
    ms_rows = k * ((x.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    ms_cols = n * ((x.mean(axis=0) - grand) ** 2).sum() / (k - 1)
    residual = x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + grand
    ms_error = (residual**2).sum() / ((n - 1) * (k - 1))
    return float(
        (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error + k * (ms_cols - ms_error) / n)
    )


def significant(x: float, figures: int = 2) -> str:
    """``x`` to ``figures`` significant figures, in plain decimals: 0.0127 reads "0.013", not
    a rounded "0.01" that looks like no agreement; 0.8 reads "0.80". Missing is a dash."""
    if not math.isfinite(x):
        return "—"
    if x == 0:
        return "0." + "0" * (figures - 1)
    # Round first, so 0.0996 becomes 0.10 (two figures), not 0.100.
    rounded = float(f"{x:.{figures - 1}e}")
    if rounded == 0:
        return "0." + "0" * (figures - 1)
    decimals = max(0, figures - 1 - math.floor(math.log10(abs(rounded))))
    return f"{rounded:.{decimals}f}"


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    n: int

    @property
    def shown(self) -> str:
        """The value to two significant figures (how agreement is shown everywhere)."""
        return significant(self.value)

    @property
    def interval(self) -> str:
        """The bootstrap interval, to two significant figures."""
        return f"95% CI {significant(self.low)} to {significant(self.high)}"

    @property
    def reading(self) -> str:
        """The usual reading bands for alpha (Krippendorff 2004)."""
        if self.value >= 0.8:
            return "reliable"
        if self.value >= 0.667:
            return "tentative"
        return "unreliable"


def bootstrap(
    statistic: Callable[[np.ndarray], float],
    items: np.ndarray,
    *,
    resamples: int = 1000,
    seed: int = 7,
    confidence: float = 0.95,
) -> Estimate:
    """A percentile bootstrap over items (rows of ``items``)."""
    rng = np.random.default_rng(seed)
    value = statistic(items)
    n = len(items)
    draws = []
    for _ in range(resamples):
        sample = items[rng.integers(0, n, n)]
        try:
            result = statistic(sample)
        except (ValueError, ZeroDivisionError, FloatingPointError):
            continue
        if np.isfinite(result):
            draws.append(result)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail]) if draws else (np.nan, np.nan)
    return Estimate(float(value), float(low), float(high), n)


def kappa_with_ci(a: Sequence[int], b: Sequence[int], levels: Sequence[int], **kw: int) -> Estimate:
    pairs = np.column_stack([a, b])
    return bootstrap(
        lambda p: quadratic_weighted_kappa(list(p[:, 0]), list(p[:, 1]), levels), pairs, **kw
    )


def alpha_with_ci(data: np.ndarray) -> Estimate:
    """Krippendorff's alpha (ordinal) over ``data`` (raters x units, NaN = not rated) with a
    bootstrap interval over the units."""
    return bootstrap(lambda cols: krippendorff_alpha(cols.T.tolist()), data.T, resamples=RESAMPLES)


def grid_alpha(grid: Grid, raters: Sequence[int], units: Sequence[Unit]) -> Estimate | None:
    """Alpha over every unit of the period, missing levels allowed; None under two raters."""
    if len(raters) < MIN_RATERS or not units:
        return None
    return alpha_with_ci(
        np.array([[grid[r].get(u, np.nan) for u in units] for r in raters], dtype=float)
    )


def pair_kappas(
    grid: Grid, raters: Sequence[int], units: Sequence[Unit]
) -> list[tuple[int, int, Estimate]]:
    """Quadratic kappa for each pair of raters over the units both graded (at least
    ``MIN_PAIRS``), in the order of ``raters``."""
    out = []
    for i, first in enumerate(raters):
        for second in raters[i + 1 :]:
            shared = [u for u in units if u in grid[first] and u in grid[second]]
            if len(shared) >= MIN_PAIRS:
                a = [grid[first][u] for u in shared]
                b = [grid[second][u] for u in shared]
                out.append((first, second, kappa_with_ci(a, b, SCALE, resamples=RESAMPLES)))
    return out


def session_totals(
    grid: Grid, raters: Sequence[int], sessions: Mapping[int, Sequence[str]]
) -> list[list[int]]:
    """For each session every rater graded (``sessions``: session -> its criteria), each
    rater's levels summed over its criteria: the sessions x raters table ICC reads."""
    return [
        [sum(grid[r].get((s, c), 0) for c in set(criteria)) for r in raters]
        for s, criteria in sessions.items()
        if all(any((s, c) in grid[r] for c in criteria) for r in raters)
    ]


def totals_icc(totals: Sequence[Sequence[int]], raters: Sequence[int]) -> Estimate | None:
    """ICC(2,1) of the session totals with its interval; None with too few sessions."""
    if len(totals) < MIN_ICC_SESSIONS or len(raters) < MIN_RATERS:
        return None
    return bootstrap(icc_2_1, np.array(totals, dtype=float), resamples=RESAMPLES)


def drift_from_consensus(
    grid: Grid, raters: Sequence[int], sessions: Mapping[int, Sequence[str]]
) -> dict[int, tuple[float, int]]:
    """Each rater's mean distance from the consensus (the median of every rater's level,
    their own included), averaged over the sessions they graded, with that count."""
    out: dict[int, tuple[float, int]] = {}
    for rater in raters:
        deviations = []
        for s, criteria in sessions.items():
            mine = [(s, c) for c in criteria if (s, c) in grid[rater]]
            if not mine:
                continue
            consensus = [
                float(np.median([grid[r][u] for r in raters if u in grid[r]])) for u in mine
            ]
            deviations.append(
                np.mean([abs(grid[rater][u] - m) for u, m in zip(mine, consensus, strict=True)])
            )
        if deviations:
            out[rater] = (float(np.mean(deviations)), len(deviations))
    return out


def paired_kappa(pairs: Sequence[tuple[int, int]]) -> Estimate | None:
    """Kappa of paired levels (e.g. suggested and final) once there are ``MIN_PAIRS``."""
    if len(pairs) < MIN_PAIRS:
        return None
    return kappa_with_ci([p[0] for p in pairs], [p[1] for p in pairs], SCALE, resamples=RESAMPLES)
