"""Load test: complete LTI 1.3 launches against the tool served by gunicorn.

For each backend (PostgreSQL, SQLite) the bench builds a fresh database, migrates it, makes
the tool's key, registers the development platform (platform base = tool base = the gunicorn
URL, so the tool fetches the platform's JWKS from itself) and starts gunicorn. Client threads
then run whole launches, each for a new person (a unique ``sub``, so every launch provisions
a user and a membership):

    GET /lms/login?iss=…            -> 200 cookie-check page with the ``lti1p3-state-…``
                                       cookie; the platform auth URL its script opens (with
                                       state and nonce) is parsed. With ``--top-level`` (a new
                                       window): 302 to that URL, with the cookie.
    the bench is the platform: it builds the id_token claims (the development platform's
    claims with a unique sub and name) and signs them with the platform's key, parsed once
    POST /lms/launch id_token+state -> 303 to /dashboard

The anchor is bare Flask answering "hello" (``bench/bare_wsgi.py``) under the same gunicorn
command, driven by the same client threads, measured in the same run: ours and the anchor
alternate (``--rounds`` times each, ours first). A complete launch is two requests to the tool,
so the figure is launches/s ÷ (bare requests/s ÷ 2), and beside it the server's CPU per launch
against bare Flask's CPU per request, which moves less when other jobs share the machine.

Run from the repository root:

    .venv/bin/python bench/launch.py                    # both backends, 2 rounds of 10 s
    .venv/bin/python bench/launch.py --backend postgresql --duration 20 --rounds 3

Only the bench's own schema (``bench_launch`` in the ``test`` database) or temporary SQLite
file is touched. The server is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import platform
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from common import (
    DEFAULT_PG,
    ROOT,
    BenchError,
    cores,
    free_port,
    fresh_tool,
    have_gunicorn,
    machine_jiffies,
    percentile,
    revision,
    say,
    serving,
    stop_on_signals,
    tail,
    wait_for_quiet_machine,
)
from fake_lms import PlatformSide, auth_request, register_platform

SCHEMA = "bench_launch"
APP_NAME = "bench-launch"  # the server's PostgreSQL sessions, for --pg-waits
SECRET = "bench-" + "x" * 40  # a throwaway server on 127.0.0.1
REQUEST_TIMEOUT = 30.0


# -- setup ------------------------------------------------------------------------------------
def start_gunicorn(
    env: dict[str, str], port: int, args: argparse.Namespace, log_path: Path, *, bare: bool = False
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """gunicorn as --workers, --worker-class and --threads say, serving the product, or with
    --what-if the product with the prototype fixes (``bench/whatif_wsgi.py``), or with
    ``bare`` the anchor (``bench/bare_wsgi.py``): the same command but for the app. The block
    starts once it answers."""
    extra = ["--worker-class", args.worker_class]
    if args.threads:
        extra += ["--threads", str(args.threads)]
    app, ready, name = "wsgi:app", "/dev-platform/jwks", "gunicorn"
    if args.what_if or bare:
        # bench/ after the repository (not gunicorn's --pythonpath, which puts it first): else
        # bench/courses.py would hide the product's courses package.
        env = {**env, "PYTHONPATH": os.pathsep.join([env["PYTHONPATH"], str(ROOT / "bench")])}
        app = "whatif_wsgi:app"
    if bare:
        app, ready, name = "bare_wsgi:app", "/", "bare Flask"
    return serving(env, port, args.workers, log_path, *extra, app=app, ready=ready, name=name)


# -- the client -------------------------------------------------------------------------------
class LaunchFailed(Exception):
    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step
        self.detail = detail


@dataclass(slots=True)
class Sample:
    end: float
    total_ms: float
    cookie_check_ms: float
    login_ms: float
    launch_ms: float


@dataclass
class ClientLog:
    samples: list[Sample] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)


def _request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    if response.will_close:
        conn.close()  # gunicorn's sync workers close after every response
    return response.status, response.headers, data


def one_launch(conn: http.client.HTTPConnection, side: PlatformSide, run: str, n: int) -> Sample:
    sub = f"bench-{run}-{n}"
    query = side.login_query(sub)
    browser = {"Sec-Fetch-Dest": side.fetch_dest}
    t0 = time.perf_counter()
    status, headers, body = _request(conn, "GET", "/lms/login?" + query, headers=browser)
    t1 = time.perf_counter()
    cookie_check_ms = login_ms = float("nan")
    if status == 200:  # the cookie check page; its script goes on to the platform
        found = auth_request(body)
        if found is None:
            raise LaunchFailed("login", "HTTP 200 but no cookie-check page")
        cookie_check_ms = (t1 - t0) * 1000
        auth = found
    elif status == 302:  # a top-level window: straight on
        login_ms = (t1 - t0) * 1000
        auth = parse_qs(urlsplit(headers["Location"]).query)
    else:
        raise LaunchFailed("login", f"HTTP {status}")
    try:
        state, nonce = auth["state"][0], auth["nonce"][0]
    except KeyError as error:
        raise LaunchFailed("login", f"no {error} in the auth URL") from error
    if auth.get("login_hint") != [sub] or auth.get("redirect_uri") != [side.launch_url]:
        raise LaunchFailed("login", "auth URL does not match the login")
    cookies = [c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or []]
    state_cookie = [c for c in cookies if c.startswith("lti1p3-")]
    if not state_cookie:
        raise LaunchFailed("login", "no state cookie")

    # The platform's part: claims for a new person, signed with its key.
    claims = side.person_claims(sub, "Bench", f"Person {n}", f"bench.{run}.{n}@example.com")
    form = urlencode({"id_token": side.id_token(claims, nonce), "state": state})

    t4 = time.perf_counter()
    status, headers, _ = _request(
        conn,
        "POST",
        "/lms/launch",
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "; ".join(state_cookie),
        },
    )
    t5 = time.perf_counter()
    if status != 303 or urlsplit(headers.get("Location", "")).path != "/dashboard":
        raise LaunchFailed("launch", f"HTTP {status}")
    return Sample(
        end=t5,
        total_ms=(t5 - t0) * 1000,
        cookie_check_ms=cookie_check_ms,
        login_ms=login_ms,
        launch_ms=(t5 - t4) * 1000,
    )


def one_hello(conn: http.client.HTTPConnection) -> Sample:
    """The anchor's request: GET / of bare Flask, through the same connection code."""
    t0 = time.perf_counter()
    status, _, body = _request(conn, "GET", "/")
    t1 = time.perf_counter()
    if status != 200 or body != b"hello":
        raise LaunchFailed("hello", f"HTTP {status}")
    ms = (t1 - t0) * 1000
    nan = float("nan")
    return Sample(end=t1, total_ms=ms, cookie_check_ms=nan, login_ms=nan, launch_ms=ms)


