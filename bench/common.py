"""What every bench script needs: a fresh database, the tool set up on it (``fresh_tool``), a
gunicorn it can stop (``serving``), percentiles, and a quiet machine to measure on."""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The project's venv; else the one running the bench (e.g. for a tree exported elsewhere).
VENV_BIN = ROOT / ".venv" / "bin"
if not (VENV_BIN / "gunicorn").exists():
    VENV_BIN = Path(sys.prefix) / "bin"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
# The base URL of a tool that is never served (an in-process bench): port 9 is "discard".
NOWHERE = "http://127.0.0.1:9"
SERVER_START_TIMEOUT = 180.0  # a loaded shared machine takes over a minute to start 5 workers
FLASK_TIMEOUT = 180.0  # seconds for each setup command (flask db upgrade, …)
# What ``fresh_tool`` runs after ``flask db upgrade``: the tool's key alone, or the demo data
# (the key, the development platform, the built-in courses and badges).
FIRST_DATA = {"keys": ("lms", "keys", "ensure"), "demo": ("demo", "load")}

# The repository root first, always: bench/ is on the path too (scripts run as bench/X.py),
# and bench/courses.py must not shadow the project's courses package.
sys.path[:] = [str(ROOT), *(p for p in sys.path if p != str(ROOT))]


class BenchError(RuntimeError):
    """The bench cannot run; the message says why."""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


