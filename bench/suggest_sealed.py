"""The suggestion model on the sealed part of the labelled corpus, and its speed.

The only code that reads ``assessments/corpus/sealed/``: no fitting or tuning ever does
(``assessments.suggest_training.development_items`` refuses it). Run it once, after the model
is final, and record the table in docs/benchmarks.md with the commit.

1. Agreement per skill between the built-in model and the corpus labels: quadratic weighted
   kappa with a 95% bootstrap interval (1,000 resamples over conversations), exact agreement,
   within one level, and the share of suggestions on the most suggested level.
2. Speed: ``--count`` conversations of ``--turns`` turns, stitched from development turns,
   suggested in one process; conversations per second of CPU time (one core).

    .venv/bin/python bench/suggest_sealed.py [--count 2000] [--turns 30]
"""

from __future__ import annotations

import argparse
import json

from common import ROOT, revision
from train_suggest import speed

SEALED = ROOT / "assessments" / "corpus" / "sealed"


def sealed_rows() -> tuple[int, list]:
    from assessments.suggest import suggest
    from assessments.suggest_training import agreement
    from assessments.transcripts import Transcript

    items = [json.loads(p.read_text()) for p in sorted(SEALED.glob("*.json"))]
    suggested = [{s.criterion: s.level for s in suggest(Transcript.from_json(i))} for i in items]
    rows = []
    for skill in ("empathy", "active_listening", "patience", "positive_language", "adaptability"):
        human = [i["grades"][skill] for i in items]
        rows.append(agreement(skill, human, [s[skill] for s in suggested]))
    return len(items), rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=30)
    args = parser.parse_args(argv)
    from assessments.suggest_model import builtin_model
    from assessments.suggest_training import cv_table

    n, rows = sealed_rows()
    about = builtin_model().about
    print(
        f"bench/suggest_sealed.py · {revision()} · model fitted on {about['conversations']} "
        f"development conversations\n"
    )
    print(f"Sealed part: {n} conversations\n")
    for line in cv_table(rows):
        print(line)
    cpu, wall = speed(args.count, args.turns)
    print(
        f"\nSpeed: {args.count} conversations of {args.turns} turns: {cpu:.0f}/s of CPU time "
        f"(one core), {wall:.0f}/s wall clock"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