Work = Callable[[http.client.HTTPConnection, int], Sample]


def launches(side: PlatformSide, run: str) -> Work:
    return lambda conn, n: one_launch(conn, side, run, n)


def hellos(conn: http.client.HTTPConnection, n: int) -> Sample:
    return one_hello(conn)


def client_loop(
    port: int,
    work: Work,
    counter: itertools.count[int],
    until: float,
    stop: threading.Event,
    log: ClientLog,
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    while not stop.is_set() and time.perf_counter() < until:
        try:
            log.samples.append(work(conn, next(counter)))
        except LaunchFailed as error:
            log.errors.append((time.perf_counter(), str(error)))
        except (OSError, http.client.HTTPException) as error:
            log.errors.append((time.perf_counter(), f"connection: {type(error).__name__}"))
            conn.close()
    conn.close()


def run_clients(
    port: int, work: Work, clients: int, seconds: float, stop: threading.Event
) -> list[ClientLog]:
    counter = itertools.count()
    until = time.perf_counter() + seconds
    logs = [ClientLog() for _ in range(clients)]
    threads = [
        threading.Thread(
            target=client_loop,
            args=(port, work, counter, until, stop, log),
            name=f"client-{i}",
            daemon=True,
        )
        for i, log in enumerate(logs)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():  # short joins keep Ctrl-C responsive
                thread.join(timeout=0.2)
    except BaseException:
        stop.set()
        raise
    return logs


class PgWaitSampler(threading.Thread):
    """Samples what the server's PostgreSQL sessions are doing (pg_stat_activity) every
    ``interval`` seconds: how many are active and what the active ones wait for."""

    def __init__(self, pg_url: str, stop: threading.Event, interval: float = 0.02) -> None:
        super().__init__(name="pg-waits", daemon=True)
        self.pg_url, self.stop, self.interval = pg_url, stop, interval
        self.samples = 0
        self.active = 0
        self.waits: Counter[str] = Counter()

    def run(self) -> None:
        import psycopg

        query = (
            "SELECT wait_event_type, wait_event, left(regexp_replace(query, '\\s+', ' ', 'g'), 60)"
            " FROM pg_stat_activity WHERE application_name = %s AND state = 'active'"
        )
        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            while not self.stop.wait(self.interval):
                rows = conn.execute(query, (APP_NAME,)).fetchall()
                self.samples += 1
                self.active += len(rows)
                for wait_type, wait_event, statement in rows:
                    if wait_type == "Lock":
                        self.waits[f"Lock/{wait_event}: {statement}"] += 1
                    elif wait_type:
                        self.waits[f"{wait_type}/{wait_event}"] += 1
                    else:
                        self.waits["running (no wait)"] += 1

    def summary(self) -> list[str]:
        if not self.samples:
            return []
        lines = [f"average active server sessions in PostgreSQL: {self.active / self.samples:.2f}"]
        for what, count in self.waits.most_common(6):
            lines.append(f"  {count / self.samples:5.2f} sessions on average: {what}")
        return lines


# -- measuring --------------------------------------------------------------------------------
@dataclass
class CpuSnapshot:
    """CPU seconds used so far by every process (with its group: the gunicorn process group,
    PostgreSQL, this bench, or other) and by the whole machine."""

    procs: dict[int, tuple[str, str, float]]  # pid -> (group, "comm[pid]", seconds)
    machine: float
    steal: float
    own_db: frozenset[int] = frozenset()  # the PostgreSQL backends serving our server


def cpu_snapshot(server_pgid: int, own_db: frozenset[int] = frozenset()) -> CpuSnapshot | None:
    """Read /proc (Linux only; None elsewhere). ``own_db``: the pids of the PostgreSQL
    sessions serving the measured server, counted apart from other people's (also in
    "postgres")."""
    try:
        busy, steal, _ = machine_jiffies()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    procs: dict[int, tuple[str, str, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                data = stat.read()
        except OSError:
            continue  # exited meanwhile
        pid = int(entry.name)
        comm = data[data.find("(") + 1 : data.rfind(")")]
        fields = data[data.rfind(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if pid == os.getpid():
            group = "bench client"
        elif int(fields[2]) == server_pgid:
            group = "gunicorn"
        elif comm.startswith("postgres"):
            group = "postgres"
        else:
            group = "other"
        procs[pid] = (group, f"{comm}[{pid}]", seconds)
    return CpuSnapshot(procs, busy / tick, steal / tick, own_db)


def cpu_shares(
    before: CpuSnapshot | None, after: CpuSnapshot | None, seconds: float
) -> tuple[dict[str, float], list[str]]:
    """Percent of one core per consumer over the window, and the busiest other processes.
    Processes that exited during the window are missed; "other" is what the machine spent
    outside the server, PostgreSQL and the bench (kernel network work, other people's jobs,
    which distort the result)."""
    if before is None or after is None:
        return {}, []
    shares = dict.fromkeys(("gunicorn", "postgres", "bench client"), 0.0)
    others: dict[str, float] = {}
    for pid, (group, name, used) in after.procs.items():
        earlier = before.procs.get(pid)
        delta = 100 * (used - (earlier[2] if earlier and earlier[1] == name else 0.0)) / seconds
        if group == "other":
            others[name] = delta
        else:
            shares[group] += delta
        if pid in after.own_db and pid in before.own_db:
            shares["postgres (ours)"] = shares.get("postgres (ours)", 0.0) + delta
    shares["machine"] = 100 * (after.machine - before.machine) / seconds
    shares["steal"] = 100 * (after.steal - before.steal) / seconds
    known = shares["gunicorn"] + shares["postgres"] + shares["bench client"]
    shares["other"] = max(0.0, shares["machine"] - known)
    top = sorted(others.items(), key=lambda item: -item[1])[:3]
    return shares, [f"{name} {pct:.0f}%" for name, pct in top if pct >= 5]


@dataclass
class Result:
    backend: str
    seconds: float
    clients: int
    workers: int
    worker_class: str
    launches: int
    errors: int
    launches_per_s: float
    launch_p50: float
    launch_p95: float
    launch_p99: float
    login_p50: float
    login_p99: float
    cookie_check_p50: float
    cookie_check_p99: float
    complete_p50: float
    complete_p99: float
    cpu_pct: dict[str, float]
    error_kinds: dict[str, int]
    busy_others: list[str] = field(default_factory=list)
    pg_waits: list[str] = field(default_factory=list)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)  # os.getloadavg()
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def cpu_ms_each(self, consumer: str = "gunicorn") -> float:
        """CPU milliseconds ``consumer`` spent per launch (per request for the anchor)."""
        pct = self.cpu_pct.get(consumer, float("nan"))
        return 10 * pct / self.launches_per_s if self.launches_per_s else float("nan")


@dataclass
class Round:
    """One pass of ours, then the anchor right after it."""

    backend: str
    number: int
    ours: Result
    bare: Result  # launches_per_s, launch_p50, cpu_ms_each: per request of bare Flask

    @property
    def ratio(self) -> float:
        """Launches/s ÷ (bare requests/s ÷ 2): a launch is two requests to the tool."""
        return self.ours.launches_per_s / (self.bare.launches_per_s / 2)

    @property
    def cpu_ratio(self) -> float:
        """The same ratio from the server's CPU: bare CPU per request x 2 ÷ ours per launch."""
        return 2 * self.bare.cpu_ms_each() / self.ours.cpu_ms_each()

    @property
    def server_cpu_ms(self) -> float:
        """Our server's CPU per launch: gunicorn, plus its own PostgreSQL sessions."""
        own_db = self.ours.cpu_pct.get("postgres (ours)", 0.0)
        return self.ours.cpu_ms_each() + (
            10 * own_db / self.ours.launches_per_s if self.ours.launches_per_s else 0.0
        )


TARGET_RATIO = 0.25


def summarise(
    backend: str,
    args: argparse.Namespace,
    logs: list[ClientLog],
    window: tuple[float, float],
    cpu: dict[str, float],
) -> Result:
    start, end = window
    samples = [s for log in logs for s in log.samples if start <= s.end <= end]
    errors = [e for log in logs for t, e in log.errors if start <= t <= end]

    def sorted_of(name: str) -> list[float]:
        return sorted(v for s in samples if (v := getattr(s, name)) == v)  # NaN: not measured

    launch, login = sorted_of("launch_ms"), sorted_of("login_ms")
    cookie, total = sorted_of("cookie_check_ms"), sorted_of("total_ms")
    return Result(
        backend=backend,
        seconds=end - start,
        clients=args.clients,
        workers=args.workers,
        worker_class=args.worker_class + (f"x{args.threads}" if args.threads else ""),
        launches=len(samples),
        errors=len(errors),
        launches_per_s=len(samples) / (end - start),
        launch_p50=percentile(launch, 50),
        launch_p95=percentile(launch, 95),
        launch_p99=percentile(launch, 99),
        login_p50=percentile(login, 50),
        login_p99=percentile(login, 99),
        cookie_check_p50=percentile(cookie, 50),
        cookie_check_p99=percentile(cookie, 99),
        complete_p50=percentile(total, 50),
        complete_p99=percentile(total, 99),
        cpu_pct=cpu,
        error_kinds=dict(Counter(errors).most_common(5)),
    )


def own_db_pids(pg_url: str) -> frozenset[int]:
    """The PostgreSQL backends serving the bench's server (named by application_name)."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APP_NAME,)
        ).fetchall()
    return frozenset(pid for (pid,) in rows)


def measure(
    label: str,
    port: int,
    work: Work,
    server: subprocess.Popen[bytes],
    args: argparse.Namespace,
    stop: threading.Event,
    pg_url: str | None = None,
) -> Result:
    """One measured window of ``work`` against ``server``, with its CPU and the machine's
    load average before and after."""
    own_db = own_db_pids(pg_url) if pg_url else frozenset()
    load_before = os.getloadavg()
    cpu_before = cpu_snapshot(server.pid, own_db)
    start = time.perf_counter()
    sampler = None
    if args.pg_waits and pg_url:
        sampler = PgWaitSampler(pg_url, threading.Event())
        sampler.start()
    try:
        logs = run_clients(port, work, args.clients, args.duration, stop)
    finally:
        if sampler is not None:
            sampler.stop.set()
            sampler.join(timeout=5)
    end = min(time.perf_counter(), start + args.duration)
    cpu_after = cpu_snapshot(server.pid, own_db)
    if stop.is_set():
        raise KeyboardInterrupt
    cpu, busy_others = cpu_shares(cpu_before, cpu_after, time.perf_counter() - start)
    result = summarise(label, args, logs, (start, end), cpu)
    result.busy_others = busy_others
    result.pg_waits = sampler.summary() if sampler else []
    result.load_before, result.load_after = load_before, os.getloadavg()
    return result


def bench_backend(backend: str, args: argparse.Namespace, stop: threading.Event) -> list[Round]:
    with contextlib.ExitStack() as stack:
        tool = stack.enter_context(
            fresh_tool(
                backend,
                args.pg_url,
                schema=SCHEMA,
                app_name=APP_NAME,
                secret=SECRET,
                keep=args.keep_db,
            )
        )
        port, bare_port, base_url = tool.port, free_port(), tool.base_url
        env = {**tool.env, "BENCH_WHATIF": ",".join(args.what_if)}
        side = register_platform(env, base_url, "document" if args.top_level else "iframe")

        log_path, bare_log = tool.workdir / "gunicorn.log", tool.workdir / "bare.log"
        if args.wait_quiet:
            wait_for_quiet_machine(args.wait_quiet)
        server = stack.enter_context(start_gunicorn(env, port, args, log_path))
        bare = stack.enter_context(start_gunicorn(env, bare_port, args, bare_log, bare=True))
        run = secrets.token_hex(4)
        say(
            f"[{backend}] gunicorn {args.workers} {args.worker_class} workers on {base_url}, "
            f"bare Flask on port {bare_port}; {args.clients} client threads; warm-up "
            f"{args.warmup:g} s each, then {args.rounds} rounds of {args.duration:g} s ours, "
            f"{args.duration:g} s bare"
        )
        # One launch alone first: it fetches the platform's JWKS and creates the course's team
        # and resource link, which concurrent first launches would otherwise race to insert.
        try:
            one_launch(
                http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT),
                side,
                run,
                -1,
            )
        except (LaunchFailed, OSError, http.client.HTTPException) as error:
            raise BenchError(f"the first launch failed ({error}):\n{tail(log_path)}") from error
        run_clients(port, launches(side, run + "w"), args.clients, args.warmup, stop)
        run_clients(bare_port, hellos, args.clients, args.warmup, stop)

        pg_url = args.pg_url if backend == "postgresql" else None
        rounds = []
        for number in range(1, args.rounds + 1):
            ours = measure(
                backend, port, launches(side, f"{run}r{number}"), server, args, stop, pg_url
            )
            if ours.errors:
                say(f"[{backend}] server log tail:\n{tail(log_path, 15)}")
            anchor = measure("bare Flask", bare_port, hellos, bare, args, stop)
            rounds.append(Round(backend, number, ours, anchor))
            say(
                f"[{backend}] round {number}: {ours.launches_per_s:.1f} launches/s, bare "
                f"{anchor.launches_per_s:.1f} requests/s, ratio {rounds[-1].ratio:.3f}"
            )
        return rounds


# -- output -----------------------------------------------------------------------------------
ROWS = (
    ("complete launches/s", "launches_per_s", "{:.1f}"),
    ("launch POST p50 (ms)", "launch_p50", "{:.1f}"),
    ("launch POST p95 (ms)", "launch_p95", "{:.1f}"),
    ("launch POST p99 (ms)", "launch_p99", "{:.1f}"),
    ("login, cookie check page p50 (ms)", "cookie_check_p50", "{:.1f}"),
    ("login, cookie check page p99 (ms)", "cookie_check_p99", "{:.1f}"),
    ("login, redirect (--top-level) p50 (ms)", "login_p50", "{:.1f}"),
    ("login, redirect (--top-level) p99 (ms)", "login_p99", "{:.1f}"),
    ("complete launch p50 (ms)", "complete_p50", "{:.1f}"),
    ("complete launch p99 (ms)", "complete_p99", "{:.1f}"),
    ("errors", "errors", "{}"),
    ("launches (measured)", "launches", "{}"),
    ("CPU % (100 = one core): whole machine", "cpu:machine", "{:.0f}"),
    ("CPU %: gunicorn", "cpu:gunicorn", "{:.0f}"),
    ("CPU %: PostgreSQL", "cpu:postgres", "{:.0f}"),
    ("CPU %: bench client", "cpu:bench client", "{:.0f}"),
    ("CPU %: other processes", "cpu:other", "{:.0f}"),
    ("CPU %: stolen by the hypervisor", "cpu:steal", "{:.0f}"),
    ("gunicorn CPU per launch (ms)", "per-launch:gunicorn", "{:.1f}"),
    ("PostgreSQL CPU per launch (ms)", "per-launch:postgres", "{:.1f}"),
    ("bench client CPU per launch (ms)", "per-launch:bench client", "{:.1f}"),
)


def value(result: Result, attr: str) -> float:
    if attr.startswith("cpu:"):
        return result.cpu_pct.get(attr[4:], float("nan"))
    if attr.startswith("per-launch:"):
        return result.cpu_ms_each(attr[11:])
    return getattr(result, attr)


def table(results: list[Result], names: list[str]) -> str:
    header = ["", *names]
    lines = [header, ["---", *("---:" for _ in results)]]
    for label, attr, fmt in ROWS:
        cells = (value(r, attr) for r in results)
        lines.append([label, *("n/a" if v != v else fmt.format(v) for v in cells)])  # NaN
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def anchor_table(rounds: list[Round]) -> str:
    """Ours beside the anchor measured right after it, round by round."""
    lines = [
        "| backend | round | ours: launches/s | anchor: bare Flask requests/s | ratio "
        "| gunicorn CPU ms per launch | + its PostgreSQL sessions | bare CPU ms per request "
        "| CPU ratio (2 x bare ÷ ours, gunicorn) | load average before → after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rounds:
        lines.append(
            f"| {r.backend} | {r.number} | {r.ours.launches_per_s:.1f} "
            f"| {r.bare.launches_per_s:.1f} | {r.ratio:.3f} | {r.ours.cpu_ms_each():.2f} "
            f"| {r.server_cpu_ms:.2f} | {r.bare.cpu_ms_each():.2f} | {r.cpu_ratio:.3f} "
            f"| {r.ours.load_before[0]:.1f} → {r.bare.load_after[0]:.1f} |"
        )
    return "\n".join(lines)


def span(values: list[float], fmt: str = "{:.2f}") -> str:
    low, high = min(values), max(values)
    return (
        fmt.format(low)
        if fmt.format(low) == fmt.format(high)
        else f"{fmt.format(low)} to {fmt.format(high)}"
    )


def report(rounds: list[Round], args: argparse.Namespace) -> None:
    print()
    if args.what_if:
        print(
            "WHAT-IF RUN: prototype fixes monkeypatched into the server, NOT the product: "
            + ", ".join(args.what_if)
        )
    print(
        f"Launch bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {cores()} cores "
        f"({platform.processor() or platform.machine()}), Python {platform.python_version()}, "
        f"gunicorn {args.workers} x {args.worker_class}"
        + (f" x {args.threads} threads" if args.threads else "")
        + f", {args.clients} client threads, {args.rounds} rounds of {args.duration:g} s "
        f"ours then {args.duration:g} s bare Flask, {revision()}"
    )
    print()
    print(anchor_table(rounds))
    print()
    results = [x for r in rounds for x in (r.ours, r.bare)]
    # The anchor's columns: its one request shows in the launch POST and complete rows.
    names = [n for r in rounds for n in (f"{r.backend} {r.number}", f"bare Flask {r.number}")]
    print(table(results, names))
    print()
    for result in results:
        for kind, count in result.error_kinds.items():
            print(f"{result.backend}: {count} x {kind}")
        for line in result.pg_waits:
            print(f"{result.backend}: {line}")
        if result.busy_others:
            print(f"{result.backend}: busy other processes: {', '.join(result.busy_others)}")
        if result.cpu_pct.get("other", 0) > 15:
            print(
                f"{result.backend}: WARNING: other processes used "
                f"{result.cpu_pct['other']:.0f}% of a core during the run; the figures are low"
            )
    for backend in dict.fromkeys(r.backend for r in rounds):
        mine = [r for r in rounds if r.backend == backend]
        ratios = sorted(r.ratio for r in mine)
        verdict = "meets" if ratios[len(ratios) // 2] >= TARGET_RATIO else "MISSES"
        print(
            f"{backend}: {span([r.ours.launches_per_s for r in mine], '{:.1f}')} launches/s, "
            f"bare Flask {span([r.bare.launches_per_s for r in mine], '{:.1f}')} requests/s: "
            f"ratio {span(ratios, '{:.3f}')} ({verdict} the goal >= {TARGET_RATIO} by its median); "
            f"gunicorn CPU {span([r.ours.cpu_ms_each() for r in mine])} ms per launch against "
            f"bare {span([r.bare.cpu_ms_each() for r in mine])} ms per request "
            f"(CPU ratio {span([r.cpu_ratio for r in mine], '{:.3f}')})"
        )


def whatif_names(value: str) -> list[str]:
    if str(ROOT / "bench") not in sys.path:  # after the repository: see start_gunicorn
        sys.path.append(str(ROOT / "bench"))
    import whatif

    names = whatif.parse(value)
    unknown = [name for name in names if name not in whatif.FIXES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown fix {unknown[0]!r}; known: {list(whatif.FIXES)}")
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Load-test complete LTI 1.3 launches (login answered by the cookie check page, "
            "signed id_token, launch POST), one new user per launch, against gunicorn on a "
            "fresh database."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--backend", choices=("postgresql", "sqlite", "both"), default="both", help="database"
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per measured window (ours or bare)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="windows of ours, each followed by one of bare Flask"
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of unmeasured load")
    parser.add_argument(
        "--clients", type=int, default=8, help="concurrent client threads (one bench process)"
    )
    parser.add_argument(
        "--workers", type=int, default=2 * cores() + 1, help="gunicorn workers (2*cores+1)"
    )
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class")
    parser.add_argument(
        "--threads", type=int, default=0, help="gunicorn --threads (0: gunicorn's default)"
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG),
        help="PostgreSQL database in which the bench_launch schema is made (BENCH_DATABASE_URL)",
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="leave the bench_launch schema behind"
    )
    parser.add_argument(
        "--top-level",
        action="store_true",
        help="launch as a new window (Sec-Fetch-Dest: document): the login redirects, no "
        "cookie check page; "
        "by default the browser says iframe, as inside an LMS course page",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each backend, wait up to this long for other processes to stop using CPU",
    )
    parser.add_argument(
        "--pg-waits",
        action="store_true",
        help="sample pg_stat_activity during the run: what the server's sessions wait for",
    )
    parser.add_argument(
        "--what-if",
        type=whatif_names,
        default=[],
        metavar="FIX,FIX|all",
        help="serve the product with prototype fixes monkeypatched in (bench/whatif.py), to "
        "estimate what they would save; the results are then NOT the product's",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if min(args.duration, args.clients, args.workers, args.rounds) <= 0 or args.warmup < 0:
        parser.error("--duration, --rounds, --clients, --workers must be positive, --warmup >= 0")
    if args.workers * max(1, args.threads) < 2:
        # The tool fetches the platform's JWKS from the same server during the first launch.
        parser.error("the server needs room for two requests at once: --workers 2 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not have_gunicorn():
        return 2
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    stop = stop_on_signals()
    results: list[Round] = []
    try:
        for backend in backends:
            try:
                results += bench_backend(backend, args, stop)
            except BenchError as error:
                say(f"[{backend}] not measured: {error}")
    except KeyboardInterrupt:
        stop.set()
        say("Interrupted: the server was stopped.")
        return 130
    if not results:
        return 1
    report(results, args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        rows = [asdict(r) | {"ratio": r.ratio, "cpu_ratio": r.cpu_ratio} for r in results]
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
