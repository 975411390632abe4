"""``flask lms worker``: drains the grade outbox and runs background jobs (imports, reports)
until told to stop (SIGTERM/SIGINT finish the current score or job first)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from flask import current_app

from core.db import db, utcnow
from core.errors import database_unavailable
from core.jobs import run_due_jobs
from core.privacy import apply_retention
from lms.grades import deliver_due
from lms.platform_client import PlatformClient

log = logging.getLogger(__name__)
RETENTION_EVERY_SECONDS = 3600
DATABASE_RETRY_SECONDS = 1.0  # wait before asking a database that did not answer again


@dataclass
class WorkerRun:
    attempted: int = 0
    stopping: bool = False


def run_worker(*, once: bool = False, batch: int = 50, poll: float = 1.0) -> WorkerRun:
    run = WorkerRun()

    def request_stop(signum: int, frame: object) -> None:
        log.info("worker stopping after the current score (signal %s)", signum)
        run.stopping = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    if not once:  # a one-off run (a test, an operator's catch-up) keeps its caller's priority
        yield_cpu_to_requests(current_app.config["WORKER_NICE"])
    client = PlatformClient(db.session, requests.Session())
    next_retention = 0.0
    try:
        while not run.stopping:
            if time.monotonic() >= next_retention:
                _apply_retention()
                next_retention = time.monotonic() + RETENTION_EVERY_SECONDS
            try:
                count = deliver_due(db.session, client, limit=batch)
                if not run.stopping:
                    count += run_due_jobs(db.session, limit=1)
            except Exception as error:
                if once or not database_unavailable(error):
                    raise
                _database_away(error, poll)
                continue
            run.attempted += count
            if once and count == 0:
                break
            if count == 0:
                time.sleep(poll)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        db.session.remove()
    return run


def yield_cpu_to_requests(nice: int) -> int:
    """Run this process at CPU priority ``nice`` (WORKER_NICE), below the web processes, so
    that a job keeping a core busy for seconds (an import, a report, a model refit) takes
    what requests leave instead of a core from them. Never raises the priority: a higher
    nice set by the service manager (systemd's ``Nice=``) is kept. Returns the nice the
    process runs at."""
    if not hasattr(os, "setpriority"):  # not Unix
        return 0
    if nice > os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    _lower_own_session_group(nice)
    running_at = os.getpriority(os.PRIO_PROCESS, 0)
    log.info("worker running at CPU priority nice %d (WORKER_NICE=%d)", running_at, nice)
    return running_at


AUTOGROUP = Path("/proc/self/autogroup")


def _lower_own_session_group(nice: int) -> None:
    """Where Linux shares the cores between sessions first (autogroup, on by default in
    common distributions' kernels), a process's nice orders it only within its session: the
    worker, alone in its session under a service manager, got as much CPU as all the web
    processes of the host together. When the worker leads its session (so lowering the
    session lowers no one else), the session's group gets ``nice`` too."""
    if os.getsid(0) != os.getpid():
        return
    try:
        current = int(AUTOGROUP.read_text().rsplit("nice", 1)[1])
        if nice > current:
            AUTOGROUP.write_text(str(nice))
    except (OSError, ValueError, IndexError):  # no autogroup in this kernel, or not allowed
        pass


def _database_away(error: Exception, poll: float) -> None:
    """The database restarts or fails over: wait and try again, as a web request's 503 asks
    the person to. A claimed score keeps its lease and is sent when the lease ends."""
    with contextlib.suppress(Exception):
        db.session.rollback()
    wait = max(poll, DATABASE_RETRY_SECONDS)
    log.warning("database unavailable (%s); trying again in %.0f s", type(error).__name__, wait)
    time.sleep(wait)


def _apply_retention() -> None:
    """Remove what has been kept long enough; a failure is logged and tried again next hour,
    never allowed to stop score delivery."""
    try:
        for name, outcome in apply_retention(db.session, utcnow()).items():
            log.info("retention %s: %s", name, outcome)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("retention failed; trying again in an hour")
