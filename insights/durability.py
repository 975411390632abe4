"""Whether a training effect lasted, from the week-by-week stacked effects around training
(``insights.stats.stacked_effects``): the mean effect over the first weeks measured after
training against the last weeks of the view, each with its team-level jackknife interval, and
a verdict (held, faded or unclear) said only when the data can tell. Pure: NumPy, no database.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from insights.stats import Estimate, StackedEffects, jackknife

WEEKS_BEFORE, WEEKS_AFTER = 6, 12  # the week-by-week view around each team's training
EARLY_WEEKS = LATE_WEEKS = 4  # weeks averaged for "early" and "late" in the durability verdict


@dataclass(frozen=True)
class Durability:
    """Whether the effect lasted: ``held``, ``faded`` or ``unclear``, with the reason."""

    verdict: str
    reason: str
    early: Estimate | None = None  # mean effect over the first weeks measured after training
    late: Estimate | None = None  # over the last weeks of the view
    change: Estimate | None = None  # late - early


def _columns(effects: StackedEffects, weeks: range) -> list[int]:
    """The columns of ``weeks`` (from training) with an effect from two or more units."""
    columns = [w + WEEKS_BEFORE for w in weeks if 0 <= w + WEEKS_BEFORE < len(effects.effect)]
    return [k for k in columns if effects.trained[k] >= 2 and not np.isnan(effects.effect[k])]


def _mean_over(effects: StackedEffects, weeks: range) -> Estimate | None:
    """The mean of the weekly effects over ``weeks`` (from training), with its jackknife."""
    columns = _columns(effects, weeks)
    if not columns:
        return None
    present = effects.present[:, columns].any(axis=1)
    return jackknife(float(effects.effect[columns].mean()), _loo_mean(effects, weeks)[present])


def durability(effects: StackedEffects, early: range, late: range) -> Durability:
    """Held, faded or unclear, said only when the data can tell.

    A verdict needs the early effect to be distinguishable from zero (its 95% interval
    excludes zero) and the change from the early to the late weeks to be beyond its own
    uncertainty: "faded" when the interval of the change lies wholly on the side of a
    shrinking effect; "held" when the late effect's interval still excludes zero and a loss
    of more than half the early effect is ruled out by the change's interval. Anything else
    is "unclear", with the numbers that made it so. (Before, "faded" compared the mean of the
    last weeks with half that of the first weeks, whatever their uncertainty: in simulated
    organisations without any effect it said "faded" in about half the runs.)"""
    span = f"weeks {early.start}-{early.stop - 1}"
    late_span = f"weeks {late.start}-{late.stop - 1}"
    first, last = _mean_over(effects, early), _mean_over(effects, late)
    if first is None or last is None:
        why = f"Too few teams were measured in {span} and {late_span} after training to tell."
        return Durability("unclear", why, first, last)
    present = effects.present[:, _columns(effects, early) + _columns(effects, late)].any(axis=1)
    loo_first = _loo_mean(effects, early)[present]
    loo_last = _loo_mean(effects, late)[present]
    change = jackknife(last.value - first.value, loo_last - loo_first)
    if change is None:
        return Durability("unclear", "The change over time has no interval.", first, last)
    numbers = (
        f"{_signed(first.value)} ({_ci(first)}) in {span}, {_signed(last.value)} ({_ci(last)}) "
        f"in {late_span}; change {_signed(change.value)} ({_ci(change)})"
    )
    sign = 1.0 if first.value > 0 else -1.0
    shrink_low, shrink_high = sorted((sign * change.low, sign * change.high))
    if not first.excludes_zero:
        verdict, why = "unclear", "The early effect is not distinguishable from zero"
    elif shrink_high < 0:
        verdict, why = "faded", "The effect shrank by more than its uncertainty"
    elif sign * last.low > 0 and shrink_low > -0.5 * abs(first.value):
        verdict = "held"
        why = "The effect was still there in the last weeks and a loss of half is ruled out"
    else:
        verdict, why = "unclear", "The change over time is within its uncertainty"
    return Durability(verdict, f"{why}: {numbers}.", first, last, change)


def _loo_mean(effects: StackedEffects, weeks: range) -> np.ndarray:
    return effects.leave_one_out[:, _columns(effects, weeks)].mean(axis=1)


def _signed(value: float) -> str:
    return f"{value:+.2f}"


def _ci(estimate: Estimate) -> str:
    return f"95% CI {estimate.low:+.2f} to {estimate.high:+.2f}"
