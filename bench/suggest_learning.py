"""Learning from an organisation's graders: the learning curve of a tenant's refit.

A simulated tenant whose graders are one level stricter than the corpus on one skill
(``--skill``, default patience; level 1 stays 1). Only the development part of the corpus is
read (``development_items``: never the sealed part). Each repeat shuffles it and splits it in
three, disjoint:

- a *built-in* model fitted as ``flask assessments suggestions train`` fits it
  (``fit_model``, penalty by inner cross-validation) on ``--base`` conversations the tenant
  never has. The shipped model cannot be the baseline: it was fitted on every development
  conversation, so it has seen the tenant's conversations (with the corpus's levels);
- the tenant's graded conversations, in the order they were graded;
- ``--held-out`` conversations the tenant grades but no model is fitted on.

After 25, 50, 75 and 100 graded conversations the tenant's refit (``refit_on_top``, what
``flask assessments suggestions retrain`` runs) and the built-in model are scored against the
tenant's grades of the held-out conversations: quadratic weighted kappa, mean over repeats
(with the lowest and highest repeat).

    .venv/bin/python bench/suggest_learning.py [--skill patience] [--repeats 5]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence

import numpy as np
from common import revision

STEPS = (25, 50, 75, 100)


def stricter(grades: dict[str, int], skill: str) -> dict[str, int]:
    return {**grades, skill: max(1, grades[skill] - 1)}


def curve(skill: str, repeats: int, base_size: int, held_out: int, seed: int) -> list[str]:
    from assessments.agreement import quadratic_weighted_kappa
    from assessments.suggest_model import LEVELS
    from assessments.suggest_training import development_items, fit_model, levels_of, refit_on_top

    items = development_items()
    needed = base_size + max(STEPS) + held_out
    if len(items) < needed:
        raise SystemExit(f"{len(items)} development conversations; the split needs {needed}")
    rng = random.Random(seed)
    # skill -> step -> kappas over repeats, for the refit and the built-in model
    refit: dict[str, dict[int, list[float]]] = {}
    builtin: dict[str, list[float]] = {}
    for _ in range(repeats):
        order = items[:]
        rng.shuffle(order)
        base_items = order[:base_size]
        tenant = order[base_size : base_size + max(STEPS)]
        test = order[base_size + max(STEPS) : needed]
        base = fit_model(base_items)
        truth = [stricter(e.grades, skill) for e in test]
        base_levels = [levels_of(base, e.transcript) for e in test]
        for s in base.skills:
            human = [g[s] for g in truth]
            builtin.setdefault(s, []).append(
                quadratic_weighted_kappa(human, [b[s] for b in base_levels], LEVELS)
            )
        for step in STEPS:
            graded = tenant[:step]
            model = refit_on_top(
                base,
                [e.transcript for e in graded],
                [stricter(e.grades, skill) for e in graded],
                f"tenant after {step}",
            )
            predicted = [levels_of(model, e.transcript) for e in test]
            for s in base.skills:
                human = [g[s] for g in truth]
                kappa = quadratic_weighted_kappa(human, [p[s] for p in predicted], LEVELS)
                refit.setdefault(s, {}).setdefault(step, []).append(kappa)
    return table(skill, refit, builtin)


def spread(values: Sequence[float]) -> str:
    return f"{np.mean(values):.2f} ({min(values):.2f} to {max(values):.2f})"


def table(
    skill: str, refit: dict[str, dict[int, list[float]]], builtin: dict[str, list[float]]
) -> list[str]:
    others = [s for s in builtin if s != skill]
    lines = [
        f"| graded conversations | {skill}: refit | {skill}: built-in | "
        "other skills (mean): refit | other skills (mean): built-in |",
        "| ---: | --- | --- | ---: | ---: |",
    ]
    rest_builtin = np.mean([np.mean(builtin[s]) for s in others])
    for step in STEPS:
        rest_refit = np.mean([np.mean(refit[s][step]) for s in others])
        lines.append(
            f"| {step} | {spread(refit[skill][step])} | {spread(builtin[skill])} | "
            f"{rest_refit:.2f} | {rest_builtin:.2f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skill", default="patience")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--base", type=int, default=90, help="conversations of the built-in fit")
    parser.add_argument("--held-out", type=int, default=40)
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args(argv)
    print(
        f"{revision()}; graders one level stricter on {args.skill}; "
        f"{args.repeats} repeats; built-in fitted on {args.base}, "
        f"{args.held_out} held out",
        flush=True,
    )
    for line in curve(args.skill, args.repeats, args.base, args.held_out, args.seed):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
