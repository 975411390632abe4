"""Every bench in ``bench/`` still runs: each at a tiny size, as its own process, the way a
person runs it. A bench that no longer starts (a renamed function, a changed model, a flag that
went away) fails here instead of on the day someone wants a figure.

Nothing here is a measurement: at these sizes the figures mean nothing, so no timing is
checked, only that the bench exits 0 and prints its figures (its ratio to the anchor, for the
benches that measure one). PostgreSQL benches get a database of their own, dropped afterwards,
so a bench someone is running on the ``test`` database meanwhile is not disturbed.
"""

from __future__ import annotations

import pytest

from tests.bench.benches import BENCH, BENCHES, NOT_RUN_HERE, Bench, run_bench

# One test file each: this one, test_benches_servers.py and test_benches_data.py.
GROUPS = {"models", "servers", "data"}


def test_every_bench_is_smoke_tested() -> None:
    """A new bench joins the list in benches.py, in one of the three files' groups (the helpers
    beside the benches do not run alone)."""
    helpers = {"common.py", "fake_lms.py", "bare_wsgi.py", "whatif.py", "whatif_wsgi.py"}
    listed = {b.script for b in BENCHES}
    assert {p.name for p in BENCH.glob("*.py")} - helpers - set(NOT_RUN_HERE) == listed
    assert {b.group for b in BENCHES} == GROUPS


@pytest.mark.parametrize(
    "bench",
    [b for b in BENCHES if b.group == "models"],
    ids=lambda b: b.script.removesuffix(".py"),
)
def test_a_bench_runs_at_a_tiny_size(bench: Bench, bench_database: str | None) -> None:
    run_bench(bench, bench_database)
