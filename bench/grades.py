"""Throughput of grade delivery: real ``flask lms worker`` processes draining the grade outbox
into a fake LMS.

The bench builds its own database (schema ``bench_grades`` in the ``test`` database, dropped
and recreated at start), migrates it, makes the tool's key, starts a fake LMS on a free port
(``bench/fake_lms.py``: token endpoint + AGS score endpoints that record every score),
registers that LMS as a platform with one resource link, creates ``--scores`` users and queues
one score for each with ``lms.grades.enqueue_score``.

Then, for each worker count in ``--workers``: every outbox row is set back to ``pending`` and
the fake LMS's record cleared, N ``flask lms worker --batch 50`` processes are started, and the
wall time until every row is ``sent`` is measured. The workers are stopped (SIGTERM) and the
LMS's record is checked: every user's score exactly once (duplicates and missing printed).

Run from the repository root:

    .venv/bin/python bench/grades.py                      # 10,000 scores, 1, 2 and 4 workers
    .venv/bin/python bench/grades.py --scores 2000 --workers 4 --profile
    .venv/bin/python bench/grades.py --app-root /tmp/candidate   # another checkout's code
    .venv/bin/python bench/grades.py --scores 60 --workers 2 --lms-delay 1.3  # slow gradebook

Where the time goes: ``--py-spy FILE`` samples worker 0 of the first run with py-spy
(``.venv/bin/pip install py-spy``) and prints wall ms per score per layer; ``--profile``
drains the outbox once more inside the bench process under cProfile (``deliver_due`` in a
loop) and prints the hotspots, SQL statements, transactions and connection checkouts per score.

Shared machines: every run reports the CPU other jobs took meanwhile; a run they disturbed
(> 15% of a core) is measured again (``--retries``), and ``--wait-quiet`` waits for an idle
machine before each run. Only the bench's own schema is touched (an advisory lock keeps a
second copy of the bench off it). Every process the bench starts runs in its own process group
and is stopped at the end, also on Ctrl-C or SIGTERM. Each run gives up after ``--timeout``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import (
    DEFAULT_PG,
    FLASK_TIMEOUT,
    ROOT,
    VENV_BIN,
    BenchError,
    cores,
    flask_command,
    free_port,
    fresh_database,
    schema_to_myself,
    server_env,
    spawn,
    tail,
    wait_for_quiet_machine,
)
from fake_lms import lms_call, start_fake_lms

SCHEMA = "bench_grades"
WORKER_APP_NAME = "bench-grades-worker"  # the workers' PostgreSQL sessions (for their CPU)
SECRET = "bench-grades-" + "s" * 27  # 40 characters; a throwaway app on 127.0.0.1
ISSUER = "https://fake-lms.bench.invalid"
CLIENT_ID = "bench-grades-client"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
STOP_TIMEOUT = 20.0
POLL_INTERVAL = 0.1
LOCK_KEY = 0x6265_6E63_6867  # pg advisory lock: one bench/grades.py per database
DISTURBED = 0.15  # share of a core taken by other jobs that spoils a run
TARGET_WORKERS = 4
STOPPED_LINE = re.compile(r"Worker stopped after (\d+) delivery attempt")

# Where the tool's code comes from: this checkout, or another one given with --app-root (to
# measure a candidate change with the same bench). Set before any product module is imported.
APP_ROOT = ROOT


class Interrupted(KeyboardInterrupt):
    """SIGTERM/SIGHUP, handled like Ctrl-C so that every ``finally`` runs."""


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted(f"signal {signum}")


# -- processes --------------------------------------------------------------------------------
def signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)


def stop_all(processes: list[subprocess.Popen[bytes]], timeout: float = STOP_TIMEOUT) -> float:
    """SIGTERM every group, wait, SIGKILL what is left. Returns the seconds it took."""
    started = time.monotonic()
    for process in processes:
        signal_group(process, signal.SIGTERM)
    deadline = started + timeout
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"  process {process.pid} ignored SIGTERM for {timeout:.0f} s: killed")
            signal_group(process, signal.SIGKILL)
            process.wait(timeout=5)
    return time.monotonic() - started


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc), None when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return None


def machine_cpu() -> tuple[int, int, int] | None:
    """Jiffies of the whole machine from /proc/stat: (processes: user + nice + system, busy:
    that + interrupts, total without steal)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        user, nice, system, idle, iowait, irq, softirq = values[:7]
    except (OSError, ValueError):
        return None
    processes = user + nice + system
    return processes, processes + irq + softirq, processes + irq + softirq + idle + iowait


