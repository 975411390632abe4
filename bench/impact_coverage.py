"""Does the training-impact interval keep its promise? Coverage and false verdicts over many
simulated organisations (``insights.simulate``), without a database.

For each scenario (an organisation size crossed with no effect, a lasting effect of +4 CSAT
points, or +4 points for four weeks and then none) the bench draws ``--runs`` organisations,
runs the analysis the page runs (weekly panel, 28-day windows, stacked difference in
differences) and counts:

- coverage: how often the 95% interval holds the planted effect (0 without one); for
  comparison, the same for the interval used until this change (a bootstrap resampling
  trained rows and per-stack comparison means independently), re-implemented here;
- the spread of the estimates against the mean standard error the interval claims;
- the durability verdicts: "faded" without any effect is a false verdict (target < 5%), as
  is "faded" for an effect that lasts; the old rule is counted too;
- pre-trend alarms (p < 0.05) where every team moved alike before training.

    .venv/bin/python bench/impact_coverage.py               # 500 runs per scenario
    .venv/bin/python bench/impact_coverage.py --runs 100 --scenarios 40
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from insights.effects import WEEKS_AFTER, Impact, Panel, impact  # noqa: E402
from insights.simulate import Organisation, simulate  # noqa: E402

SIZES = {"12": 12, "40": 40, "200": 200}  # teams
# The planted effects; each row draws organisations of one size (``teams``) with one of them.
EFFECTS = {
    "none": Organisation(effect=0.0),
    "+4 lasting": Organisation(effect=0.04),
    "+4 for 4 weeks": Organisation(effect=0.04, fade_after_weeks=4),
}


def old_interval(result: Impact, resamples: int = 1000, seed: int = 17) -> tuple[float, float]:
    """The interval before this change (insights/stats.py at e97d3a9): one row per trained
    team with its stack's comparison means; a wild bootstrap (Rademacher) on the rows when
    there were fewer than 30 rows in all, else the trained rows and the comparison rows
    resampled independently."""
    tc = np.array([t.after - t.before for t in result.teams])
    cc = np.array([t.comparison_after - t.comparison_before for t in result.teams])
    effect = tc.mean() - cc.mean()
    rng = np.random.default_rng(seed)
    if 2 * len(tc) < 30:
        rt, rc = tc - tc.mean(), cc - cc.mean()
        signs_t = rng.choice([-1.0, 1.0], size=(resamples, len(rt)))
        signs_c = rng.choice([-1.0, 1.0], size=(resamples, len(rc)))
        draws = effect + (signs_t * rt).mean(axis=1) - (signs_c * rc).mean(axis=1)
    else:
        n = len(tc)
        pick_t = rng.integers(0, n, (resamples, n))
        pick_c = rng.integers(0, n, (resamples, n))
        draws = tc[pick_t].mean(axis=1) - cc[pick_c].mean(axis=1)
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(low), float(high)


def old_verdict(result: Impact) -> str:
    """The durability rule before this change: "faded" when the mean of the last four weeks
    was below half that of the first four, whatever their uncertainty."""
    late = [w for w in result.weeks if w.week >= WEEKS_AFTER - 4]
    early = [w for w in result.weeks if 0 <= w.week < 4]
    if not late or not early or result.did is None:
        return "unclear"
    if min(w.low for w in late) > 0:
        return "held"
    if np.mean([w.effect for w in late]) < 0.5 * np.mean([w.effect for w in early]):
        return "faded"
    return "unclear"


def one_run(task: tuple[int, Organisation, int]) -> dict[str, float] | None:
    teams, planted, seed = task
    sim = simulate(replace(planted, teams=teams), "csat", seed)
    panel = Panel.from_rows("csat", sim.rows, period_days=7)
    result = impact("csat", panel, sim.trained_on, sim.exposure, correlate=False)
    if result.did is None:
        return None
    truth = sim.true_effect
    old_low, old_high = old_interval(result)
    return {
        "covered": float(result.did.low <= truth <= result.did.high),
        "old_covered": float(old_low <= truth <= old_high),
        "estimate": result.did.effect,
        "se": result.did.se,
        "width": result.did.high - result.did.low,
        "faded": float(result.lasting == "faded"),
        "held": float(result.lasting == "held"),
        "old_faded": float(old_verdict(result) == "faded"),
        "pre_alarm": float(result.pre_trend is not None and not result.pre_trend.parallel),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=500, help="organisations per scenario")
    parser.add_argument(
        "--scenarios",
        nargs="*",
        default=list(SIZES),
        choices=list(SIZES),
        help="organisation sizes (teams)",
    )
    parser.add_argument("--processes", type=int, default=multiprocessing.cpu_count())
    args = parser.parse_args()
    started = time.perf_counter()
    print(
        f"bench/impact_coverage.py · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · "
        f"{args.runs} organisations per row · CSAT, weekly panel, 28-day windows, half the "
        f"teams trained over weeks 12-24 of 40\n"
    )
    print(
        "| teams | planted effect | runs | coverage (95% CI) | old interval's coverage | "
        'sd of estimates / mean SE | mean CI width | "faded" | "held" | old rule\'s '
        '"faded" | pre-trend alarms |'
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with multiprocessing.Pool(args.processes) as pool:
        for size in args.scenarios:
            for label, planted in EFFECTS.items():
                tasks = [(SIZES[size], planted, seed) for seed in range(args.runs)]
                runs = [r for r in pool.map(one_run, tasks, chunksize=10) if r is not None]
                m = {k: np.array([r[k] for r in runs]) for k in runs[0]}
                cover = m["covered"].mean()
                mc = 1.96 * np.sqrt(cover * (1 - cover) / len(runs))
                print(
                    f"| {SIZES[size]} | {label} | {len(runs)} | {100 * cover:.1f}% "
                    f"(±{100 * mc:.1f}) | {100 * m['old_covered'].mean():.1f}% | "
                    f"{m['estimate'].std() / m['se'].mean():.2f} | {m['width'].mean():.2f} | "
                    f"{100 * m['faded'].mean():.1f}% | {100 * m['held'].mean():.1f}% | "
                    f"{100 * m['old_faded'].mean():.1f}% | "
                    f"{100 * m['pre_alarm'].mean():.1f}% |",
                    flush=True,
                )
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
