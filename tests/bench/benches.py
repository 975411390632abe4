"""The benches the smoke test runs (``test_benches_*.py``), each at a tiny size, and how one is
run and checked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
# A table row whose header names a ratio, or a line saying "ratio": the anchor's comparison.
RATIO = re.compile(r"ratio", re.IGNORECASE)


@dataclass(frozen=True)
class Bench:
    script: str
    args: str  # as typed after the script's name
    # A line of output that only a finished run prints (its table or summary).
    figures: str
    # Measures an anchor in the same run and prints the ratio.
    ratio: bool = False
    postgresql: bool = False
    # Which test file runs it: the suite's processes take whole files, so the benches are
    # spread over three files of similar length instead of queuing behind one.
    group: str = "models"
    # Seconds: a tiny run takes a few; a busy shared machine may make it a minute or two.
    timeout: float = 600


BENCHES = [
    Bench("corpus_stats.py", "", r"^conversations: \d+"),
    Bench(
        "assessments.py", "--count 3 --turns 4 --wait-quiet 0", r"^\| \d+ \| [\d.]+ \| [\d.]+ \|$"
    ),
    Bench("suggest_sealed.py", "--count 3 --turns 4", r"^Speed: 3 conversations"),
    Bench("impact_coverage.py", "--runs 2 --processes 1", r"^\| 200 \| \+4 lasting \| 2 \|"),
    Bench(
        "recognition.py",
        "--results 8 --rules 3 --repeats 1 --learners 3 --wait-quiet 0",
        r"flask recognition evaluate`, 4 people",
        group="data",
    ),
    Bench(
        "profile_launch.py",
        "--backend sqlite --launches 2 --warmup 0 --mode none",
        r"^sqlite, none: 2 launches, ",
        group="servers",
    ),
    Bench(
        "courses.py",
        "--backend sqlite --learners 2 --duration 1 --warmup 0 --rate 4 --clients 2 --workers 1 "
        "--certificates 1 --wait-quiet 0",
        r"^\| certificate render ratio to the anchor",
        ratio=True,
        group="servers",
    ),
    Bench(
        "launch.py",
        "--backend sqlite --duration 1 --warmup 0 --rounds 1 --workers 2 --clients 2 "
        "--wait-quiet 0",
        r"^sqlite: [\d.]+ launches/s, bare Flask [\d.]+ requests/s: ratio ",
        ratio=True,
        group="servers",
    ),
    Bench(
        "load.py",
        "--backend sqlite --rate 5 --duration 2 --warmup 0 --workers 2 --learners 4 "
        "--team-size 4 --client-threads 4 --drain-wait 10 --wait-quiet 0",
        r"^\| \*\*all requests\*\* \| \d+ \| ",
        group="servers",
    ),
    Bench(
        "profile_pages.py",
        "--backend sqlite --rounds 2 --warmup 1 --mode spans",
        r"^mean over the load's mix: [\d.]+ ms CPU per request",
        group="data",
    ),
    Bench(
        "insights.py",
        "--rows 2000 --teams 6 --team-size 5 --completions 40 --repeats 1 --import-rounds 1 "
        "--wait-quiet 0",
        r"^\| impact analysis: ratio ours / DuckDB, median of 1 pairs",
        ratio=True,
        group="data",
    ),
    # Its speed measurement only: a fit writes assessments/suggest_model.json, the shipped
    # model.
    Bench(
        "train_suggest.py",
        "--speed 3 --turns 4 --rounds 1",
        r"^\| 1 \| \d+ \| \d+ \| [\d.]+ \|$",
        ratio=True,
    ),
    # The smallest curve: one repeat (the tenant's graded conversations still reach 100).
    Bench(
        "suggest_learning.py",
        "--repeats 1 --base 30 --held-out 10",
        r"^\| 100 \| [\d.]+ \(",
    ),
    Bench(
        "grades.py",
        "--scores 10 --workers 1 --retries 0",
        r"^\| +1 \| +10 \| ",
        postgresql=True,
        group="data",
    ),
    Bench(
        "organisation.py",
        "--people 20 --completions 50 --repeats 1",
        r"^\| completions import, 50 rows, ",
        ratio=True,
        postgresql=True,
        group="data",
    ),
]


# Benches not run here, and why (the listing test checks this list, so none is forgotten).
# Today every bench runs: train_suggest.py's fit is left out above, not the script.
NOT_RUN_HERE: dict[str, str] = {}


def _lowest_priority() -> None:
    os.nice(19)


def run_bench(bench: Bench, bench_database: str | None) -> None:
    """Run one bench at its tiny size; fail with its output unless it printed its figures."""
    args = bench.args.split()
    if bench.postgresql:
        if bench_database is None:
            pytest.skip("PostgreSQL is not reachable: this bench runs on PostgreSQL only")
        args += ["--pg-url", bench_database]
    done = subprocess.run(
        [sys.executable, str(BENCH / bench.script), *args],
        cwd=ROOT,
        # The demo data without the demo organisation (45,000 survey rows no bench here reads).
        env={**os.environ, "DEMO_ORGANISATION": "0"},
        capture_output=True,
        text=True,
        timeout=bench.timeout,
        check=False,
        # A bench runs flat out by design; at the lowest CPU priority (its servers inherit
        # it) it cannot starve the browser tests the other test process runs beside it.
        preexec_fn=_lowest_priority,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"bench/{bench.script} exited {done.returncode}:\n{output[-3000:]}"
    assert re.search(bench.figures, done.stdout, re.MULTILINE), done.stdout[-3000:]
    if bench.ratio:
        assert any(RATIO.search(line) for line in done.stdout.splitlines()), done.stdout[-3000:]