@contextlib.contextmanager
def fresh_database(
    backend: str, pg_url: str, workdir: Path, schema: str, app_name: str, keep: bool = False
) -> Iterator[str]:
    """A new empty database: ``schema`` on PostgreSQL, a file in ``workdir`` on SQLite.

    The PostgreSQL URL names its sessions ``app_name`` (none when empty)."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'bench.sqlite3'}"
        return
    import psycopg

    def execute(sql: str) -> None:
        with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)

    try:
        execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.Error as error:
        raise BenchError(f"PostgreSQL at {pg_url} is not usable: {error}") from error
    separator = "&" if "?" in pg_url else "?"
    named = f"&application_name={app_name}" if app_name else ""
    try:
        yield f"{pg_url}{separator}options=-csearch_path%3D{schema}{named}"
    finally:
        if not keep:
            with contextlib.suppress(psycopg.Error):
                execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def server_env(
    database_url: str, workdir: Path, base_url: str | None, secret: str, root: Path = ROOT
) -> dict[str, str]:
    """The environment of a server set up as in production, with the development platform on
    as the LMS under load (none without a ``base_url``: a tool that serves no launches).
    Production mode refuses the development platform, so the server runs in development mode,
    which differs only in HSTS and `flask doctor`'s verdict. ``root``: the checkout whose
    code runs."""
    env = dict(os.environ)
    env.update(
        FLASK_APP="wsgi",
        APP_ENV="development",
        SECRET_KEY=secret,
        DATABASE_URL=database_url,
        INSTANCE_PATH=str(workdir),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])]),
    )
    if base_url is not None:
        env.update(
            DEV_PLATFORM_ENABLED="1",
            PUBLIC_BASE_URL=base_url,
            # Every simulated person comes from 127.0.0.1: a limit that is still checked (and
            # paid for) on every login, but never reached.
            LOGIN_RATE_PER_MINUTE="1000000000",
        )
    return env


@dataclass
class Tool:
    """The tool set up on a fresh database, not served yet."""

    workdir: Path  # temporary, removed with the database
    database_url: str
    env: dict[str, str]  # as ``server_env`` makes it
    port: int  # where it is to be served
    base_url: str


@contextlib.contextmanager
def fresh_tool(
    backend: str,
    pg_url: str,
    *,
    schema: str,
    app_name: str,
    secret: str,
    first_data: str = "keys",
    keep: bool = False,
    base_url: str = "",
) -> Iterator[Tool]:
    """The one setup path of the benches: a temporary directory, a fresh database in it (see
    ``fresh_database``), migrated, with ``FIRST_DATA[first_data]`` loaded. The tool is to be
    served on a free port unless ``base_url`` names where it claims to be."""
    with (
        tempfile.TemporaryDirectory(prefix=f"{schema.replace('_', '-')}-") as tmp,
        fresh_database(backend, pg_url, Path(tmp), schema, app_name, keep) as database_url,
    ):
        port = free_port()
        base_url = base_url or f"http://127.0.0.1:{port}"
        env = server_env(database_url, Path(tmp), base_url, secret)
        first = " ".join(FIRST_DATA[first_data])
        say(f"[{backend}] flask db upgrade and flask {first} on a fresh database")
        flask_command(env, "db", "upgrade", timeout=FLASK_TIMEOUT)
        flask_command(env, *FIRST_DATA[first_data], timeout=FLASK_TIMEOUT)
        yield Tool(Path(tmp), database_url, env, port, base_url)


def flask_command(env: dict[str, str], *args: str, cwd: Path = ROOT, timeout: float = 300) -> str:
    """Run ``flask *args`` in ``cwd``; its output, or BenchError when it fails or hangs."""
    try:
        done = subprocess.run(
            [str(VENV_BIN / "flask"), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise BenchError(f"flask {' '.join(args)} did not finish within {timeout:.0f} s") from error
    if done.returncode != 0:
        raise BenchError(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _die_with_parent() -> None:
    """In a child: get SIGTERM if the bench itself is killed (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(
    command: list[str], env: dict[str, str], log_path: Path, cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    """Start ``command`` in ``cwd`` as its own process group (stopped as a whole), logging to
    a file."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str], port: int, workers: int, log_path: Path, *extra: str, app: str = "wsgi:app"
) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn serving ``app`` on 127.0.0.1:``port``, stopped when the block ends; ``extra``
    are more gunicorn options."""
    command = [
        str(VENV_BIN / "gunicorn"),
        app,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--timeout",
        "60",
        "--no-control-socket",
        *extra,
    ]
    process = spawn(command, env, log_path)
    try:
        yield process
    finally:
        stop_process_group(process)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until_serving(
    process: subprocess.Popen[bytes],
    port: int,
    log_path: Path,
    path: str = "/healthz",
    name: str = "the server",
) -> None:
    """Wait until GET ``path`` answers 200; ``name`` is what the errors call the server."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{name} exited with {process.returncode}:\n{tail(log_path)}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise BenchError(f"{name} did not answer within {SERVER_START_TIMEOUT:.0f} s")


@contextlib.contextmanager
def serving(
    env: dict[str, str],
    port: int,
    workers: int,
    log_path: Path,
    *extra: str,
    app: str = "wsgi:app",
    ready: str = "/healthz",
    name: str = "gunicorn",
) -> Iterator[subprocess.Popen[bytes]]:
    """``gunicorn(…)`` once GET ``ready`` answers 200; stopped when the block ends."""
    with gunicorn(env, port, workers, log_path, *extra, app=app) as process:
        wait_until_serving(process, port, log_path, ready, name)
        yield process


def machine_jiffies() -> tuple[int, int, int]:
    """(busy, steal, total) jiffies of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle, steal = values[3] + values[4], values[7] if len(values) > 7 else 0
    return sum(values) - idle - steal, steal, sum(values)


def busy_and_total_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot: see ``machine_jiffies``."""
    busy, _, total = machine_jiffies()
    return busy, total


def wait_for_quiet_machine(
    limit: float,
    sample: Callable[[], tuple[int, int] | None] = busy_and_total_jiffies,
    report: Callable[[str], None] = say,
) -> None:
    """Wait up to ``limit`` seconds for the machine to idle (< 15% of a core over 2 s), so
    other jobs do not take CPU from the measured run.

    ``sample`` reads the machine's (busy, total) jiffies; when it fails (OSError, or None) the
    bench does not wait. ``report`` shows the waiting."""
    deadline = time.monotonic() + limit
    while True:
        try:
            before = sample()
            time.sleep(2)
            after = sample()
        except OSError:
            return
        if before is None or after is None:
            return
        busy = 100 * (after[0] - before[0]) / max(1, after[1] - before[1]) * cores()
        if busy < 15:
            return
        if time.monotonic() > deadline:
            report(f"the machine is still busy ({busy:.0f}% of a core); measuring anyway")
            return
        report(f"waiting for a quiet machine ({busy:.0f}% of a core busy)")


def revision() -> str:
    """The measured code: commit, and whether product files differ from it."""
    if os.environ.get("BENCH_REVISION"):
        return os.environ["BENCH_REVISION"]
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", ".", ":!bench", ":!docs"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown revision"
    return f"commit {commit}" + (" with uncommitted changes" if changed else "")


@contextlib.contextmanager
def schema_to_myself(pg_url: str, key: int, bench: str, schema: str, wait: float) -> Iterator[None]:
    """Keep a second copy of a bench off its schema (it would drop it under the first one): a
    PostgreSQL advisory lock held for the whole run; the second waits up to ``wait`` seconds."""
    import psycopg

    try:
        guard = psycopg.connect(pg_url, autocommit=True, connect_timeout=5)
    except psycopg.Error as error:
        raise BenchError(f"PostgreSQL at {pg_url} is not usable: {error}") from error
    with guard:
        deadline = time.monotonic() + wait
        while not guard.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
            if time.monotonic() > deadline:
                raise BenchError(
                    f"another {bench} has held schema {schema} for {wait:.0f} s; "
                    "try again when it is done"
                )
            say(f"waiting for another {bench} to finish with schema {schema} …")
            time.sleep(5)
        yield


def have_gunicorn() -> bool:
    """Whether the venv has gunicorn; says what to do when it has not."""
    if (VENV_BIN / "gunicorn").exists():
        return True
    say("No .venv/bin/gunicorn: run scripts/bootstrap dev first.")
    return False


def stop_on_signals() -> threading.Event:
    """SIGTERM (and Ctrl-C, also when started with "&") raise KeyboardInterrupt, so every
    ``finally`` runs and stops what the bench started; the event returned is for the bench to
    set then, so that its client threads stop too."""

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return threading.Event()


def exit_status(run: Callable[[], int]) -> int:
    """``run()``'s exit status; 1 when the bench could not run (``BenchError``, said)."""
    try:
        return run()
    except BenchError as error:
        say(f"bench failed: {error}")
        return 1


def seeded_check_attempt(enrolment_id: int, module: str, version: int, *, passed: bool) -> Any:
    """A knowledge-check attempt for a bench's seeded learners: marked, passed or failed, with
    no answers kept (nothing reads them)."""
    from courses.models import CheckAttempt

    return CheckAttempt(
        enrolment_id=enrolment_id,
        module=module,
        version=version,
        answers={},
        correct={},
        score=1 if passed else 0,
        maximum=1,
        passed=passed,
    )


def demo_deployment(session: Any) -> Any:
    """The deployment of the demo data's platform (a ``lms.models.Deployment``), or
    BenchError when ``flask demo load`` left none."""
    from sqlalchemy import select

    from lms.models import Deployment

    deployment = session.scalar(select(Deployment).order_by(Deployment.id).limit(1))
    if deployment is None:
        raise BenchError("the demo data did not load (no deployment)")
    return deployment
