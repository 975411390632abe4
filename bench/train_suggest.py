"""Fit the built-in suggestion model on the development part of the labelled corpus, write
``assessments/suggest_model.json`` and print the nested cross-validation table (the same as
``flask assessments suggestions train``, without needing the app). The sealed part is never
read: ``bench/suggest_sealed.py`` alone reads it.

``--speed COUNT`` measures instead (nothing is fitted or written): COUNT conversations of
``--turns`` turns stitched from development turns, suggested in one process, in conversations
per second of CPU time (one core); the anchor, in the same run and alternating with ours, is
VADER's full rule engine (``polarity_scores``) over every turn of the same conversations.

    .venv/bin/python bench/train_suggest.py [--repeats 5] [--no-cv]
    .venv/bin/python bench/train_suggest.py --speed 1000 [--turns 30] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from common import ROOT, revision

sys.path.insert(0, str(ROOT))


def stitched(count: int, turns: int, seed: int = 5) -> list:
    """``count`` conversations of ``turns`` turns, customer and agent turns drawn from the
    development part (never the sealed part), each on a random channel."""
    from assessments.suggest_training import development_items
    from assessments.transcripts import Transcript

    rng = random.Random(seed)
    pool = [t for item in development_items() for t in item.transcript.turns]
    agent = [t for t in pool if t.speaker == "agent"]
    customer = [t for t in pool if t.speaker == "customer"]
    return [
        Transcript(
            [rng.choice(customer if n % 2 == 0 else agent) for n in range(turns)],
            rng.choice(["chat", "call", "email"]),
        )
        for _ in range(count)
    ]


def speed(count: int, turns: int, seed: int = 5) -> tuple[float, float]:
    """Suggestions for ``count`` stitched conversations: per second of CPU time and of wall
    clock."""
    from assessments.suggest import suggest
    from assessments.transcripts import Transcript, Turn

    built = stitched(count, turns, seed)
    suggest(Transcript([Turn("agent", "Hello")]))  # loads the model and the VADER lexicon
    started, wall = time.process_time(), time.perf_counter()
    for transcript in built:
        suggest(transcript)
    return count / (time.process_time() - started), count / (time.perf_counter() - wall)


def speed_against_anchor(count: int, turns: int, rounds: int) -> list[str]:
    """Ours and the anchor alternately, ``rounds`` times, on the same conversations."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from assessments.suggest import suggest
    from assessments.transcripts import Transcript, Turn

    built = stitched(count, turns)
    vader = SentimentIntensityAnalyzer()
    suggest(Transcript([Turn("agent", "Hello")]))

    def ours() -> float:
        started = time.process_time()
        for transcript in built:
            suggest(transcript)
        return count / (time.process_time() - started)

    def anchor() -> float:
        started = time.process_time()
        for transcript in built:
            for turn in transcript.turns:
                vader.polarity_scores(turn.text)
        return count / (time.process_time() - started)

    lines = [
        f"{revision()}; {count} conversations of {turns} turns, CPU time (one core)",
        "",
        "| round | ours (conversations/s) | anchor: VADER, every turn (conversations/s) | ratio |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for n in range(1, rounds + 1):
        a, b = ours(), anchor()
        lines.append(f"| {n} | {a:.0f} | {b:.0f} | {a / b:.2f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    from assessments.suggest_training import train

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-cv", action="store_true")
    parser.add_argument("--speed", type=int, metavar="COUNT", help="measure speed only")
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if args.speed:
        for line in speed_against_anchor(args.speed, args.turns, args.rounds):
            print(line, flush=True)
        return 0
    for line in train(cv=not args.no_cv, repeats=args.repeats):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