def wait_quiet(limit: float) -> None:
    """Wait up to ``limit`` seconds for an idle machine, by the CPU accounting of
    ``machine_cpu``, reporting on stdout."""

    def busy_and_total() -> tuple[int, int] | None:
        reading = machine_cpu()
        return None if reading is None else (reading[1], reading[2])

    wait_for_quiet_machine(limit, busy_and_total, lambda message: print(f"  {message}"))


# -- database and setup -----------------------------------------------------------------------
@contextlib.contextmanager
def fresh_schema(pg_url: str, workdir: Path, keep: bool, wait: float) -> Iterator[str]:
    """The ``bench_grades`` schema, dropped and recreated; yields its DATABASE_URL.

    A PostgreSQL advisory lock, held throughout, keeps a second copy of this bench from
    dropping the schema under the first one: the second waits up to ``wait`` seconds."""
    # No application_name: run_workers adds one for the workers' sessions only.
    with (
        schema_to_myself(pg_url, LOCK_KEY, "bench/grades.py", SCHEMA, wait),
        fresh_database("postgresql", pg_url, workdir, SCHEMA, "", keep) as database_url,
    ):
        yield database_url


def expected_score(index: int) -> float:
    return float(index % 11)


def populate(app: Any, lms_port: int, count: int) -> dict[str, float]:
    """Platform, resource link, ``count`` users and one queued score each (one transaction).
    Returns the expected score per LTI user id."""
    from sqlalchemy import insert, select

    from core.db import db, utcnow
    from lms.grades import enqueue_score
    from lms.models import ResourceLink
    from lms.registry import add_platform
    from people.models import User

    base = f"http://127.0.0.1:{lms_port}"
    with app.app_context():
        session = db.session
        platform_row = add_platform(
            session,
            issuer=ISSUER,
            client_id=CLIENT_ID,
            deployment_ids=["1"],
            auth_login_url=base + "/auth",
            auth_token_url=base + "/token",
            key_set_url=base + "/jwks",
            name="Fake LMS (bench)",
        )
        link = ResourceLink(
            platform_id=platform_row.id,
            deployment_id=platform_row.deployments[0].id,
            lti_id="bench-link-1",
            title="Bench activity",
            ags_lineitem_url=base + "/lineitems/1/lineitem?type_id=1",
            ags_lineitems_url=base + "/lineitems?type_id=1",
            ags_scopes=[LINEITEM_SCOPE, SCORE_SCOPE],
        )
        session.add(link)
        session.flush()
        now = utcnow()
        session.execute(
            insert(User),
            [
                {
                    "platform_id": platform_row.id,
                    "sub": f"bench-user-{i}",
                    "name": f"Bench Learner {i}",
                    "created_at": now,
                    "last_launch_at": now,
                }
                for i in range(count)
            ],
        )
        users = list(
            session.scalars(select(User).where(User.platform_id == platform_row.id))
        )  # kept in the identity map: enqueue_score's session.get finds them there
        expected = {}
        for user in users:
            index = int(user.sub.rsplit("-", 1)[1])
            score = expected_score(index)
            enqueue_score(
                session,
                user_id=user.id,
                resource_link_id=link.id,
                score_given=score,
                score_maximum=10.0,
                comment="bench",
                source=f"bench:{index}",
            )
            expected[user.sub] = score
        session.commit()
        session.remove()
    return expected


