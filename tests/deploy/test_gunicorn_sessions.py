"""The production gunicorn config puts each worker in a session of its own, so that where
Linux shares the cores between sessions first (autogroup) each worker gets a share, as each
PostgreSQL backend does, instead of all of them sharing the master's; stopping the master
still stops them."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import free_port
from tests.processes import GUNICORN, service_env, start, wait_for, wait_until_up

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def children_of(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def test_each_worker_leads_its_own_session_and_stops_with_the_master(tmp_path: Path) -> None:
    port = free_port()
    env = service_env(
        APP_ENV="development",
        INSTANCE_PATH=str(tmp_path),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="2",
    )
    command = [GUNICORN, "--config", str(DEPLOY / "gunicorn.conf.py"), "core.wsgi:app"]
    web = start("web", command, env, tmp_path / "web.log")
    try:
        wait_until_up(web, f"http://127.0.0.1:{port}/healthz")

        def both_workers() -> list[int] | None:
            found = children_of(web.process.pid)
            return found if len(found) == 2 else None

        workers = wait_for(both_workers, "two workers")
        master_session = os.getsid(web.process.pid)
        for worker in workers:
            assert os.getsid(worker) == worker != master_session
    finally:
        web.stop()
    assert web.process.returncode == 0, web.tail()
    wait_for(lambda: not any(Path(f"/proc/{w}").exists() for w in workers), "workers gone", 20)
