"""Fit the built-in suggestion model on the development part of the labelled corpus, write
``assessments/suggest_model.json`` and print the nested cross-validation table (the same as
``flask assessments suggestions train``, without needing the app). The sealed part is never
read: ``bench/suggest_sealed.py`` alone reads it.

    .venv/bin/python bench/train_suggest.py [--repeats 5] [--no-cv]
"""

from __future__ import annotations

import argparse
import sys

from common import ROOT

sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from assessments.suggest_training import train

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-cv", action="store_true")
    args = parser.parse_args(argv)
    for line in train(cv=not args.no_cv, repeats=args.repeats):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