def reset_outbox(pg_url: str, lms_port: int) -> None:
    """Every outbox row pending and due again (as when it was queued: ``next_attempt_at`` is
    its ``created_at``), no cached token, the LMS's record empty."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            "UPDATE lti_grade_deliveries SET status = 'pending', attempts = 0, "
            "next_attempt_at = created_at, lease_until = NULL, sent_at = NULL, "
            "last_status = NULL, last_error = ''"
        )
        conn.execute("DELETE FROM lti_access_tokens")
        conn.execute("VACUUM ANALYZE lti_grade_deliveries")  # every run starts without bloat
    status, body = lms_call(lms_port, "POST", "/reset")
    if status != 204:
        raise BenchError(f"the fake LMS refused /reset: {status} {body[:200]!r}")


def outbox_counts(conn: Any) -> Counter[str]:
    rows = conn.execute("SELECT status, count(*) FROM lti_grade_deliveries GROUP BY status")
    return Counter({status: count for status, count in rows})


def worker_backend_pids(conn: Any) -> list[int]:
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (WORKER_APP_NAME,)
    )
    return [pid for (pid,) in rows]


def postgres_helper_cpu(conn: Any) -> dict[int, float]:
    """CPU seconds so far of PostgreSQL's own processes (WAL writer, checkpointer, autovacuum,
    …) and of the bench's polling connection: part of the run, not another job."""
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity "
        "WHERE backend_type <> 'client backend' OR pid = pg_backend_pid()"
    )
    readings = {pid: process_cpu(pid) for (pid,) in rows}
    return {pid: cpu for pid, cpu in readings.items() if cpu is not None}


# -- a run ------------------------------------------------------------------------------------
@dataclass
class Verification:
    received: int = 0
    distinct: int = 0
    duplicates: int = 0  # extra copies beyond the first, over all users
    duplicated_users: int = 0
    missing: int = 0
    unexpected: int = 0
    wrong_score: int = 0
    tokens: int = 0
    rejected: int = 0
    lms_seconds: float = 0.0  # first to last score received

    @property
    def ok(self) -> bool:
        return not (self.duplicates or self.missing or self.unexpected or self.wrong_score)


@dataclass
class RunResult:
    workers: int
    scores: int
    finished: bool
    wall: float = 0.0
    first_sent: float = 0.0  # seconds from start until the LMS got the first score
    sent: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    stop_seconds: float = 0.0
    first_worker_life: float = 0.0
    attempts_per_worker: list[int | None] = field(default_factory=list)
    worker_cpu: float | None = None
    postgres_cpu: float | None = None
    lms_cpu: float | None = None
    machine_busy: float | None = None
    other_cpu: float | None = None  # CPU seconds of processes that are not part of the run
    verification: Verification = field(default_factory=Verification)
    problem: str = ""

    @property
    def disturbed(self) -> bool:
        """Other jobs took more than DISTURBED of a core: the numbers are not clean."""
        return self.other_cpu is not None and self.other_cpu > DISTURBED * max(self.wall, 1.0)

    @property
    def rate(self) -> float:
        return self.sent / self.wall if self.wall else 0.0

    @property
    def steady_rate(self) -> float:
        seconds = self.verification.lms_seconds
        return (self.verification.received - 1) / seconds if seconds > 0 else 0.0


def verify(expected: dict[str, float], lms_port: int) -> tuple[Verification, list[Any]]:
    status, body = lms_call(lms_port, "GET", "/stats")
    if status != 200:
        raise BenchError(f"the fake LMS's /stats answered {status}")
    stats = json.loads(body)
    scores = stats["scores"]
    per_user = Counter(entry[1] for entry in scores)
    result = Verification(
        received=len(scores),
        distinct=len(per_user),
        duplicates=sum(n - 1 for n in per_user.values() if n > 1),
        duplicated_users=sum(1 for n in per_user.values() if n > 1),
        missing=sum(1 for user in expected if user not in per_user),
        unexpected=sum(1 for user in per_user if user not in expected),
        wrong_score=sum(
            1 for _, user, _, given, _ in scores if user in expected and expected[user] != given
        ),
        tokens=stats["tokens"],
        rejected=stats["rejected"],
    )
    if scores:
        received_at = [entry[4] for entry in scores]
        result.lms_seconds = max(received_at) - min(received_at)
    return result, scores


