"""Agreement statistics against independent computations and textbook values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from assessments.agreement import (
    Estimate,
    icc_2_1,
    kappa_with_ci,
    krippendorff_alpha,
    quadratic_weighted_kappa,
    significant,
)

LEVELS = [1, 2, 3, 4]


def test_quadratic_kappa_matches_scikit_learn():
    rng = np.random.default_rng(3)
    truth = rng.integers(1, 5, 200)
    noisy = np.clip(truth + rng.integers(-1, 2, 200), 1, 4)
    ours = quadratic_weighted_kappa(list(truth), list(noisy), LEVELS)
    assert ours == pytest.approx(cohen_kappa_score(truth, noisy, weights="quadratic"), abs=1e-12)
    assert 0.5 < ours < 1


def test_kappa_extremes():
    assert quadratic_weighted_kappa([1, 2, 3, 4], [1, 2, 3, 4], LEVELS) == 1.0
    reversed_ = quadratic_weighted_kappa([1, 2, 3, 4], [4, 3, 2, 1], LEVELS)
    assert reversed_ == pytest.approx(-1.0)


def test_kappa_interval_contains_the_estimate():
    rng = np.random.default_rng(5)
    a = rng.integers(1, 5, 80)
    b = np.clip(a + rng.integers(-1, 2, 80), 1, 4)
    estimate = kappa_with_ci(list(a), list(b), LEVELS, resamples=300)
    assert estimate.low <= estimate.value <= estimate.high and estimate.n == 80


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4 observers x 12 units
# example with missing values: alpha = 0.743 nominal, 0.815 ordinal, 0.849 interval.
N = None
KRIPPENDORFF_EXAMPLE = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]


@pytest.mark.parametrize(
    ("level", "expected"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)]
)
def test_alpha_matches_krippendorffs_worked_example(level, expected):
    assert krippendorff_alpha(KRIPPENDORFF_EXAMPLE, level) == pytest.approx(expected, abs=0.0005)


def test_icc_matches_shrout_and_fleiss():
    # Shrout & Fleiss (1979), Table 2: six targets rated by four judges; ICC(2,1) = 0.29.
    ratings = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    assert icc_2_1(ratings) == pytest.approx(0.29, abs=0.005)


@pytest.mark.parametrize(
    "value", [0.0127, 0.012380952, 0.69, 0.8, 1.0, -0.2058, 0.0996, 0.99999, -0.0049, 0.000123]
)
def test_agreement_reads_to_two_significant_figures(value):
    """0.0127 is not "0.01" (which reads as no agreement at all): two significant figures, as
    Python's own "#.2g" gives them in this range."""
    assert significant(value) == format(value, "#.2g")


def test_an_estimate_shows_its_interval_and_a_missing_bound_as_a_dash():
    estimate = Estimate(0.0127, -0.2449, 0.3861, 15)
    assert (estimate.shown, estimate.interval) == ("0.013", "95% CI -0.24 to 0.39")
    assert Estimate(1.0, float("nan"), float("nan"), 2).interval == "95% CI — to —"
