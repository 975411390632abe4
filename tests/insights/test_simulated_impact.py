"""The impact statistics on simulated organisations (``insights.simulate``): the interval keeps
its promise and "faded" is not said of an effect that was never there. A few dozen runs here
on every CI run (a gross check, seconds); ``bench/impact_coverage.py`` runs hundreds and
``docs/benchmarks.md`` records them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from insights.effects import Panel, impact
from insights.simulate import Organisation, simulate, slope


def analyse(sim, **options):
    panel = Panel.from_rows(sim.metric, sim.rows, period_days=7)
    return impact(sim.metric, panel, sim.trained_on, sim.exposure, correlate=False, **options)


def test_without_an_effect_the_interval_covers_zero_and_nothing_is_said_to_fade():
    org = Organisation(teams=24)
    runs = [analyse(simulate(org, "csat", seed)) for seed in range(40)]
    covered = sum(r.did.low <= 0 <= r.did.high for r in runs)
    faded = sum(r.lasting == "faded" for r in runs)
    # 95% expected: 34 of 40 is three binomial standard deviations below. The old verdict
    # said "faded" in about half of such runs.
    assert covered >= 34, covered
    assert faded <= 3, faded


def test_the_interval_is_each_team_left_out_of_the_data_in_turn():
    """Independently: drop each team's rows and training date, run the whole analysis again,
    and build the CV3 jackknife interval by hand from those estimates."""
    sim = simulate(Organisation(teams=10, effect=0.03), "csat", seed=3)
    result = analyse(sim)
    assert result.did is not None and result.did.teams == 10

    def without(team):
        rows = sim.rows[sim.rows[:, 0] != team]
        kept = {t: d for t, d in sim.trained_on.items() if t != team}
        return analyse(type(sim)(sim.metric, rows, kept, {}, 0.0, sim.measure))

    reruns = [without(team) for team in range(10)]
    loo = np.array([r.did.effect for r in reruns])
    se = math.sqrt(9 / 10 * ((loo - loo.mean()) ** 2).sum())
    half = scipy_stats.t.ppf(0.975, 9) * se
    assert result.did.low == pytest.approx(result.did.effect - half, abs=1e-9)
    assert result.did.high == pytest.approx(result.did.effect + half, abs=1e-9)
    # The point estimate, by hand from the per-team rows (each with its date's comparison).
    by_hand = np.mean(
        [(t.after - t.before) - (t.comparison_after - t.comparison_before) for t in result.teams]
    )
    assert result.did.effect == pytest.approx(by_hand, abs=1e-12)
    # The same for the first week-by-week effect after training.
    week = next(w for w in result.weeks if w.week == 2)
    loo_week = np.array([next(w.effect for w in r.weeks if w.week == 2) for r in reruns])
    g = len(loo_week)
    se_week = math.sqrt((g - 1) / g * ((loo_week - loo_week.mean()) ** 2).sum())
    half_week = scipy_stats.t.ppf(0.975, g - 1) * se_week
    assert (week.low, week.high) == pytest.approx(
        (week.effect - half_week, week.effect + half_week), abs=1e-9
    )


def test_a_planted_effect_is_recovered_in_every_measure():
    org = Organisation(teams=60, effect=0.06)
    for metric, csat_as in (("csat", "top2"), ("csat", "mean"), ("nps", "top2"), ("ces", "top2")):
        sim = simulate(org, metric, seed=11, csat_as=csat_as)
        result = analyse(sim, csat_as=csat_as)
        truth = 0.06 * slope(metric, csat_as)
        assert sim.true_effect == pytest.approx(truth)
        assert result.did.low < truth < result.did.high, (metric, csat_as, result.did)
        assert result.did.low > 0
    assert slope("csat", "mean") == pytest.approx(2.35)  # 4.55 - 2.2 on the 1-5 scale