def run_workers(
    count: int,
    expected: dict[str, float],
    env: dict[str, str],
    pg_url: str,
    lms_port: int,
    workdir: Path,
    args: argparse.Namespace,
    spy_path: Path | None = None,
) -> RunResult:
    import psycopg

    reset_outbox(pg_url, lms_port)
    if args.wait_quiet:
        wait_quiet(args.wait_quiet)
    result = RunResult(workers=count, scores=len(expected), finished=False)
    worker_env = dict(env)
    worker_env["DATABASE_URL"] = f"{env['DATABASE_URL']}&application_name={WORKER_APP_NAME}"
    command = [str(VENV_BIN / "flask"), "lms", "worker", "--batch", str(args.batch)]
    logs = [workdir / f"worker-{count}-{i}.log" for i in range(count)]
    workers: list[subprocess.Popen[bytes]] = []
    spy: subprocess.Popen[bytes] | None = None
    backend_cpu: dict[int, float] = {}
    lms_process = args.lms_process
    lms_cpu_before = process_cpu(lms_process.pid)
    own_before = sum(os.times()[:2])
    with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as conn:
        helpers_before = postgres_helper_cpu(conn)
        try:
            machine_before = machine_cpu()
            started, started_wall = time.monotonic(), time.time()
            workers = [spawn(command, worker_env, log, APP_ROOT) for log in logs]
            if spy_path is not None:
                spy = start_py_spy(workers[0].pid, spy_path, env)
            deadline = started + args.timeout
            while True:
                time.sleep(POLL_INTERVAL)
                counts = outbox_counts(conn)
                now = time.monotonic()
                for pid in worker_backend_pids(conn):  # last reading before they disconnect
                    cpu = process_cpu(pid)
                    if cpu is not None:
                        backend_cpu[pid] = cpu
                if counts["sent"] >= len(expected):
                    result.finished = True
                    break
                if counts["failed"]:
                    result.problem = f"{counts['failed']} score(s) failed"
                    break
                dead = [w for w in workers if w.poll() is not None]
                if dead:
                    result.problem = (
                        f"worker {dead[0].pid} exited with {dead[0].returncode}:\n"
                        + tail(logs[workers.index(dead[0])], 20)
                    )
                    break
                if now >= deadline:
                    result.problem = (
                        f"gave up after --timeout {args.timeout:.0f} s with "
                        f"{counts['sent']} of {len(expected)} scores sent"
                    )
                    break
            result.wall = now - started
            result.sent = counts["sent"]
            machine_after = machine_cpu()
            cpu_readings = [process_cpu(w.pid) for w in workers]
            if all(c is not None for c in cpu_readings):
                result.worker_cpu = sum(c for c in cpu_readings if c is not None)
            if backend_cpu:
                result.postgres_cpu = sum(backend_cpu.values())
            lms_cpu_after = process_cpu(lms_process.pid)
            if lms_cpu_before is not None and lms_cpu_after is not None:
                result.lms_cpu = lms_cpu_after - lms_cpu_before
            spy_cpu = (process_cpu(spy.pid) or 0.0) if spy is not None else 0.0
            helpers = sum(
                cpu - helpers_before.get(pid, 0.0) for pid, cpu in postgres_helper_cpu(conn).items()
            )
            if machine_before and machine_after and machine_after[2] > machine_before[2]:
                result.machine_busy = (machine_after[1] - machine_before[1]) / (
                    machine_after[2] - machine_before[2]
                )
                ours = sum(
                    x or 0.0 for x in (result.worker_cpu, result.postgres_cpu, result.lms_cpu)
                )
                ours += sum(os.times()[:2]) - own_before + spy_cpu + helpers
                processes = (machine_after[0] - machine_before[0]) / CLOCK_TICKS
                result.other_cpu = max(0.0, processes - ours)
        finally:
            result.stop_seconds = stop_all(workers)
            result.first_worker_life = time.monotonic() - started
            if spy is not None:
                finish_py_spy(spy)
        result.statuses = dict(outbox_counts(conn))
    for log in logs:
        found = STOPPED_LINE.search(log.read_text(errors="replace")) if log.exists() else None
        result.attempts_per_worker.append(int(found.group(1)) if found else None)
    result.verification, scores = verify(expected, lms_port)
    if scores:
        result.first_sent = min(entry[4] for entry in scores) - started_wall
    return result


