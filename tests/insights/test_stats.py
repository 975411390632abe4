"""Training-impact statistics against SciPy and closed forms, on data with a known answer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.stats import binomtest, linregress, ttest_1samp

from insights.stats import (
    DiD,
    correlation,
    csat_percent,
    difference_in_differences,
    fit_line,
    nps,
    nps_standard_error,
    phillips_roi,
    pre_trend_check,
)


def test_wilson_interval_matches_scipy():
    for successes, n in [(81, 100), (0, 12), (12, 12), (437, 1000)]:
        ours = csat_percent(successes, n)
        theirs = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert ours.value == pytest.approx(100 * successes / n, abs=1e-9)
        assert ours.low == pytest.approx(100 * theirs.low, abs=1e-9)
        assert ours.high == pytest.approx(100 * theirs.high, abs=1e-9)
    assert csat_percent(0, 0) is None


def test_nps_and_its_standard_error():
    # 50 promoters, 30 passives, 20 detractors: NPS 30; SE = 100*sqrt((.5+.2-.09)/100) = 7.81.
    result = nps(50, 20, 100)
    se = nps_standard_error(50, 20, 100)
    assert result.value == pytest.approx(30.0, abs=1e-9)
    assert se == pytest.approx(100 * math.sqrt(0.61 / 100), abs=1e-9)
    # The same SE from the variance of per-response scores (+100, 0, -100), independently.
    scores = np.array([100] * 50 + [0] * 30 + [-100] * 20, dtype=float)
    assert se == pytest.approx(scores.std(ddof=0) / math.sqrt(100), abs=1e-9)
    assert result.low == pytest.approx(30 - 1.959963984540054 * se, abs=1e-9)


def test_difference_in_differences_recovers_a_known_effect():
    rng = np.random.default_rng(1)
    teams = 40
    before_t = 70 + rng.normal(0, 3, teams)
    before_c = 70 + rng.normal(0, 3, teams)
    after_t = before_t + 1.0 + 4.0 + rng.normal(0, 1, teams)  # common trend 1 + effect 4
    after_c = before_c + 1.0 + rng.normal(0, 1, teams)
    result = difference_in_differences(before_t, after_t, before_c, after_c)
    expected = (after_t - before_t).mean() - (after_c - before_c).mean()
    assert isinstance(result, DiD) and result.effect == pytest.approx(expected, abs=1e-9)
    assert result.low < 4.0 < result.high and result.high - result.low < 1.5
    assert (result.trained, result.comparison) == (40, 40)
    # The bootstrap interval agrees with the t-interval of the difference of mean changes.
    welch = scipy_stats.ttest_ind(after_t - before_t, after_c - before_c, equal_var=False)
    t_low, t_high = welch.confidence_interval(0.95)
    assert result.low == pytest.approx(t_low, abs=0.15) and result.high == pytest.approx(
        t_high, abs=0.15
    )


def test_few_teams_use_the_wild_bootstrap_and_no_effect_covers_zero():
    rng = np.random.default_rng(4)
    before_t, before_c = rng.normal(70, 2, 6), rng.normal(70, 2, 6)
    after_t, after_c = before_t + rng.normal(0, 1, 6), before_c + rng.normal(0, 1, 6)
    result = difference_in_differences(before_t, after_t, before_c, after_c)
    assert result.low < 0 < result.high
    with pytest.raises(ValueError):
        difference_in_differences([1], [2], [1, 2], [3, 4])


def test_correlation_matches_scipy_and_fisher_z():
    rng = np.random.default_rng(9)
    exposure = rng.uniform(0, 1, 50)
    change = 3 * exposure + rng.normal(0, 1, 50)
    for method, reference in (
        ("pearson", scipy_stats.pearsonr),
        ("spearman", scipy_stats.spearmanr),
    ):
        ours = correlation(exposure, change, method)
        theirs = reference(exposure, change)
        assert ours.r == pytest.approx(theirs.statistic, abs=1e-9)
        assert ours.p_value == pytest.approx(theirs.pvalue, abs=1e-9)
        z, half = math.atanh(ours.r), 1.959963984540054 / math.sqrt(50 - 3)
        assert (ours.low, ours.high) == pytest.approx(
            (math.tanh(z - half), math.tanh(z + half)), abs=1e-9
        )
    pearson = correlation(exposure, change)
    ci = scipy_stats.pearsonr(exposure, change).confidence_interval(0.95)  # also Fisher z
    assert (pearson.low, pearson.high) == pytest.approx((ci.low, ci.high), abs=1e-9)
    assert correlation([1, 2, 3], [1, 2, 4]) is None  # too few teams for an interval


def test_fit_line_and_pre_trends():
    slope, intercept = fit_line([0, 1, 2, 3], [1, 3, 5, 7])
    assert (slope, intercept) == pytest.approx((2.0, 1.0), abs=1e-9)
    periods = np.arange(8)
    rng = np.random.default_rng(2)
    alike = rng.normal(0, 0.3, (20, 8))  # trained minus comparison: no drift
    check = pre_trend_check(alike)
    slopes = [linregress(periods, row).slope for row in alike]
    assert check.difference == pytest.approx(np.mean(slopes), abs=1e-9)
    assert check.p_value == pytest.approx(ttest_1samp(slopes, 0).pvalue, abs=1e-9)
    assert check.parallel and check.teams == 20
    diverging = alike + 1.0 * periods  # the groups drift apart by a point a period
    check = pre_trend_check(diverging)
    assert not check.parallel and check.difference == pytest.approx(1.0, abs=0.1)


def test_phillips_roi_with_the_effects_range():
    effect = DiD(
        effect=4.0,
        low=2.0,
        high=6.0,
        trained=10,
        comparison=10,
        trained_change=5.0,
        comparison_change=1.0,
    )
    roi = phillips_roi(effect, value_per_point=5000, cost=10000)
    assert (roi.percent, roi.low, roi.high) == (100.0, 0.0, 200.0)
    assert roi.benefit == 20000


def test_bootstrap_means_match_scipys_bootstrap_and_skip_missing_values():
    from insights.stats import bootstrap_means

    rng = np.random.default_rng(8)
    values = rng.normal(5.0, 2.0, 400)
    ours = bootstrap_means(values[:, None], 4000, np.random.default_rng(1), block_cells=10_000)
    low, high = np.percentile(ours[:, 0], [2.5, 97.5])
    theirs = scipy_stats.bootstrap(
        (values,), np.mean, n_resamples=4000, method="percentile", random_state=2
    ).confidence_interval
    assert low == pytest.approx(theirs.low, abs=0.03)
    assert high == pytest.approx(theirs.high, abs=0.03)
    # A missing value is left out of each resample's mean, not counted as zero.
    with_gap = np.column_stack([values, np.where(np.arange(400) % 2 == 0, values, np.nan)])
    draws = bootstrap_means(with_gap, 2000, np.random.default_rng(3))
    assert np.nanmean(draws[:, 1]) == pytest.approx(values[::2].mean(), abs=0.05)


def test_the_jackknife_interval_of_two_groups_by_hand():
    """Trained teams that all changed alike, against comparison teams that did not: leaving
    each team out in turn (CV3 jackknife, t on G - 1 degrees of freedom), by hand."""
    trained_change = 5.0
    comparison_changes = np.array([1.0, -2.0, 0.5, 3.0, -1.5])
    tb = np.array([70.0, 60.0, 80.0])
    cb = np.array([65.0, 66.0, 67.0, 68.0, 69.0])
    result = difference_in_differences(tb, tb + trained_change, cb, cb + comparison_changes)
    effect = trained_change - comparison_changes.mean()
    # Leaving a trained team out changes nothing; leaving comparison j out:
    loo = [effect] * 3 + [
        trained_change - np.delete(comparison_changes, j).mean() for j in range(5)
    ]
    g = len(loo)
    se = math.sqrt((g - 1) / g * ((np.array(loo) - np.mean(loo)) ** 2).sum())
    t = scipy_stats.t.ppf(0.975, g - 1)
    assert result.effect == pytest.approx(effect, abs=1e-12)
    assert (result.low, result.high) == pytest.approx((effect - t * se, effect + t * se), abs=1e-9)
    assert result.se == pytest.approx(se, abs=1e-12) and result.df == g - 1
    # Closed form: leaving comparison j out moves the estimate by (c_j - mean c)/(m - 1), so
    # the variance is (G - 1)/G * m/(m - 1) * s_c^2/m, the usual s_c^2/m scaled.
    s_c = comparison_changes.std(ddof=1)
    assert se == pytest.approx(s_c / math.sqrt(5) * math.sqrt((g - 1) / g * 5 / 4), abs=1e-12)
    assert result.comparison == 5 and result.trained == 3


def test_stacked_effects_leave_a_team_out_of_every_stack_it_is_in():
    """Two training dates sharing comparison teams, one of which is trained later: the
    leave-one-out estimates equal the estimator recomputed without that team, by hand."""
    from insights.stats import Stack, stacked_did, stacked_effects

    def estimate(stacks):  # the stacked DiD, written out directly
        rows = []
        for trained, tb, ta, comp, cb, ca in stacks:
            if not comp:
                continue
            c_change = np.mean([ca[j] for j in comp]) - np.mean([cb[j] for j in comp])
            rows += [(ta[i] - tb[i]) - c_change for i in trained]
        return np.mean(rows)

    rng = np.random.default_rng(7)
    before, after = rng.normal(70, 3, (2, 7)), rng.normal(72, 3, (2, 7))
    # Stack 0: units 0, 1 trained; comparisons 2, 3, 4, 5 (5 is trained in stack 1).
    # Stack 1: units 5, 6 trained; comparisons 2, 3, 4.
    plan = [([0, 1], [2, 3, 4, 5]), ([5, 6], [2, 3, 4])]

    def stacks_without(left_out):
        return [
            (
                [i for i in t if i != left_out],
                before[s],
                after[s],
                [j for j in c if j != left_out],
                before[s],
                after[s],
            )
            for s, (t, c) in enumerate(plan)
        ]

    stacks = [
        Stack(
            np.array(t),
            before[s, t],
            after[s, t][:, None],
            np.array(c),
            before[s, c],
            after[s, c][:, None],
        )
        for s, (t, c) in enumerate(plan)
    ]
    effects = stacked_effects(stacks, block_cells=3)  # several blocks of units
    assert list(effects.units) == list(range(7))
    assert effects.effect[0] == pytest.approx(estimate(stacks_without(None)), abs=1e-12)
    for unit in range(7):
        expected = estimate(stacks_without(unit))
        assert effects.leave_one_out[unit, 0] == pytest.approx(expected, abs=1e-12)
    did = stacked_did(stacks)
    assert did.effect == pytest.approx(estimate(stacks_without(None)), abs=1e-12)
    assert did.trained == 4 and did.comparison == 4 and did.teams == 7
