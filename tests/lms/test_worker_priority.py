"""``flask lms worker`` runs below the web processes' CPU priority (``WORKER_NICE``), so a job
that keeps a core busy (a suggestion-model refit, an import) takes only the CPU requests
leave; a one-off run in another process leaves that process's priority alone."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from core.db import db
from tests.conftest import Live
from tests.processes import FLASK, Service, service_env, start, wait_for

PRIORITY_LINE = re.compile(r"worker running at CPU priority nice (\d+) \(WORKER_NICE=(\d+)\)")


def start_worker(live: Live, log: Path, nice_setting: str, started_at: int = 0) -> Service:
    env = service_env(
        APP_ENV="testing",
        DATABASE_URL=live.database_url,
        INSTANCE_PATH=str(live.instance_path),
        PUBLIC_BASE_URL=live.tool_base,
        LOG_LEVEL="INFO",
        WORKER_NICE=nice_setting,
    )
    command = [FLASK, "lms", "worker", "--poll", "0.2"]
    if started_at:  # as a service manager's Nice= would start it
        command = [str(shutil.which("nice")), "-n", str(started_at), *command]
    return start("worker", command, env, log)


def priority_reported(worker: Service) -> re.Match[str] | None:
    if not worker.running():
        raise AssertionError(f"the worker exited:\n{worker.tail()}")
    return PRIORITY_LINE.search(worker.output())


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="Unix CPU priorities")
@pytest.mark.parametrize(
    ("setting", "started_at", "runs_at"),
    [
        ("7", 0, 7),  # lowered to the setting
        ("0", 0, 0),  # 0: the web processes' priority
        ("5", 15, 15),  # started lower by the service manager: kept, never raised
    ],
)
def test_the_worker_runs_at_its_cpu_priority(
    live: Live, tmp_path: Path, setting: str, started_at: int, runs_at: int
) -> None:
    if started_at and shutil.which("nice") is None:
        pytest.skip("no nice command")
    worker = start_worker(live, tmp_path / "worker.log", setting, started_at)
    try:
        reported = wait_for(lambda: priority_reported(worker), "the worker's priority line", 60)
        assert (int(reported.group(1)), int(reported.group(2))) == (runs_at, int(setting))
        assert os.getpriority(os.PRIO_PROCESS, worker.process.pid) == runs_at
        # It leads its own session (as under a service manager): its scheduling group, where
        # the kernel has one per session, is lowered as well.
        group = Path(f"/proc/{worker.process.pid}/autogroup")
        if group.exists():
            assert group.read_text().split()[-1] == setting
    finally:
        worker.stop()


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="Unix CPU priorities")
def test_a_one_off_run_keeps_its_callers_priority(app) -> None:
    from lms.worker import run_worker

    before = os.getpriority(os.PRIO_PROCESS, 0)
    with app.app_context():
        run_worker(once=True)
        db.session.remove()
    assert os.getpriority(os.PRIO_PROCESS, 0) == before