def report_run(result: RunResult) -> None:
    v = result.verification
    state = "done" if result.finished else "INCOMPLETE"
    print(
        f"  {state}: {result.sent}/{result.scores} sent in {result.wall:.2f} s "
        f"= {result.rate:.0f} scores/s (steady, first→last at the LMS: "
        f"{result.steady_rate:.0f}/s; first score after {result.first_sent:.2f} s)"
    )
    if result.problem:
        print(f"  problem: {result.problem}")
    print(
        f"  LMS received {v.received} scores for {v.distinct} users: "
        f"duplicates {v.duplicates} ({v.duplicated_users} users), missing {v.missing}, "
        f"unexpected {v.unexpected}, wrong score {v.wrong_score}; "
        f"token requests {v.tokens}, rejected {v.rejected}"
    )
    attempts = ", ".join("?" if a is None else str(a) for a in result.attempts_per_worker)
    print(f"  per worker attempts: [{attempts}]; stopped in {result.stop_seconds:.1f} s")
    parts = []
    if result.worker_cpu is not None and result.sent:
        parts.append(f"workers {1000 * result.worker_cpu / result.sent:.2f}")
    if result.postgres_cpu is not None and result.sent:
        parts.append(f"their postgres backends {1000 * result.postgres_cpu / result.sent:.2f}")
    if result.lms_cpu is not None and result.sent:
        parts.append(f"fake LMS {1000 * result.lms_cpu / result.sent:.2f}")
    if parts:
        busy = f"; machine busy {100 * result.machine_busy:.0f}%" if result.machine_busy else ""
        print(f"  CPU ms per score: {', '.join(parts)}{busy}")
    if result.other_cpu is not None and result.wall:
        share = 100 * result.other_cpu / result.wall
        warning = "  <- NOT A CLEAN RUN: other jobs took CPU" if result.disturbed else ""
        print(f"  other jobs on the machine: {share:.0f}% of a core{warning}")
    print(f"  outbox after stop: {result.statuses}")


# -- profiles -------------------------------------------------------------------------------
SPY_RATE = 250  # samples per second


