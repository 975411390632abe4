"""The bench smoke test (see test_benches_run.py) for the benches that load and read data:
insights, organisation, grades, recognition and profile_pages."""

from __future__ import annotations

import pytest

from tests.bench.benches import BENCHES, Bench, run_bench


@pytest.mark.parametrize(
    "bench",
    [b for b in BENCHES if b.group == "data"],
    ids=lambda b: b.script.removesuffix(".py"),
)
def test_a_bench_runs_at_a_tiny_size(bench: Bench, bench_database: str | None) -> None:
    run_bench(bench, bench_database)
