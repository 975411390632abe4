"""The suggestion engine: its speed, and how far its levels agree with human graders.

1. Agreement: for every hand-graded transcript under ``tests/data/transcripts/labelled/``
   (graded against ``assessments/rubrics/default.yaml``), the engine's suggested level per
   criterion is compared with the human grade: exact agreement, within one level, and
   quadratic-weighted kappa with a 95% bootstrap interval. The set is also split in halves
   (``t01``-``t24`` and the rest) so a reader can see whether the figures hold on the half that
   was not looked at while tuning.
2. Speed: ``--count`` transcripts of about ``--turns`` turns, built by stitching turns of the
   labelled set together, are suggested in one process on one core: transcripts per second,
   and the p50/p99 time for one transcript.

    .venv/bin/python bench/assessments.py
    .venv/bin/python bench/assessments.py --count 10000 --turns 30
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from datetime import UTC, datetime

from common import ROOT, percentile, revision, say, wait_for_quiet_machine

LABELLED = ROOT / "tests" / "data" / "transcripts" / "labelled"


def load_labelled() -> list[dict]:
    files = sorted(LABELLED.glob("*.json"))
    if not files:
        raise SystemExit(f"no labelled transcripts under {LABELLED}")
    return [json.loads(f.read_text()) for f in files]


def agreement(items: list[dict]) -> list[tuple[str, str, float, float, str]]:
    from assessments.agreement import kappa_with_ci
    from assessments.suggest import CRITERIA, suggest
    from assessments.transcripts import Transcript

    suggested = {
        item["id"]: {s.criterion: s.level for s in suggest(Transcript.from_json(item))}
        for item in items
    }
    halves = {
        "all": items,
        "first half": [i for i in items if int(i["id"][1:]) <= 24],
        "second half": [i for i in items if int(i["id"][1:]) > 24],
    }
    rows = []
    for criterion in CRITERIA:
        for label, subset in halves.items():
            if not subset:
                continue
            human = [i["grades"][criterion] for i in subset]
            engine = [suggested[i["id"]][criterion] for i in subset]
            exact = sum(h == e for h, e in zip(human, engine, strict=True)) / len(subset)
            within = sum(abs(h - e) <= 1 for h, e in zip(human, engine, strict=True)) / len(subset)
            kappa = kappa_with_ci(human, engine, [1, 2, 3, 4], resamples=1000)
            rows.append(
                (
                    criterion,
                    label,
                    exact,
                    within,
                    f"{kappa.value:.2f} [{kappa.low:.2f}, {kappa.high:.2f}] (n={kappa.n})",
                )
            )
    return rows


def synthetic(items: list[dict], count: int, turns: int, seed: int = 5) -> list:
    from assessments.transcripts import Transcript, Turn

    rng = random.Random(seed)
    pool = [t for item in items for t in item["turns"]]
    agent = [t for t in pool if t["speaker"] == "agent"]
    customer = [t for t in pool if t["speaker"] == "customer"]
    out = []
    for _ in range(count):
        built = []
        for n in range(turns):
            source = customer if n % 2 == 0 else agent
            turn = rng.choice(source)
            built.append(Turn(turn["speaker"], turn["text"], None))
        out.append(Transcript(turns=built, channel=rng.choice(["chat", "call", "email"])))
    return out


def speed(transcripts: list) -> tuple[float, float, float]:
    from assessments.suggest import suggest

    suggest(transcripts[0])  # loads the VADER lexicon
    timings = []
    started = time.perf_counter()
    for transcript in transcripts:
        begin = time.perf_counter()
        suggest(transcript)
        timings.append(1000 * (time.perf_counter() - begin))
    elapsed = time.perf_counter() - started
    timings.sort()
    return len(transcripts) / elapsed, percentile(timings, 50), percentile(timings, 99)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--wait-quiet", type=float, default=60.0)
    args = parser.parse_args(argv)
    items = load_labelled()
    say(f"{len(items)} labelled transcripts")
    rows = agreement(items)
    transcripts = synthetic(items, args.count, args.turns)
    wait_for_quiet_machine(args.wait_quiet)
    per_second, p50, p99 = speed(transcripts)
    print(f"\nbench/assessments.py · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {revision()}\n")
    print(f"Agreement with human grades ({len(items)} transcripts, levels 1-4)\n")
    print("| criterion | transcripts | exact | within one level | quadratic kappa [95% CI] |")
    print("| --- | --- | ---: | ---: | --- |")
    for criterion, label, exact, within, kappa in rows:
        print(f"| {criterion} | {label} | {exact:.0%} | {within:.0%} | {kappa} |")
    levels = Counter(level for i in items for level in i["grades"].values())
    print(f"\nHuman grades by level: {dict(sorted(levels.items()))}")
    print(f"\nSpeed ({args.count} transcripts of {args.turns} turns, one process):\n")
    print("| transcripts/s | one transcript p50 (ms) | p99 (ms) |")
    print("| ---: | ---: | ---: |")
    print(f"| {per_second:.0f} | {p50:.2f} | {p99:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