def start_py_spy(pid: int, output: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Sample one worker for its whole life (idle frames included, so waits on PostgreSQL and
    on the LMS count), as collapsed stacks in ``output``."""
    py_spy = VENV_BIN / "py-spy"
    if not py_spy.exists():
        raise BenchError("--py-spy needs py-spy: .venv/bin/pip install py-spy")
    command = [str(py_spy), "record", "--pid", str(pid), "--idle", "--nolineno", "--nonblocking"]
    command += ["--rate", str(SPY_RATE), "--format", "raw", "--output", str(output)]
    return spawn(command, env, output.with_suffix(".log"), APP_ROOT)


def finish_py_spy(spy: subprocess.Popen[bytes]) -> None:
    """py-spy stops by itself when its worker exits; give it time to write its file."""
    try:
        spy.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        stop_all([spy])


# (label, qualified function as py-spy names it, file suffix): a sample counts for a label
# when any frame of its stack matches; labels nest, so one sample can count for several.
SPY_LABELS = [
    ("worker loop: deliver_due", "deliver_due", "lms/grades.py"),
    ("  claim_due", "claim_due", "lms/grades.py"),
    ("  deliver", "deliver", "lms/grades.py"),
    ("    PlatformClient.access_token", "PlatformClient.access_token", "lms/platform_client.py"),
    ("    PlatformClient.call (the score POST)", "PlatformClient.call", "lms/platform_client.py"),
    ("      requests: prepare_request", "Session.prepare_request", "requests/sessions.py"),
    (
        "      requests: merge_environment_settings",
        "Session.merge_environment_settings",
        "requests/sessions.py",
    ),
    ("      requests: Session.send", "Session.send", "requests/sessions.py"),
    ("        waiting for the LMS (socket read)", "SocketIO.readinto", "socket.py"),
    ("SQLAlchemy Session.get", "Session.get", "sqlalchemy/orm/session.py"),
    ("SQLAlchemy Session.execute", "Session.execute", "sqlalchemy/orm/session.py"),
    ("SQLAlchemy Session.commit", "Session.commit", "sqlalchemy/orm/session.py"),
    ("pool checkout (with pre-ping)", "_ConnectionFairy._checkout", "sqlalchemy/pool/base.py"),
    ("  pre-ping (SELECT 1)", "DefaultDialect._do_ping_w_event", "sqlalchemy/engine/default.py"),
    ("psycopg Connection.commit (COMMIT, WAL flush)", "Connection.commit", "psycopg/connection.py"),
    ("psycopg: all waits for PostgreSQL", "Connection.wait", "psycopg/connection.py"),
    ("run_worker itself (time.sleep when idle)", "run_worker", "lms/worker.py"),
]


def report_py_spy(path: Path, attempts: int | None, lifetime: float) -> None:
    """Per-label wall ms per score of the sampled worker, from py-spy's collapsed stacks.
    Samples are scaled to the worker's measured lifetime (a loaded machine drops some)."""
    if not path.exists() or not attempts:
        print(f"  py-spy: no samples ({tail(path.with_suffix('.log'), 5)})")
        return
    stacks: list[tuple[list[tuple[str, str]], int]] = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = []
        for frame in stack.split(";"):
            name, _, where = frame.partition(" (")
            frames.append((name.strip(), where.rstrip(")").replace(os.sep, "/")))
        stacks.append((frames, int(count)))
    total = sum(count for _, count in stacks)
    per = 1000.0 * lifetime / total / attempts
    print(
        f"  py-spy on worker 0: {total} samples over its {lifetime:.1f} s life and "
        f"{attempts} scores; wall ms per score (nested labels overlap):"
    )
    for label, function, suffix in SPY_LABELS:
        if function == "run_worker":
            hits = sum(count for frames, count in stacks if frames[-1][0] == "run_worker")
        else:
            hits = sum(
                count
                for frames, count in stacks
                if any(n == function and w.endswith(suffix) for n, w in frames)
            )
        print(f"    {label:44} {hits * per:7.3f} ms  {100 * hits / total:5.1f}%")
    leaves: Counter[str] = Counter()
    for frames, count in stacks:
        name, where = frames[-1]
        leaves[f"{name} ({'/'.join(where.split('/')[-2:])})"] += count
    print("  innermost Python frames (wall ms per score):")
    for leaf, count in leaves.most_common(12):
        print(f"    {count * per:7.3f} ms  {leaf}")


# -- in-process profile -----------------------------------------------------------------------
PROFILE_FUNCTIONS = [
    ("lms/grades.py", "deliver_due", "deliver_due (everything)"),
    ("lms/grades.py", "claim_due", "claim_due"),
    ("lms/grades.py", "deliver", "deliver"),
    ("lms/platform_client.py", "access_token", "PlatformClient.access_token"),
    ("lms/platform_client.py", "post_score", "PlatformClient.post_score"),
    ("requests/sessions.py", "send", "requests: HTTP send"),
    ("sqlalchemy/orm/session.py", "commit", "Session.commit"),
    ("sqlalchemy/orm/session.py", "get", "Session.get"),
    ("sqlalchemy/engine/default.py", "_do_ping_w_event", "pool_pre_ping (SELECT 1)"),
    ("sqlalchemy/pool/base.py", "_checkout", "pool checkout"),
    ("psycopg/cursor.py", "execute", "psycopg Cursor.execute (round trips)"),
    ("psycopg/connection.py", "commit", "psycopg Connection.commit"),
    ("psycopg/connection.py", "rollback", "psycopg Connection.rollback"),
]


def profile_delivery(
    app: Any, expected: dict[str, float], pg_url: str, lms_port: int, limit: int
) -> None:
    import requests
    from sqlalchemy import event

    from core.db import db
    from lms.grades import deliver_due
    from lms.platform_client import PlatformClient

    reset_outbox(pg_url, lms_port)
    statements: Counter[str] = Counter()
    events: Counter[str] = Counter()

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        words = statement.split()
        kind = words[0].upper()
        table = next((w for w in words if w.startswith("lti_") or w == "users"), "?")
        statements[f"{kind} {table.strip(',')}"] += 1

    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", on_execute)
        event.listen(engine, "commit", lambda conn: events.update(["commit"]))
        event.listen(engine, "rollback", lambda conn: events.update(["rollback"]))
        event.listen(engine.pool, "checkout", lambda *a: events.update(["checkout"]))
        client = PlatformClient(db.session, requests.Session())
        profiler = cProfile.Profile()
        attempted = 0
        started = time.perf_counter()
        profiler.enable()
        try:
            while True:
                count = deliver_due(db.session, client, limit=50)
                attempted += count
                if count == 0 or attempted >= limit:
                    break
        finally:
            profiler.disable()
            elapsed = time.perf_counter() - started
            db.session.remove()
            event.remove(engine, "before_cursor_execute", on_execute)
    verification, _ = verify(expected, lms_port)
    print(
        f"\nProfile: one worker's loop (deliver_due, batch 50) in-process under cProfile: "
        f"{attempted} scores in {elapsed:.2f} s = {attempted / elapsed:.0f} scores/s "
        f"(cProfile slows Python code; compare shares, not absolutes); LMS got "
        f"{verification.received}, duplicates {verification.duplicates}"
    )
    per = 1000.0 / max(1, attempted)
    profiler.create_stats()
    table = profiler.stats
    print(f"  {'function':44} {'calls/score':>11} {'ms/score':>9} {'share':>6}")
    for suffix, name, label in PROFILE_FUNCTIONS:
        calls = cumulative = 0.0
        for (filename, _line, funcname), (_cc, nc, _tt, ct, _callers) in table.items():
            if funcname == name and filename.replace(os.sep, "/").endswith(suffix):
                calls += nc
                cumulative += ct
        if calls:
            print(
                f"  {label:44} {calls / max(1, attempted):11.2f} {cumulative * per:9.3f} "
                f"{100 * cumulative / elapsed:5.0f}%"
            )
    print("  SQL statements per score:")
    for statement, n in statements.most_common():
        print(f"    {statement:40} {n / max(1, attempted):6.2f}")
    print(
        f"    {'total':40} {sum(statements.values()) / max(1, attempted):6.2f}   "
        + ", ".join(f"{k} {v / max(1, attempted):.2f}" for k, v in sorted(events.items()))
    )
    print("  Top functions by own time:")
    rows = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:15]
    for (filename, line, funcname), (_cc, nc, tt, ct, _callers) in rows:
        where = "/".join(Path(filename).parts[-2:]) if filename != "~" else ""
        print(
            f"    {tt * per:7.3f} ms own {ct * per:7.3f} ms cum {nc / max(1, attempted):6.2f}x  "
            f"{where}:{line}({funcname})"
        )


# -- main -------------------------------------------------------------------------------------
def parse_workers(value: str) -> list[int]:
    try:
        counts = [int(part) for part in value.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {value!r}") from error
    if not counts or any(n < 1 for n in counts):
        raise argparse.ArgumentTypeError("worker counts must be positive")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Grade delivery throughput: flask lms worker processes against a fake LMS.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--scores", type=int, default=10_000, help="users, one score each")
    parser.add_argument(
        "--workers", type=parse_workers, default="1,2,4", help="worker counts to run, in order"
    )
    parser.add_argument("--batch", type=int, default=50, help="flask lms worker --batch")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds one run may take before giving up"
    )
    parser.add_argument("--target", type=float, default=500.0, help="scores/s wanted at 4 workers")
    parser.add_argument(
        "--lms-delay",
        type=float,
        default=0.0,
        help="seconds the fake LMS takes to answer each score (a slow gradebook)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each run, wait up to SECONDS for other jobs to leave the CPU idle",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="measure a run again when other jobs took CPU during it",
    )
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="PostgreSQL database to use")
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="FILE",
        help="sample worker 0 of the first run with py-spy; collapsed stacks go to FILE",
    )
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=2000,
        default=0,
        metavar="SCORES",
        help="then run one worker's loop in-process under cProfile for SCORES scores",
    )
    parser.add_argument("--keep", action="store_true", help="keep the schema at the end")
    parser.add_argument(
        "--app-root",
        type=Path,
        default=ROOT,
        help="run the tool's code from this checkout (e.g. a copy with a candidate patch)",
    )
    args = parser.parse_args(argv)
    if args.scores < 1:
        parser.error("--scores must be at least 1")
    global APP_ROOT
    APP_ROOT = args.app_root.resolve()
    if not (APP_ROOT / "lms" / "grades.py").exists():
        parser.error(f"--app-root {APP_ROOT} holds no lms/grades.py")
    if "lms" in sys.modules or "core" in sys.modules:
        raise RuntimeError("product modules were imported before --app-root was applied")
    sys.path.insert(0, str(APP_ROOT))

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    print(
        f"bench/grades.py: {args.scores} scores, workers {args.workers}, batch {args.batch}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {cores()} cores, "
        f"Python {platform.python_version()}, code from {APP_ROOT}"
    )
    results: list[RunResult] = []
    lms_process: subprocess.Popen[bytes] | None = None
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-grades-") as tmp,
            fresh_schema(args.pg_url, Path(tmp), args.keep, args.timeout) as database_url,
        ):
            workdir = Path(tmp)
            env = server_env(database_url, workdir, None, SECRET, root=APP_ROOT)
            schema_url = database_url  # psycopg understands the options= parameter too
            step = time.monotonic()
            flask_command(env, "db", "upgrade", cwd=APP_ROOT, timeout=FLASK_TIMEOUT)
            flask_command(env, "lms", "keys", "ensure", cwd=APP_ROOT, timeout=FLASK_TIMEOUT)
            print(f"database: schema {SCHEMA} migrated in {time.monotonic() - step:.1f} s")
            port = free_port()
            lms_process = start_fake_lms(port, env, workdir, args.lms_delay, cwd=APP_ROOT)
            args.lms_process = lms_process
            slow = f", answering scores after {args.lms_delay} s" if args.lms_delay else ""
            print(f"fake LMS: http://127.0.0.1:{port} (pid {lms_process.pid}){slow}")

            from core import create_app
            from core.config import Settings

            app = create_app(Settings.from_env(env))
            step = time.monotonic()
            expected = populate(app, port, args.scores)
            print(
                f"setup: {args.scores} users and queued scores in {time.monotonic() - step:.1f} s"
            )
            for position, count in enumerate(args.workers):
                print(f"\n{count} worker(s):")
                spy_path = args.py_spy if position == 0 and args.py_spy else None
                for attempt in range(args.retries + 1):
                    result = run_workers(
                        count, expected, env, schema_url, port, workdir, args, spy_path
                    )
                    report_run(result)
                    if not result.disturbed or attempt == args.retries:
                        break
                    print("  measuring again, once the machine is quiet:")
                    wait_quiet(max(args.wait_quiet, 120.0))
                if spy_path is not None:
                    report_py_spy(spy_path, result.attempts_per_worker[0], result.first_worker_life)
                results.append(result)
            if args.profile:
                profile_delivery(app, expected, schema_url, port, args.profile)
            with app.app_context():
                from core.db import db

                db.engine.dispose()
    except BenchError as error:
        print(f"\nbench failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: processes stopped, schema dropped", file=sys.stderr)
        return 130
    finally:
        if lms_process is not None:
            stop_all([lms_process])
    return summarize(results, args)


def summarize(results: list[RunResult], args: argparse.Namespace) -> int:
    print("\n| workers | scores | wall s | scores/s | steady/s | duplicates | missing |")
    print("|--------:|-------:|-------:|---------:|---------:|-----------:|--------:|")
    for r in results:
        v = r.verification
        mark = "" if r.finished else " (timed out)"
        print(
            f"| {r.workers} | {r.scores} | {r.wall:.1f} | {r.rate:.0f}{mark} | "
            f"{r.steady_rate:.0f} | {v.duplicates} | {v.missing} |"
        )
    broken = [r for r in results if not r.finished or not r.verification.ok]
    target = [r for r in results if r.workers == TARGET_WORKERS]
    if broken:
        print(f"\nFAILED: {len(broken)} run(s) incomplete or with wrong deliveries")
        return 1
    if target:
        best = max(r.rate for r in target)
        verdict = "met" if best >= args.target else "MISSED"
        print(
            f"\ntarget {args.target:.0f} scores/s with {TARGET_WORKERS} workers: {verdict} "
            f"({best:.0f}/s)"
        )
        if best < args.target:
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
