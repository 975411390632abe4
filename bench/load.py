"""Mixed load (issue 8): learners, trainers and managers at once, at a fixed arrival rate,
against gunicorn, with ``flask lms worker`` draining the grades they produce.

Setup (not measured). A fresh database (schema ``bench_load`` in the ``test`` database on
PostgreSQL, a temporary file on SQLite), ``flask db upgrade`` and ``flask demo load`` (tool
key, the development platform, the six built-in courses, the badges). The development
platform's AGS is served by the tool itself (``/dev-platform/token``, ``…/scores``), which would
put the worker's score POSTs on the measured server; so its token URL is pointed at a fake LMS
(``bench/fake_lms.py``) and the bench, which signs the id_tokens as the platform, names that
fake LMS's line items in the launches' AGS claim. gunicorn (``--workers``, sync) then serves
the tool on a free 127.0.0.1 port, with the production config file (deploy/gunicorn.conf.py).

People: LMS course contexts (teams) of ``--team-size`` learners, 2 trainers (Instructor) and
1 manager (Mentor) each; ``--learners`` in all, by default enough that no learner submits the
check more than twice in the run. Everyone launches once through the real LTI flow (login
answered by the cookie check page, signed id_token, launch POST) and keeps the session cookie
it got, in a cookie jar per person. Each team's activity opens *Net Promoter Score* (custom
``target=course:net-promoter-score``) and offers a gradebook. Then, in-process: learners join
the programme and are enrolled with every lesson, every knowledge check but the last and the
exercise done, and one failed attempt at the last check; each team gets scenario
conversations waiting for a trainer's grade (taken through ``start_scenario``/``reply``,
placed through a scenario activity with a gradebook).

Timed phase: operations arrive at fixed intervals (open loop: the schedule does not wait for
answers), 70% of them by learners, 20% by trainers, 10% by managers, at ``--rate`` HTTP
requests per second on average (an operation is 1 to 3 requests, made one after the other as
a browser would):

    learner  launch        GET /lms/login (the cookie check page, with the state cookie
                           and the platform's auth URL), POST /lms/launch (303)   2 requests
             course page   GET /courses/net-promoter-score/                        1
             check         GET the last module's check (its CSRF token), POST answers (302):
                           every other one wrong (a failed attempt), the others right, which
                           completes the course: result, badges and a grade for the LMS  2
    trainer  dashboard     GET /dashboard (the team's members)                     1
             queue         GET /assessments/queue                                  1
             grade         GET /assessments/<id>/grade, POST the levels (302): a grade
                           for the LMS                                             2
    manager  award         GET /recognition/award, POST a badge with a message (302)  2

Each kind rotates within its persona; people are taken in turn. Forms are fetched and posted
with their CSRF token, as a browser does; redirects after a POST are not followed. A thread
pool (``--client-threads``) runs the operations, so the client does not slow down with the
server; the lag between an operation's due time and its start is reported. Latency of an
operation's first request counts from its due time (queueing included), of the others from
when they were sent. The first ``--warmup`` seconds are not measured. A ``flask lms worker``
runs throughout; the outbox is counted when the measured window opens and closes, and again
once the worker has drained it (up to ``--drain-wait`` seconds).

    .venv/bin/python bench/load.py                                   # 100 requests/s, 60 s
    .venv/bin/python bench/load.py --duration 10 --rate 50
    .venv/bin/python bench/load.py --backend sqlite --workers 3

Where the time goes: ``--server-timing`` adds gunicorn hooks (a config file in the run's
temporary directory; no product code changes) that time each request inside its worker
(service time, which leaves out the wait for a free worker, and CPU time) and count its SQL
statements, and prints them per request type with the most repeated statements.
``--timeline`` prints the window second by second (answered requests, latency, lag).

Exit status 0 when the bench ran (whether or not the target was met: see the printed
verdict), 1 when it could not run, 130 when interrupted. Every process it starts (gunicorn,
the worker, the fake LMS) is stopped at the end, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import gc
import html
import http.client
import json
import math
import os
import platform
import random
import re
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from common import (
    DEFAULT_PG,
    VENV_BIN,
    BenchError,
    cores,
    free_port,
    fresh_tool,
    have_gunicorn,
    percentile,
    revision,
    say,
    schema_to_myself,
    seeded_check_attempt,
    serving,
    spawn,
    stop_on_signals,
    stop_process_group,
    tail,
    wait_for_quiet_machine,
)
from fake_lms import PlatformSide, auth_request, lms_call, register_platform, start_fake_lms
from grades import process_cpu
from launch import _request, cpu_shares, cpu_snapshot

SCHEMA = "bench_load"
APP_NAME = "bench-load"  # the server's PostgreSQL sessions
SECRET = "bench-load-" + "l" * 30  # a throwaway server on 127.0.0.1
SLUG = "net-promoter-score"
TRAINERS_PER_TEAM = 2
MANAGERS_PER_TEAM = 1
RETRY_GAP = 25  # a learner's right answers come this many learners after their wrong ones
REQUEST_TIMEOUT = 30.0
TARGET_P99_MS = 250.0
LOCK_KEY = 0x6265_6E63_6C6F  # pg advisory lock: one bench/load.py per database at a time
BARE_PATH = "/healthz"  # --bare: the same client and server, no work behind the answer
LAG_WARNING_MS = 25.0  # schedule lag p99 above this (a tenth of the target): behind

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
AGS_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/"
LTI_ROLES = {
    "learner": [LIS + "membership#Learner"],
    "trainer": [LIS + "membership#Instructor"],
    "manager": [LIS + "membership#Mentor"],
}

# persona -> (share of operations, its operations in rotation); operation -> HTTP requests
MIX = {
    "learner": (0.7, ("launch", "course page", "check")),
    "trainer": (0.2, ("dashboard", "queue", "grade")),
    "manager": (0.1, ("award",)),
}
REQUESTS_PER_OP = {
    "launch": 2,
    "course page": 1,
    "check": 2,
    "dashboard": 1,
    "queue": 1,
    "grade": 2,
    "award": 2,
}
REQUEST_KINDS = (
    "launch: login (cookie check)",
    "launch: POST",
    "course page",
    "check: form",
    "check: POST",
    "trainer dashboard",
    "grading queue",
    "grade: form",
    "grade: POST",
    "award: form",
    "award: POST",
)

CSRF_INPUT = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
REQUEST_ID_INPUT = re.compile(rb'name="request_id" type="hidden" value="([^"]*)"')
OPTION_VALUE = re.compile(rb'<option[^>]*value="(\d+)"')
LEVEL_INPUT = re.compile(rb'name="level_([^"]+)" value="(\d+)"\s*(checked)?')
HEADING = re.compile(rb"<h1[^>]*>(.*?)</h1>", re.S)


def persona_of(kind: str) -> str:
    if kind.startswith(("launch", "course", "check")):
        return "learner"
    return "manager" if kind.startswith("award") else "trainer"


def mean_requests_per_op() -> float:
    return sum(
        share * sum(REQUESTS_PER_OP[op] for op in ops) / len(ops) for share, ops in MIX.values()
    )


def select_options(body: bytes, name: str) -> list[str]:
    found = re.search(
        rb'<select[^>]*name="' + name.encode() + rb'"[^>]*>(.*?)</select>', body, re.S
    )
    values = OPTION_VALUE.findall(found.group(1)) if found else []
    return [v.decode() for v in values if v != b"0"]


# gunicorn hooks for --server-timing: each worker appends one line per request (method, path,
# query, service wall ms, CPU ms, its SQL statements counted by text, end on the monotonic
# clock) to its own file.
SERVER_TIMING_HOOKS = """\
import json
import os
import re
import time
from collections import Counter

from sqlalchemy import event
from sqlalchemy.engine import Engine

_sql = Counter()


def _count(conn, cursor, statement, parameters, context, executemany):
    _sql[re.sub(r"\\s+", " ", statement)[:90]] += 1


def post_worker_init(worker):
    event.listen(Engine, "before_cursor_execute", _count)
    path = os.path.join(LOG_DIR, "timing-%d.tsv" % os.getpid())
    worker.timing_log = open(path, "a", buffering=1)


def pre_request(worker, req):
    _sql.clear()
    worker.timing_start = (time.perf_counter(), time.process_time())


def post_request(worker, req, environ, resp):
    wall, cpu = worker.timing_start
    end = time.perf_counter()
    worker.timing_log.write("%s\\t%s\\t%s\\t%.3f\\t%.3f\\t%s\\t%.6f\\n" % (
        req.method, req.path, req.query, 1000 * (end - wall),
        1000 * (time.process_time() - cpu), json.dumps(_sql), end))
"""
SERVER_KINDS = (
    ("GET", re.compile(r"^/lms/login$"), "launch: login"),
    ("POST", re.compile(r"^/lms/launch$"), "launch: POST"),
    ("GET", re.compile(r"^/courses/[^/]+/$"), "course page"),
    ("GET", re.compile(r"^/courses/[^/]+/m/[^/]+/check$"), "check: form"),
    ("POST", re.compile(r"^/courses/[^/]+/m/[^/]+/check$"), "check: POST"),
    ("GET", re.compile(r"^/dashboard$"), "trainer dashboard"),
    ("GET", re.compile(r"^/assessments/queue$"), "grading queue"),
    ("GET", re.compile(r"^/assessments/\d+/grade$"), "grade: form"),
    ("POST", re.compile(r"^/assessments/\d+/grade$"), "grade: POST"),
    ("GET", re.compile(r"^/recognition/award$"), "award: form"),
    ("POST", re.compile(r"^/recognition/award$"), "award: POST"),
)


DEPLOY_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"


def gunicorn_config(workdir: Path, server_timing: bool) -> list[str]:
    """gunicorn runs with the production settings (deploy/gunicorn.conf.py: preloaded app,
    heartbeat files in memory, each worker in a session of its own); the command line's
    address, worker count and timeout win over the file's. ``--server-timing``'s hooks are
    added to a copy (gunicorn reads one config file)."""
    if not server_timing:
        return ["--config", str(DEPLOY_CONFIG)]
    hooks = workdir / "timing_hooks.py"
    production = f"exec(compile(open({str(DEPLOY_CONFIG)!r}).read(), 'gunicorn.conf.py', 'exec'))"
    hooks.write_text(f"{production}\nLOG_DIR = {str(workdir)!r}\n" + SERVER_TIMING_HOOKS)
    return ["--config", str(hooks)]


def children_of(pid: int) -> set[int]:
    """The processes ``pid`` started (gunicorn's workers: in sessions and process groups of
    their own, so not found by the master's process group)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return {int(child) for child in children.read().split()}
    except OSError:
        return set()


def server_kind(method: str, path: str, query: str) -> str:
    for want, pattern, kind in SERVER_KINDS:
        if method == want and pattern.match(path):
            if kind == "launch: login":
                return "launch: login (cookie check)"
            return kind
    return f"other: {method} {path}"


@dataclass
class ServerRow:
    kind: str
    count: int
    p50: float  # service time, ms
    p99: float
    cpu: float  # mean CPU ms
    sql: float  # mean statements
    repeated: list[tuple[str, float]]  # the most frequent statements, per request


def server_timing(log_dir: Path, start: float, end: float) -> list[ServerRow]:
    """Per request kind, from the hooks' files, for requests that ended within [start, end)."""
    found: dict[str, list[tuple[float, float, dict[str, int]]]] = {}
    for path in log_dir.glob("timing-*.tsv"):
        for line in path.read_text().splitlines():
            method, url, query, wall, cpu, sql, ended = line.split("\t")
            if start <= float(ended) < end:
                kind = server_kind(method, url, query)
                found.setdefault(kind, []).append((float(wall), float(cpu), json.loads(sql)))
    order = {kind: n for n, kind in enumerate(REQUEST_KINDS)}
    rows = []
    for kind in sorted(found, key=lambda k: (order.get(k, len(order)), k)):
        values = found[kind]
        walls = sorted(v[0] for v in values)
        statements: Counter[str] = Counter()
        for _, _, counts in values:
            statements.update(counts)
        n = len(values)
        rows.append(
            ServerRow(
                kind,
                n,
                percentile(walls, 50),
                percentile(walls, 99),
                sum(v[1] for v in values) / n,
                statements.total() / n,
                [(text, count / n) for text, count in statements.most_common(3)],
            )
        )
    return rows


# -- people and their browsers ----------------------------------------------------------------
@dataclass
class Person:
    role: str  # learner | trainer | manager
    index: int
    team: int
    sub: str
    claims: dict[str, Any]  # the platform's id_token claims for this person, without times
    cookies: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def cookie_header(self, only: Callable[[str], bool] | None = None) -> str:
        with self.lock:
            return "; ".join(f"{k}={v}" for k, v in self.cookies.items() if not only or only(k))

    def take_cookies(self, headers: http.client.HTTPMessage) -> None:
        for line in headers.get_all("Set-Cookie") or []:
            pair, _, attributes = line.partition(";")
            name, _, value = pair.strip().partition("=")
            gone = re.search(r"max-age=0\b|expires=thu, 01 jan 1970", attributes, re.I)
            with self.lock:
                if gone:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value

    def forget_cookies(self, prefix: str) -> None:
        with self.lock:
            for name in [n for n in self.cookies if n.startswith(prefix)]:
                del self.cookies[name]


@dataclass(slots=True)
class Sample:
    kind: str
    due: float  # when the operation was due
    sent: float  # when the request was sent
    end: float
    ms: float


@dataclass
class Recorder:
    """What the clients saw; appends from many threads (list.append is atomic)."""

    samples: list[Sample] = field(default_factory=list)
    errors: list[tuple[float, str, str]] = field(default_factory=list)  # (due, kind, what)
    lags: list[tuple[float, float]] = field(default_factory=list)  # (due, ms late)
    outcomes: list[tuple[float, str]] = field(default_factory=list)  # (due, what happened)
    in_flight: int = 0  # operations running now
    most_in_flight: int = 0
    starved: list[float] = field(default_factory=list)  # due times that found no free thread
    lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1


class Failed(Exception):
    """A request of an operation failed (already recorded); the operation stops."""


@dataclass
class Client:
    port: int
    record: Recorder
    side: PlatformSide
    seeded: Seeded | None = None

    def call(
        self,
        person: Person,
        kind: str,
        due: float,
        method: str,
        path: str,
        *,
        expect: int,
        form: list[tuple[str, str]] | dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        cookies: Callable[[str], bool] | None = None,
        first: bool = False,
    ) -> tuple[http.client.HTTPMessage, bytes]:
        """One request as ``person``'s browser; raises ``Failed`` after recording a wrong
        status or a broken connection. ``first``: latency counts from the due time."""
        sent = dict(headers or {})
        cookie = person.cookie_header(cookies)
        if cookie:
            sent["Cookie"] = cookie
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        sent_at = time.perf_counter()
        started = due if first else sent_at
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            status, answer, data = _request(conn, method, path, body, sent)
        except (OSError, http.client.HTTPException) as error:
            self.record.errors.append((due, kind, f"connection: {type(error).__name__}"))
            raise Failed from error
        finally:
            conn.close()
        end = time.perf_counter()
        person.take_cookies(answer)
        if status != expect:
            title = HEADING.search(data) if status >= 400 else None
            what = html.unescape(title.group(1).decode(errors="replace")).strip() if title else ""
            self.record.errors.append((due, kind, f"HTTP {status} {what[:80]}".rstrip()))
            raise Failed
        self.record.samples.append(Sample(kind, due, sent_at, end, 1000 * (end - started)))
        return answer, data

    def outcome(self, due: float, what: str) -> None:
        self.record.outcomes.append((due, what))

    # -- operations ------------------------------------------------------------------------
    def launch(self, person: Person, due: float) -> None:
        query = self.side.login_query(person.sub)
        browser = {"Sec-Fetch-Dest": "iframe"}  # inside the LMS's course page
        kind = "launch: login (cookie check)"
        _, body = self.call(
            person, kind, due, "GET", "/lms/login?" + query, expect=200, headers=browser, first=True
        )
        auth = auth_request(body)
        if auth is None:
            self.record.errors.append((due, kind, "no cookie-check page"))
            raise Failed
        if "state" not in auth or "nonce" not in auth:
            self.record.errors.append((due, kind, "no state or nonce in the auth URL"))
            raise Failed
        state = auth["state"][0]
        token = self.side.id_token(person.claims, auth["nonce"][0])

        def sent_back(cookie: str) -> bool:  # the session's, and this login's state cookie
            return not cookie.startswith("lti1p3-") or cookie == f"lti1p3-{state}"

        form = {"id_token": token, "state": state}
        kind = "launch: POST"
        self.call(
            person, kind, due, "POST", "/lms/launch", expect=303, form=form, cookies=sent_back
        )
        person.forget_cookies("lti1p3-")

    def course_page(self, person: Person, due: float) -> None:
        self.call(person, "course page", due, "GET", f"/courses/{SLUG}/", expect=200, first=True)

    def check(self, person: Person, due: float, right: bool) -> None:
        assert self.seeded is not None
        path = f"/courses/{SLUG}/m/{self.seeded.module}/check"
        _, body = self.call(person, "check: form", due, "GET", path, expect=200, first=True)
        if CSRF_INPUT.search(body) is None:  # passed already: the page shows no form
            self.outcome(due, "check: already passed, no form")
            return
        try:
            form = answer_form(body, self.seeded.questions, right)
        except ValueError as error:
            self.record.errors.append((due, "check: form", f"unreadable form: {error}"))
            raise Failed from error
        # A marked attempt redirects (302) to its feedback; 400 would mean the answers were
        # not read (the form came back with "answer every question").
        headers, _ = self.call(person, "check: POST", due, "POST", path, expect=302, form=form)
        if "attempt=" not in headers.get("Location", ""):
            self.outcome(due, "check: already passed")
        else:
            self.outcome(due, "check: passed, course completed" if right else "check: failed")

    def dashboard(self, person: Person, due: float) -> None:
        self.call(person, "trainer dashboard", due, "GET", "/dashboard", expect=200, first=True)

    def queue(self, person: Person, due: float) -> None:
        path = "/assessments/queue"
        self.call(person, "grading queue", due, "GET", path, expect=200, first=True)

    def grade(self, person: Person, due: float) -> None:
        assert self.seeded is not None
        try:
            assessment = self.seeded.waiting[person.team].popleft()
        except IndexError:
            self.outcome(due, "grade: nothing left to grade (queue page instead)")
            self.queue(person, due)
            return
        path = f"/assessments/{assessment}/grade"
        _, body = self.call(person, "grade: form", due, "GET", path, expect=200, first=True)
        token = CSRF_INPUT.search(body)
        levels: dict[str, str] = {}
        for criterion, level, checked in LEVEL_INPUT.findall(body):
            if checked or criterion.decode() not in levels:
                levels[criterion.decode()] = level.decode()  # the suggestion, else level 1
        if token is None or not levels:
            self.record.errors.append((due, "grade: form", "no CSRF token or no levels"))
            raise Failed
        form = [("csrf_token", token.group(1).decode())]
        form += [(f"level_{c}", level) for c, level in levels.items()]
        form.append(("comment", "Good structure; acknowledge the customer's feeling earlier."))
        self.call(person, "grade: POST", due, "POST", path, expect=302, form=form)
        self.outcome(due, "grade: given")

    def bare(self, person: Person, due: float) -> None:
        self.call(person, "bare", due, "GET", BARE_PATH, expect=200, first=True)

    def award(self, person: Person, due: float, rng: random.Random) -> None:
        path = "/recognition/award"
        _, body = self.call(person, "award: form", due, "GET", path, expect=200, first=True)
        token, request_id = CSRF_INPUT.search(body), REQUEST_ID_INPUT.search(body)
        people, badges = select_options(body, "recipient"), select_options(body, "badge")
        if token is None or request_id is None or not people or not badges:
            self.record.errors.append(
                (due, "award: form", "no token, request id, people or badges")
            )
            raise Failed
        form = {
            "csrf_token": token.group(1).decode(),
            "request_id": request_id.group(1).decode(),
            "recipient": rng.choice(people),
            "badge": rng.choice(badges),
            "message": "Calm and clear with a difficult customer today: thank you.",
        }
        self.call(person, "award: POST", due, "POST", path, expect=302, form=form)
        self.outcome(due, "award: given")


# -- setup ------------------------------------------------------------------------------------
@dataclass
class Seeded:
    module: str  # the last module's slug: its check is what learners submit
    questions: list[dict[str, Any]]  # its questions, in the page's order, with their key
    waiting: dict[int, deque[int]]  # team -> assessments waiting for a grade


def make_people(side: PlatformSide, teams: int, team_size: int, lms_base: str) -> list[Person]:
    people = []
    for team in range(teams):
        context = {
            "id": f"bench-load-team-{team}",
            "label": f"LOAD{team:03d}",
            "title": f"Contact centre team {team}",
            "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
        }
        ags = {
            "scope": [AGS_SCOPE + s for s in ("lineitem", "lineitem.readonly", "score")],
            "lineitems": f"{lms_base}/lineitems?type_id=1",
            "lineitem": f"{lms_base}/lineitems/{team + 1}/lineitem?type_id=1",
        }
        roles = (
            ["trainer"] * TRAINERS_PER_TEAM
            + ["manager"] * MANAGERS_PER_TEAM
            + ["learner"] * team_size
        )
        for n, role in enumerate(roles):
            sub = f"bench-load-{role}-{team}-{n}"
            given, family = role.capitalize(), f"T{team} N{n}"
            claims = dict(side.claims)
            claims.update(
                {
                    "sub": sub,
                    "name": f"{given} {family}",
                    "given_name": given,
                    "family_name": family,
                    "email": f"{sub}@example.com",
                    CLAIM + "roles": LTI_ROLES[role],
                    CLAIM + "context": context,
                    CLAIM + "resource_link": {
                        "id": f"bench-load-nps-{team}",
                        "title": "Net Promoter Score",
                    },
                    CLAIM + "custom": {"target": f"course:{SLUG}"},
                    AGS_CLAIM: ags,
                }
            )
            people.append(Person(role, len(people), team, sub, claims))
    return people


def launch_everyone(client: Client, people: list[Person], threads: int) -> None:
    """One launch per person; each team's first launch alone (it creates the team and its
    activity, which concurrent first launches would race to insert)."""
    first = {}
    for person in people:
        first.setdefault(person.team, person)
    for person in first.values():
        _launch_quietly(client, person)
    rest = [p for p in people if first[p.team] is not p]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(_launch_quietly, [client] * len(rest), rest))
    if client.record.errors:
        shown = Counter(f"{k}: {w}" for _, k, w in client.record.errors).most_common(5)
        raise BenchError(f"{len(client.record.errors)} setup launches failed: {shown}")


def _launch_quietly(client: Client, person: Person) -> None:
    with contextlib.suppress(Failed):
        client.launch(person, time.perf_counter())


class CheckForm(HTMLParser):
    """The knowledge check form as a browser sees it: its hidden fields (CSRF token, the
    render's ``attempt``) and, per question fieldset in page order, its controls with the
    text of their labels. Every name and value is the render's opaque tag
    (``core.questions``), so the answers are found by the options' words, as a person would."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hidden: list[tuple[str, str]] = []
        self.questions: list[list[dict[str, str]]] = []  # per fieldset: its controls
        self.labels: dict[str, str] = {}  # control id -> label text
        self._label_for: str | None = None
        self._label_text: list[str] = []
        self._select: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "fieldset" and "question" in a.get("class", "").split():
            self.questions.append([])
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden.append((a.get("name", ""), a.get("value", "")))
        elif tag == "input" and self.questions:
            self.questions[-1].append(
                {
                    "kind": a.get("type", "text"),
                    "id": a.get("id", ""),
                    "name": a.get("name", ""),
                    "value": a.get("value", ""),
                }
            )
        elif tag == "select" and self.questions:
            self._select = {"kind": "select", "id": a.get("id", ""), "name": a.get("name", "")}
            self.questions[-1].append(self._select)
        elif tag == "label":
            self._label_for, self._label_text = a.get("for"), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._label_for is not None:
            self.labels[self._label_for] = " ".join("".join(self._label_text).split())
            self._label_for = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._label_for is not None:
            self._label_text.append(data)


def answer_form(body: bytes, questions: list[dict[str, Any]], right: bool) -> list[tuple[str, str]]:
    """What a learner who knows the answers (``right``) or gets each one wrong posts for the
    rendered check ``body``: the page's own field names and option values, chosen by the
    options' words; raises ``ValueError`` when the page does not show these questions."""
    page = CheckForm()
    page.feed(body.decode())
    if len(page.questions) != len(questions):
        raise ValueError(f"{len(page.questions)} question fieldsets, expected {len(questions)}")
    form = list(page.hidden)
    for question, controls in zip(questions, page.questions, strict=True):
        words = [" ".join(page.labels.get(c["id"], "").split()) for c in controls]
        if question["type"] == "numeric":
            typed = question["answer"] + (0 if right else 999)
            form.append((controls[0]["name"], f"{typed:g}"))
        elif question["type"] == "ordering":
            items = [" ".join(item.split()) for item in question["items"]]
            for control, text in zip(controls, words, strict=True):
                place = items.index(text) + 1
                form.append((control["name"], str(place if right else len(items) + 1 - place)))
        else:
            good = {" ".join(o["text"].split()) for o in question["options"] if o.get("correct")}
            ticked = [c for c, text in zip(controls, words, strict=True) if (text in good) == right]
            if not ticked or (right and len(ticked) != len(good)):
                raise ValueError(f"question {question['id']}: the options' words do not match")
            form += [(c["name"], c["value"]) for c in (ticked if right else ticked[:1])]
    return form


def agent_replies() -> list[str]:
    from common import ROOT

    replies = []
    for path in sorted((ROOT / "tests" / "data" / "transcripts" / "labelled").glob("*.json")):
        turns = json.loads(path.read_text())["turns"]
        replies += [t["text"] for t in turns if t["speaker"] == "agent" and len(t["text"]) < 1500]
    return replies or ["I'm sorry about that; let me put it right for you now."]


def seed(app: Any, people: list[Person], per_team: int, lms_base: str) -> Seeded:
    """Learners joined and nearly through the course; conversations waiting for a grade."""
    from sqlalchemy import select

    from assessments.library import scenarios
    from assessments.scenarios import reply, start_scenario
    from core.db import db, utcnow
    from courses.models import ExerciseSubmission, ItemProgress
    from courses.services import course_by_slug, outline_of, start_course
    from lms.models import ResourceLink
    from people.models import Membership, User

    rng = random.Random(8)
    replies = agent_replies()
    with app.app_context():
        session = db.session
        course = course_by_slug(session, SLUG, None)  # a built-in course
        if course is None:
            raise BenchError("the demo data did not load (no course)")
        outline = outline_of(session, course)
        last = outline.modules[-1]
        rows = session.execute(
            select(User, Membership.team_id)
            .join(Membership, Membership.user_id == User.id)
            .where(User.sub.like("bench-load-%"))
        ).all()
        users = {user.sub: (user, team_id) for user, team_id in rows}
        missing = [p.sub for p in people if p.sub not in users]
        if missing:
            raise BenchError(f"{len(missing)} people have no user or membership, e.g. {missing[0]}")
        links = {
            link.lti_id: link
            for link in session.scalars(
                select(ResourceLink).where(ResourceLink.lti_id.like("bench-load-nps-%"))
            )
        }
        now = utcnow()
        lesson_keys = [i.key for i in outline.items if i.kind in ("lesson", "example")]
        team_ids: dict[int, int] = {}
        team_learners: dict[int, list[Any]] = {}
        for person in people:
            user, team_id = users[person.sub]
            team_ids[person.team] = team_id
            if person.role != "learner":
                continue
            link = links.get(f"bench-load-nps-{person.team}")
            if link is None or not link.ags_lineitem_url:
                raise BenchError(f"team {person.team}'s activity has no gradebook")
            user.opted_in_at = now
            team_learners.setdefault(person.team, []).append(user)
            enrolment = start_course(
                session,
                user,
                course,
                deployment_id=link.deployment_id,
                team_id=team_id,
                resource_link_id=link.id,
            )
            session.add_all(ItemProgress(enrolment_id=enrolment.id, item=k) for k in lesson_keys)
            for module in outline.modules:
                passed = module is not last
                session.add(
                    seeded_check_attempt(
                        enrolment.id, module["slug"], outline.version, passed=passed
                    )
                )
            session.add(
                ExerciseSubmission(
                    enrolment_id=enrolment.id,
                    version=outline.version,
                    answers={},
                    status="passed",
                    score=10,
                    maximum=10,
                    marks={},
                )
            )
        session.commit()

        library = list(scenarios().values())
        waiting: dict[int, deque[int]] = {}
        for team, learners in team_learners.items():
            any_link = links[f"bench-load-nps-{team}"]
            scenario_link = ResourceLink(
                platform_id=any_link.platform_id,
                deployment_id=any_link.deployment_id,
                lti_id=f"bench-load-scenario-{team}",
                title="Practice conversation",
                target=f"scenario:{library[team % len(library)].id}",
                team_id=team_ids[team],
                ags_lineitem_url=f"{lms_base}/lineitems/{1000 + team}/lineitem?type_id=1",
                ags_lineitems_url=f"{lms_base}/lineitems?type_id=1",
                ags_scopes=[AGS_SCOPE + "lineitem", AGS_SCOPE + "score"],
            )
            session.add(scenario_link)
            session.flush()
            waiting[team] = deque()
            for n in range(per_team):
                learner = learners[n % len(learners)]
                scenario = library[(n + team) % len(library)]
                assessment = start_scenario(
                    session,
                    learner,
                    scenario.id,
                    deployment_id=scenario_link.deployment_id,
                    team_id=team_ids[team],
                    resource_link_id=scenario_link.id,
                )
                for _ in scenario.turns:
                    reply(session, assessment, learner, rng.choice(replies))
                waiting[team].append(assessment.id)
            session.commit()
        session.remove()
    return Seeded(last["slug"], list(last["check"]["questions"]), waiting)


def point_tokens_at(app: Any, issuer: str, lms_base: str) -> None:
    """The development platform's OAuth2 token URL: the fake LMS (see the docstring)."""
    from sqlalchemy import update

    from core.db import db
    from lms.models import Platform

    with app.app_context():
        db.session.execute(
            update(Platform)
            .where(Platform.issuer == issuer)
            .values(auth_token_url=f"{lms_base}/token")
        )
        db.session.commit()
        db.session.remove()


def drop_demo_scores(app: Any, lms_base: str) -> int:
    """``flask demo load`` queues the demo people's scores for the development platform's own
    gradebook, which is the measured server (and the fake LMS's token is refused there, so
    the worker would retry them for ever): only the bench's teams' scores, bound for the fake
    LMS, are kept. Returns how many were dropped."""
    from sqlalchemy import delete, or_, select

    from core.db import db
    from lms.models import GradeDelivery, ResourceLink

    elsewhere = select(ResourceLink.id).where(
        or_(
            ResourceLink.ags_lineitem_url.is_(None),
            ~ResourceLink.ags_lineitem_url.startswith(lms_base + "/"),
        )
    )
    with app.app_context():
        dropped = db.session.execute(
            delete(GradeDelivery).where(GradeDelivery.resource_link_id.in_(elsewhere))
        ).rowcount
        db.session.commit()
        db.session.remove()
    return dropped


# -- the grade outbox -------------------------------------------------------------------------
@dataclass
class Outbox:
    at: datetime
    statuses: dict[str, int]

    @property
    def waiting(self) -> int:
        return self.statuses.get("pending", 0) + self.statuses.get("sending", 0)


def outbox(engine: Any) -> Outbox:
    from sqlalchemy import text

    at = datetime.now(UTC)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT status, count(*) FROM lti_grade_deliveries GROUP BY status")
        )
        return Outbox(at, {status: count for status, count in rows})


def delivery_lags(engine: Any, start: datetime, end: datetime) -> list[float]:
    """Seconds from queued to sent, for scores sent within [start, end)."""
    from sqlalchemy import select

    from lms.models import GradeDelivery

    with engine.connect() as conn:
        rows = conn.execute(
            select(GradeDelivery.created_at, GradeDelivery.sent_at).where(
                GradeDelivery.sent_at >= start, GradeDelivery.sent_at < end
            )
        ).all()
    return sorted((sent - created).total_seconds() for created, sent in rows)


def jobs_in(engine: Any, start: datetime, end: datetime) -> list[str]:
    """The background jobs the worker finished within [start, end), by kind: how many, and
    their seconds from queued to finished (a refit of the suggestion model, say, is CPU the
    worker takes from the web processes)."""
    from sqlalchemy import func, select

    from core.jobs import Job

    with engine.connect() as conn:
        rows = conn.execute(
            select(Job.kind, Job.created_at, Job.finished_at).where(
                Job.finished_at >= start, Job.finished_at < end
            )
        ).all()
        waiting = conn.scalar(
            select(func.count()).select_from(Job).where(Job.status.in_(("queued", "running")))
        )
    spans: dict[str, list[float]] = {}
    for kind, created, finished in rows:
        spans.setdefault(kind, []).append((finished - created).total_seconds())
    found = [
        f"{kind} {len(values)} (queued to finished {min(values):.1f}-{max(values):.1f} s)"
        for kind, values in sorted(spans.items())
    ]
    return [*found, f"{waiting} queued or running when the window closed"]


def wait_for_outbox(engine: Any, limit: float) -> tuple[Outbox, float]:
    """Poll until nothing is pending or being sent, up to ``limit`` seconds."""
    started = time.perf_counter()
    while True:
        state = outbox(engine)
        waited = time.perf_counter() - started
        if state.waiting == 0 or waited >= limit:
            return state, waited
        time.sleep(0.25)


# -- the timed phase --------------------------------------------------------------------------
@dataclass
class Op:
    due: float
    persona: str
    kind: str
    person: Person
    right: bool = False  # check: the right answers


def plan(
    people: list[Person], ops_rate: float, start: float, seconds: float, seed_value: int
) -> list[Op]:
    """The whole schedule up front: persona by a shuffled 7/2/1 block of ten, each persona's
    kinds in rotation, people in turn per kind."""
    rng = random.Random(seed_value)
    by_role = {role: [p for p in people if p.role == role] for role in MIX}
    learners = by_role["learner"]
    block = [r for r, (share, _) in MIX.items() for _ in range(round(10 * share))]
    counters: Counter[str] = Counter()
    ops: list[Op] = []
    for n in range(int(seconds * ops_rate)):
        if n % len(block) == 0:
            rng.shuffle(block)
        persona = block[n % len(block)]
        kinds = MIX[persona][1]
        kind = kinds[counters[persona] % len(kinds)]
        counters[persona] += 1
        k = counters[kind]
        counters[kind] += 1
        right = False
        if kind == "check":
            # Even: a learner fails (another try at the check); odd: a learner RETRY_GAP
            # places back gives the right answers, which completes the course.
            right = k % 2 == 1
            person = learners[(k // 2 + (0 if right else RETRY_GAP)) % len(learners)]
        else:
            pool = by_role[persona]
            person = pool[k % len(pool)]
        ops.append(Op(start + n / ops_rate, persona, kind, person, right))
    return ops


def run_op(client: Client, op: Op, rng: random.Random) -> None:
    client.record.lags.append((op.due, 1000 * (time.perf_counter() - op.due)))
    try:
        if op.kind == "launch":
            client.launch(op.person, op.due)
        elif op.kind == "course page":
            client.course_page(op.person, op.due)
        elif op.kind == "check":
            client.check(op.person, op.due, op.right)
        elif op.kind == "dashboard":
            client.dashboard(op.person, op.due)
        elif op.kind == "queue":
            client.queue(op.person, op.due)
        elif op.kind == "grade":
            client.grade(op.person, op.due)
        elif op.kind == "bare":
            client.bare(op.person, op.due)
        else:
            client.award(op.person, op.due, rng)
    except Failed:
        pass
    except Exception as error:  # a bench bug must not pass silently
        client.record.errors.append((op.due, op.kind, f"bench error {error!r}"))


@dataclass
class Window:
    start: float = 0.0
    end: float = 0.0
    cpu_before: Any = None
    cpu_after: Any = None
    outbox_before: Outbox | None = None
    outbox_after: Outbox | None = None
    worker_cpu: tuple[float | None, float | None] = (None, None)
    lms_cpu: tuple[float | None, float | None] = (None, None)
    own_pids: set[int] = field(default_factory=set)  # the grade worker and the fake LMS
    server_pid: int = 0  # gunicorn's master: its children are the workers


def run_schedule(
    client: Client,
    ops: list[Op],
    threads: int,
    stop: threading.Event,
    at_start: Callable[[], None],
    at_end: Callable[[], None],
    window: Window,
) -> None:
    """Submit each operation at its due time; the marks run on timers so that they do not
    delay the schedule."""
    # This process holds some 220,000 objects by now (the app it imported to seed, the
    # people, the schedule); a full collection walked them all, 400-740 ms during which no
    # client thread ran, and every request in flight looked that much slower, whatever its
    # type. Frozen, they are out of the collector's sight, as the server's are after start-up.
    gc.collect()
    gc.freeze()
    timers = [
        threading.Timer(max(0.0, window.start - time.perf_counter()), at_start),
        threading.Timer(max(0.0, window.end - time.perf_counter()), at_end),
    ]
    for timer in timers:
        timer.daemon = True
        timer.start()
    rngs = threading.local()

    def task(op: Op) -> None:
        if not hasattr(rngs, "rng"):
            rngs.rng = random.Random(threading.get_ident())
        try:
            run_op(client, op, rngs.rng)
        finally:
            client.record.leave()

    with ThreadPoolExecutor(threads, thread_name_prefix="client") as pool:
        for op in ops:
            delay = op.due - time.perf_counter()
            if delay > 0 and stop.wait(delay):
                break
            if client.record.in_flight >= threads:
                client.record.starved.append(op.due)
            client.record.enter()
            pool.submit(task, op)
        pool.shutdown(wait=True, cancel_futures=stop.is_set())
    for timer in timers:
        timer.join(timeout=30)


# -- the timeline (--timeline): who was busy, slot by slot ------------------------------------
@dataclass(slots=True)
class Tick:
    """One reading of the sampler: CPU and run-queue seconds used since the previous reading,
    per consumer, and what the server's PostgreSQL sessions were doing at that moment."""

    at: float  # perf_counter of the reading
    span: float  # seconds since the previous reading, which the figures cover
    late: float  # seconds the sampler woke after it meant to (this process could not run)
    cpu: dict[str, float]  # consumer -> CPU seconds since the previous tick
    queued: dict[str, float]  # consumer -> seconds runnable but waiting for a core
    pg_active: int  # the server's and the worker's PostgreSQL sessions running a statement
    pg_waits: Counter[str]  # their wait events (an active session with none is on a CPU)
    # our processes (and PostgreSQL's background ones) in uninterruptible sleep, by consumer
    # and the kernel function they sleep in (e.g. the file system's journal)
    blocked: Counter[str]


def _schedstat(pid: int | str) -> tuple[float, float] | None:
    """(seconds on a core, seconds runnable but waiting for one) of a process's main thread,
    in nanoseconds' resolution (stat's clock ticks are 10 ms: too coarse for 250 ms slots).
    Every process timed here is single-threaded: gunicorn's sync workers, the job worker,
    PostgreSQL's backends."""
    try:
        with open(f"/proc/{pid}/schedstat") as stat:
            on_cpu, waiting, _ = stat.read().split()
    except (OSError, ValueError):
        return None
    return int(on_cpu) / 1e9, int(waiting) / 1e9


def _blocked_in(pid: int) -> str | None:
    """The kernel function a process sleeps in when it is in uninterruptible sleep (state D:
    disk or file-system journal), else None."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            data = stat.read()
        if data[data.rfind(")") + 2] != "D":
            return None
        with open(f"/proc/{pid}/wchan") as wchan:
            return wchan.read().strip() or "?"
    except (OSError, IndexError):
        return None


def _autogroup(pid: int | str) -> str:
    """The process's autogroup ("/autogroup-12 nice 0"), when the kernel groups by session:
    each group then gets an equal share of the cores when several want them, however many
    processes it holds. Empty when the kernel does not (or the process is gone)."""
    try:
        with open(f"/proc/{pid}/autogroup") as group:
            return group.read().strip()
    except OSError:
        return ""


def _machine_busy() -> tuple[float, float]:
    """(busy, stolen) seconds of every core so far, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq) / CLOCK_TICKS, steal / CLOCK_TICKS


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PG_BACKGROUND = ("checkpointer", "background writer", "walwriter", "autovacuum", "logical")
TIMELINE_CONSUMERS = (
    "gunicorn",
    "job worker",
    "postgres ours",
    "postgres bg",
    "postgres others",
    "bench client",
    "other",
)


class Sampler(threading.Thread):
    """Reads /proc every ``slot`` seconds while the load runs: who used the cores (gunicorn's
    workers, the job worker, PostgreSQL serving us, PostgreSQL's background processes,
    PostgreSQL serving other people, this client, everything else) and who waited for one;
    and, on PostgreSQL, what the server's sessions wait for. Its own lateness shows a client
    that stalled (the GIL or the machine kept it from running)."""

    def __init__(self, server_pgid: int, worker_pid: int, pg_url: str | None, slot: float) -> None:
        super().__init__(name="timeline", daemon=True)
        self.server_pgid, self.worker_pid = server_pgid, worker_pid
        self.pg_url, self.slot = pg_url, slot
        self.ticks: list[Tick] = []
        self.halt = threading.Event()
        self.groups: dict[int, str] = {}  # pid -> consumer
        self.ours: set[int] = set()  # the PostgreSQL backends of the server and the worker
        self.last: dict[int, tuple[float, float]] = {}
        # consumer -> the kernel's scheduling groups (autogroups) -> its processes seen in them
        self.autogroups: dict[str, dict[str, set[int]]] = {}
        # this client's garbage collections: (end, seconds, generation)
        self.gc_pauses: list[tuple[float, float, int]] = []
        self._gc_started = 0.0

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started:
            end = time.perf_counter()
            self.gc_pauses.append((end, end - self._gc_started, info["generation"]))

    def _scan(self) -> None:
        """Which process is whose (gunicorn may replace a worker; PostgreSQL's backends come
        and go with other people's work)."""
        groups: dict[int, str] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    data = stat.read()
            except OSError:
                continue
            comm = data[data.find("(") + 1 : data.rfind(")")]
            pgid = int(data[data.rfind(")") + 2 :].split()[2])
            ppid = int(data[data.rfind(")") + 2 :].split()[1])
            if self.server_pgid in (pgid, ppid):
                groups[pid] = "gunicorn"
            elif pid == self.worker_pid:
                groups[pid] = "job worker"
            elif comm.startswith("postgres"):
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    continue
                background = any(name in command for name in PG_BACKGROUND)
                groups[pid] = "postgres bg" if background else "postgres others"
        self.groups = groups
        for pid, group in groups.items():
            if pid in self.ours:
                group = "postgres ours"
            found = _autogroup(pid)
            if found:
                self.autogroups.setdefault(group, {}).setdefault(found, set()).add(pid)

    def run(self) -> None:
        gc.callbacks.append(self._on_gc)
        conn = None
        if self.pg_url:
            import psycopg

            conn = psycopg.connect(self.pg_url, autocommit=True)
        query = (
            "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity "
            "WHERE application_name = %s"
        )
        try:
            machine = _machine_busy()
            client = sum(os.times()[:2])
            scanned = 0.0
            due = previous = time.perf_counter()
            while not self.halt.is_set():
                due += self.slot
                delay = due - time.perf_counter()
                if delay > 0 and self.halt.wait(delay):
                    break
                now = time.perf_counter()
                if now - scanned >= 1.0:
                    self._scan()
                    scanned = now
                pg_waits: Counter[str] = Counter()
                active = 0
                if conn is not None:
                    rows = conn.execute(query, (APP_NAME,)).fetchall()
                    self.ours = {pid for pid, *_ in rows}
                    for _, state, wait_type, wait_event in rows:
                        if state == "active":
                            active += 1
                            pg_waits[f"{wait_type}:{wait_event}" if wait_type else "CPU"] += 1
                cpu = dict.fromkeys(TIMELINE_CONSUMERS, 0.0)
                queued = dict.fromkeys(TIMELINE_CONSUMERS, 0.0)
                readings: dict[int, tuple[float, float]] = {}
                blocked: Counter[str] = Counter()
                for pid, group in self.groups.items():
                    reading = _schedstat(pid)
                    if reading is None:
                        continue
                    readings[pid] = reading
                    if pid in self.ours:
                        group = "postgres ours"
                    if group != "postgres others":
                        sleeping_in = _blocked_in(pid)
                        if sleeping_in:
                            blocked[f"{group}: {sleeping_in}"] += 1
                    before = self.last.get(pid)
                    if before is None:
                        continue  # first seen: its use so far is not this slot's
                    cpu[group] += reading[0] - before[0]
                    queued[group] += reading[1] - before[1]
                self.last = readings
                now_machine, now_client = _machine_busy(), sum(os.times()[:2])
                cpu["bench client"] = now_client - client
                known = sum(cpu.values())
                cpu["other"] = max(0.0, now_machine[0] - machine[0] - known)
                cpu["steal"] = now_machine[1] - machine[1]
                machine, client = now_machine, now_client
                self.ticks.append(
                    Tick(now, now - previous, now - due, cpu, queued, active, pg_waits, blocked)
                )
                previous = now
        finally:
            gc.callbacks.remove(self._on_gc)
            if conn is not None:
                conn.close()


# -- results ----------------------------------------------------------------------------------
@dataclass
class Row:
    kind: str
    count: int
    p50: float
    p95: float
    p99: float
    max: float
    errors: int


@dataclass
class Result:
    backend: str
    rows: list[Row]
    total: Row
    seconds: float
    target_rate: float
    completed_rate: float  # requests answered within the window, per second
    issued_rate: float  # requests of the operations due in the window, per second
    ops: int
    lag: dict[str, float]
    error_kinds: list[tuple[str, int]]
    outcomes: list[tuple[str, int]]
    outbox_start: dict[str, int]
    outbox_end: dict[str, int]
    outbox_drained: dict[str, int]
    drain_seconds: float
    sent_in_window: int
    queued_in_window: int
    delivery_lag: dict[str, float]
    lms_scores: int
    cpu: dict[str, float]
    busy_others: list[str]
    loadavg_before: str
    loadavg_after: str
    people: dict[str, int]
    starved: int = 0
    most_in_flight: int = 0
    persona_share: dict[str, float] = field(default_factory=dict)  # of the measured requests
    server: list[ServerRow] = field(default_factory=list)  # --server-timing
    timeline: list[SlotRow] = field(default_factory=list)  # --timeline
    client_gc: dict[str, float] = field(default_factory=dict)  # --timeline
    sched_groups: list[str] = field(default_factory=list)  # --timeline
    jobs: list[str] = field(default_factory=list)  # background jobs finished in the window
    bare: Bare | None = None  # --bare

    @property
    def over_target(self) -> list[str]:
        return [r.kind for r in self.rows if r.count and r.p99 >= TARGET_P99_MS]

    def target_met(self) -> bool:
        return (
            self.total.errors == 0
            and not self.over_target
            and self.total.p99 < TARGET_P99_MS
            and self.completed_rate >= 0.98 * self.target_rate
        )


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def row_of(kind: str, values: list[float], errors: int) -> Row:
    values.sort()
    return Row(
        kind,
        len(values),
        percentile(values, 50),
        percentile(values, 95),
        percentile(values, 99),
        values[-1] if values else float("nan"),
        errors,
    )


def summarise(
    backend: str,
    args: argparse.Namespace,
    record: Recorder,
    window: Window,
    outbox_drained: Outbox,
    drain_seconds: float,
    lags: list[float],
    lms_scores: int,
    people: dict[str, int],
) -> Result:
    start, end = window.start, window.end
    measured = [s for s in record.samples if start <= s.due < end]
    errors = [(kind, what) for due, kind, what in record.errors if start <= due < end]
    per_kind: dict[str, list[float]] = {kind: [] for kind in REQUEST_KINDS}
    for sample in measured:
        per_kind.setdefault(sample.kind, []).append(sample.ms)
    error_counts = Counter(kind for kind, _ in errors)
    for kind in error_counts:
        per_kind.setdefault(kind, [])  # e.g. an operation that failed outside a request
    rows = [row_of(kind, values, error_counts[kind]) for kind, values in per_kind.items()]
    total = row_of("all requests", [s.ms for s in measured], len(errors))
    seconds = end - start
    lag_values = sorted(ms for due, ms in record.lags if start <= due < end)
    before, after = window.outbox_before, window.outbox_after
    assert before is not None and after is not None
    workers = children_of(window.server_pid)
    for snapshot in (window.cpu_before, window.cpu_after):
        for pid in workers & set(snapshot.procs if snapshot else ()):
            _, name, used = snapshot.procs[pid]
            snapshot.procs[pid] = ("gunicorn", name, used)
    cpu, busy_others = cpu_shares(window.cpu_before, window.cpu_after, seconds)
    busy_others = [p for p in busy_others if not any(f"[{pid}]" in p for pid in window.own_pids)]

    def used(pair: tuple[float | None, float | None]) -> float:
        a, b = pair
        return 100 * (b - a) / seconds if a is not None and b is not None else float("nan")

    cpu["grade worker"], cpu["fake LMS"] = used(window.worker_cpu), used(window.lms_cpu)
    if cpu.get("other") is not None:
        cpu["other"] = max(
            0.0, cpu["other"] - sum(v for v in (cpu["grade worker"], cpu["fake LMS"]) if v == v)
        )
    return Result(
        backend=backend,
        rows=rows,
        total=total,
        seconds=seconds,
        target_rate=args.rate,
        completed_rate=sum(1 for s in record.samples if start <= s.end < end) / seconds,
        issued_rate=len(measured) / seconds,
        ops=sum(1 for due, _ in record.lags if start <= due < end),
        lag={
            "p50": percentile(lag_values, 50),
            "p99": percentile(lag_values, 99),
            "max": lag_values[-1] if lag_values else float("nan"),
        },
        error_kinds=Counter(f"{kind}: {what}" for kind, what in errors).most_common(),
        outcomes=sorted(Counter(w for due, w in record.outcomes if start <= due < end).items()),
        outbox_start=before.statuses,
        outbox_end=after.statuses,
        outbox_drained=outbox_drained.statuses,
        drain_seconds=drain_seconds,
        sent_in_window=after.statuses.get("sent", 0) - before.statuses.get("sent", 0),
        queued_in_window=sum(after.statuses.values()) - sum(before.statuses.values()),
        delivery_lag={
            "p50": percentile(lags, 50),
            "p99": percentile(lags, 99),
            "max": lags[-1] if lags else float("nan"),
        },
        lms_scores=lms_scores,
        cpu=cpu,
        busy_others=busy_others,
        loadavg_before="",
        loadavg_after="",
        people=people,
        starved=sum(1 for due in record.starved if start <= due < end),
        persona_share={
            persona: sum(1 for s in measured if persona_of(s.kind) == persona)
            / max(1, len(measured))
            for persona in MIX
        },
        most_in_flight=record.most_in_flight,
    )


@dataclass
class SlotRow:
    """One slot of the window (--timeline): the requests, and who used the cores."""

    start: float  # seconds into the window
    sent: int  # requests sent in the slot
    answered: int  # requests answered in the slot
    in_flight: int  # requests sent and not yet answered at the slot's end
    p50: float  # of the requests answered in the slot, ms
    p99: float
    lag: float  # the worst schedule lag of the operations due in the slot, ms
    cpu: dict[str, float] = field(default_factory=dict)  # consumer -> % of one core
    queued: dict[str, float] = field(default_factory=dict)  # % of one core waiting for a core
    late_ms: float = float("nan")  # the sampler's worst lateness: the client could not run
    gc_ms: float = 0.0  # the client's garbage collections
    pg_active: float = float("nan")  # the server's PostgreSQL sessions running, on average
    pg_wait: str = ""  # their most frequent wait other than a CPU
    blocked: float = 0.0  # our processes in uninterruptible sleep (disk, journal), on average
    blocked_in: str = ""  # where, the most frequent


def timeline(
    record: Recorder, window: Window, slot: float, sampler: Sampler | None
) -> list[SlotRow]:
    """Slot by slot through the window: requests sent, answered and in flight, how long the
    answered ones took, how late the worst operation started; with a sampler, the CPU each
    consumer used and waited for, the client's own stalls, and PostgreSQL's waits."""
    sent = sorted(s.sent for s in record.samples)
    ended = sorted(s.end for s in record.samples)
    count = max(1, math.ceil((window.end - window.start) / slot - 1e-9))
    answered: list[list[float]] = [[] for _ in range(count)]
    for sample in record.samples:
        if window.start <= sample.end < window.end:
            answered[int((sample.end - window.start) / slot)].append(sample.ms)
    lags = [float("nan")] * count
    for due, ms in record.lags:
        if window.start <= due < window.end:
            n = int((due - window.start) / slot)
            lags[n] = ms if lags[n] != lags[n] else max(ms, lags[n])
    ticks: list[list[Tick]] = [[] for _ in range(count)]
    pauses = [0.0] * count
    if sampler is not None:
        for tick in sampler.ticks:
            # a tick's readings cover the time before it: the slot it ends in
            n = math.ceil((tick.at - window.start) / slot) - 1
            if 0 <= n < count:
                ticks[n].append(tick)
        for end, seconds, _ in list(sampler.gc_pauses):
            if window.start <= end < window.end:
                pauses[int((end - window.start) / slot)] += 1000 * seconds
    rows = []
    for n in range(count):
        begin, finish = window.start + n * slot, window.start + (n + 1) * slot
        values = sorted(answered[n])
        row = SlotRow(
            start=n * slot,
            sent=bisect.bisect_left(sent, finish) - bisect.bisect_left(sent, begin),
            answered=len(values),
            in_flight=bisect.bisect_right(sent, finish) - bisect.bisect_right(ended, finish),
            p50=percentile(values, 50),
            p99=percentile(values, 99),
            lag=lags[n],
            gc_ms=pauses[n],
        )
        if ticks[n]:
            span = sum(t.span for t in ticks[n])
            for name in (*TIMELINE_CONSUMERS, "steal"):
                row.cpu[name] = 100 * sum(t.cpu.get(name, 0.0) for t in ticks[n]) / span
                row.queued[name] = 100 * sum(t.queued.get(name, 0.0) for t in ticks[n]) / span
            row.late_ms = 1000 * max(t.late for t in ticks[n])
            row.pg_active = sum(t.pg_active for t in ticks[n]) / len(ticks[n])
            waits: Counter[str] = Counter()
            for t in ticks[n]:
                waits.update({k: v for k, v in t.pg_waits.items() if k != "CPU"})
            row.pg_wait = ", ".join(f"{k} {v}" for k, v in waits.most_common(2))
            sleeps: Counter[str] = Counter()
            for t in ticks[n]:
                sleeps.update(t.blocked)
            row.blocked = sleeps.total() / len(ticks[n])
            row.blocked_in = ", ".join(f"{k} {v}" for k, v in sleeps.most_common(2))
        rows.append(row)
    return rows


def client_gc(sampler: Sampler | None, window: Window) -> dict[str, float]:
    """This client's garbage collections in the window, and what a full one costs now: a
    collection stops every client thread, and the requests in flight look slower by as much."""
    if sampler is None:
        return {}
    pauses = [(s, g) for end, s, g in sampler.gc_pauses if window.start <= end < window.end]
    full = [s for s, g in pauses if g == 2]
    started = time.perf_counter()
    gc.collect()
    return {
        "collections": len(pauses),
        "full collections": len(full),
        "longest ms": 1000 * max((s for s, _ in pauses), default=0.0),
        "total ms": 1000 * sum(s for s, _ in pauses),
        "tracked objects now": len(gc.get_objects()),
        "a full collection now, ms": 1000 * (time.perf_counter() - started),
    }


def scheduling_groups(sampler: Sampler | None) -> list[str]:
    """Which kernel scheduling group (autogroup) each consumer's processes ran in, this
    client's included: a group's processes share one group's part of the cores."""
    if sampler is None:
        return []
    found = dict(sampler.autogroups)
    own = _autogroup("self")
    if own:
        found["bench client"] = {own: {os.getpid()}}
    return [
        f"{consumer}: "
        + ", ".join(f"{group} ({len(pids)} processes)" for group, pids in groups.items())
        for consumer, groups in found.items()
    ]


def stall_summary(rows: list[SlotRow]) -> list[str]:
    """The slots whose p99 reached the target against the others: what differed."""
    slow = [r for r in rows if r.p99 == r.p99 and r.p99 >= TARGET_P99_MS]
    calm = [r for r in rows if r.p99 == r.p99 and r.p99 < TARGET_P99_MS]
    if not slow or not calm:
        return []

    def mean(group: list[SlotRow], value: Callable[[SlotRow], float]) -> float:
        known = [v for v in map(value, group) if v == v]
        return sum(known) / len(known) if known else float("nan")

    lines = [
        f"{len(slow)} of {len(rows)} slots had a p99 >= {TARGET_P99_MS:.0f} ms; mean of "
        "those slots / of the others:"
    ]
    measures: list[tuple[str, Callable[[SlotRow], float]]] = [
        ("requests sent", lambda r: r.sent),
        ("in flight at the end", lambda r: r.in_flight),
        ("schedule lag (ms)", lambda r: r.lag),
        ("client sampler late (ms)", lambda r: r.late_ms),
        ("client GC (ms)", lambda r: r.gc_ms),
        ("PostgreSQL sessions active", lambda r: r.pg_active),
        ("our processes in disk sleep (D)", lambda r: r.blocked),
    ]
    for name in (*TIMELINE_CONSUMERS, "steal"):
        measures.append((f"CPU % {name}", lambda r, name=name: r.cpu.get(name, float("nan"))))
    for name in ("gunicorn", "job worker", "postgres ours"):
        measures.append(
            (f"waiting for a core % {name}", lambda r, name=name: r.queued.get(name, float("nan")))
        )
    for name, value in measures:
        lines.append(f"  {name}: {fmt(mean(slow, value))} / {fmt(mean(calm, value))}")
    return lines


def fmt(value: float) -> str:
    return "n/a" if value != value else f"{value:.1f}"  # NaN


def report(result: Result, args: argparse.Namespace) -> None:
    r = result
    print()
    print(
        f"Mixed load, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {r.backend}, {cores()} cores "
        f"({platform.processor() or platform.machine()}), Python {platform.python_version()}, "
        f"gunicorn {args.workers} sync workers, {r.seconds:.0f} s measured after "
        f"{args.warmup:g} s warm-up, target {args.rate:g} requests/s, {revision()}"
    )
    print(
        f"People: {r.people['learner']} learners, {r.people['trainer']} trainers, "
        f"{r.people['manager']} managers in {r.people['teams']} teams; "
        f"{args.client_threads} client threads"
    )
    print()
    print("| request | count | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in [*r.rows, r.total]:
        name = f"**{row.kind}**" if row is r.total else row.kind
        print(
            f"| {name} | {row.count} | {fmt(row.p50)} | {fmt(row.p95)} | {fmt(row.p99)} | "
            f"{fmt(row.max)} | {row.errors} |"
        )
    print()
    print(
        f"Throughput: {r.completed_rate:.1f} requests/s answered in the window "
        f"(target {r.target_rate:g}); the {r.ops} operations due in it made "
        f"{r.issued_rate:.1f} requests/s ("
        + ", ".join(f"{p}s {100 * v:.0f}%" for p, v in r.persona_share.items())
        + " of the requests)."
    )
    if r.lag["p99"] <= LAG_WARNING_MS:
        why = "the client kept up"
    elif r.starved:
        why = (
            f"BEHIND the schedule: {r.starved} operations found all {args.client_threads} "
            "client threads waiting on the server (the server fell behind, not the client)"
        )
    else:
        why = "the CLIENT FELL BEHIND the schedule (its own CPU): latencies include that"
    print(
        f"Schedule lag (operation start after its due time): p50 {fmt(r.lag['p50'])} ms, "
        f"p99 {fmt(r.lag['p99'])} ms, max {fmt(r.lag['max'])} ms; at most {r.most_in_flight} "
        f"operations in flight: {why}"
    )
    if r.error_kinds:
        print("Errors:")
        for what, count in r.error_kinds:
            print(f"  {count} x {what}")
    else:
        print("Errors: none")
    print("Outcomes: " + "; ".join(f"{what} {n}" for what, n in r.outcomes))
    print(
        f"Grade outbox: {r.queued_in_window} scores queued and {r.sent_in_window} sent by the "
        f"worker during the window (queued to sent: p50 {fmt(r.delivery_lag['p50'])} s, "
        f"p99 {fmt(r.delivery_lag['p99'])} s); waiting when the window closed: "
        f"{r.outbox_end.get('pending', 0)} pending + {r.outbox_end.get('sending', 0)} sending; "
        f"{r.outbox_drained.get('pending', 0) + r.outbox_drained.get('sending', 0)} waiting "
        f"{r.drain_seconds:.1f} s after the load; failed {r.outbox_drained.get('failed', 0)}; "
        f"the fake LMS holds {r.lms_scores} scores."
    )
    print("Background jobs finished in the window: " + "; ".join(r.jobs))
    shares = ", ".join(
        f"{name} {r.cpu[name]:.0f}"
        for name in (
            "machine",
            "gunicorn",
            "postgres",
            "bench client",
            "grade worker",
            "fake LMS",
            "other",
            "steal",
        )
        if name in r.cpu and r.cpu[name] == r.cpu[name]
    )
    print(f"CPU % of one core over the window: {shares}")
    if r.busy_others:
        print(f"Busy other processes: {', '.join(r.busy_others)}")
    print(f"Load average (1, 5, 15 min): {r.loadavg_before} before, {r.loadavg_after} after")
    if r.server:
        print()
        print(
            "Inside gunicorn (--server-timing hooks; service time excludes the wait for a worker)"
        )
        print()
        print(
            "| request | count | service p50 (ms) | service p99 (ms) | CPU mean (ms) "
            "| SQL statements |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for row in r.server:
            print(
                f"| {row.kind} | {row.count} | {fmt(row.p50)} | {fmt(row.p99)} | {fmt(row.cpu)} "
                f"| {row.sql:.1f} |"
            )
        served = sum(row.count for row in r.server)
        if served:
            cpu_all = sum(row.count * row.cpu for row in r.server) / served
            print(
                f"Mean gunicorn CPU per request: {cpu_all:.1f} ms, so at most "
                f"{1000 * cores() / cpu_all:.0f} requests/s on {cores()} cores for gunicorn alone"
            )
        print("Most frequent statements per request:")
        for row in r.server:
            top = "; ".join(f"{n:.1f} x {text[:60]}" for text, n in row.repeated[:2])
            print(f"  {row.kind}: {top}")
        print()
    if args.timeline:
        print_timeline(r.timeline, args.timeline)
        if r.client_gc:
            print(
                "The client's garbage collections in the window: "
                + ", ".join(f"{k} {v:.0f}" for k, v in r.client_gc.items())
            )
        if r.sched_groups:
            print("Scheduling groups (the kernel shares the cores between groups first):")
            for line in r.sched_groups:
                print(f"  {line}")
    if r.bare:
        b = r.bare.row
        print()
        print(
            f"Bare endpoint, same client and rate ({b.count} requests): GET {BARE_PATH} p50 "
            f"{fmt(b.p50)} ms, p95 {fmt(b.p95)} ms, p99 {fmt(b.p99)} ms, max {fmt(b.max)} ms, "
            f"{b.errors} errors; schedule lag p99 {fmt(r.bare.lag_p99)} ms; load average "
            f"{r.bare.loadavg_before} before, {r.bare.loadavg_after} after"
        )
        if args.timeline:
            print_timeline(r.bare.timeline, args.timeline)
    if r.cpu.get("other", 0) > 15:
        print(
            f"WARNING: other processes used {r.cpu['other']:.0f}% of a core during the run; "
            "the machine was busy and the figures are pessimistic"
        )
    print()
    if r.target_met():
        verdict = "target met"
    else:
        reasons = []
        if r.total.errors:
            reasons.append(f"{r.total.errors} errors")
        if r.over_target or r.total.p99 >= TARGET_P99_MS:
            measured = [row.kind for row in r.rows if row.count]
            slow = (
                "every request type"
                if r.over_target == measured
                else ", ".join(r.over_target) or "all requests"
            )
            reasons.append(f"p99 >= {TARGET_P99_MS:.0f} ms: {slow}")
        if r.completed_rate < 0.98 * r.target_rate:
            reasons.append(f"{r.completed_rate:.1f} requests/s answered")
        verdict = "target NOT met (" + "; ".join(reasons) + ")"
    print(
        f"{verdict}: zero errors and p99 < {TARGET_P99_MS:.0f} ms for every request type at "
        f"{r.target_rate:g} requests/s"
    )


TIMELINE_COLUMNS = (
    ("gunicorn", "guni"),
    ("job worker", "jobw"),
    ("postgres ours", "pg"),
    ("postgres bg", "pgbg"),
    ("postgres others", "pgot"),
    ("bench client", "cli"),
    ("other", "oth"),
)


def print_timeline(rows: list[SlotRow], slot: float) -> None:
    print(
        f"Timeline, {slot:g} s slots: requests sent / answered / in flight at the slot's end; "
        "p50 / p99 (ms) of those answered; worst schedule lag (ms); CPU % of one core by "
        "consumer (+ % waiting for a core: runnable, not running); client: how late its "
        "sampler woke and its GC (ms); the server's PostgreSQL sessions active; our processes "
        "in disk sleep (D); the sessions' most frequent waits and where the D ones slept. * "
        "marks a p99 at or over the target."
    )
    names = "  ".join(f"{short:>9}" for _, short in TIMELINE_COLUMNS)
    print(
        f"  {'t (s)':>6} {'sent':>4} {'ans':>4} {'infl':>4} {'p50':>6} {'p99':>7}  "
        f"{'lag':>6}  {names}  {'late':>5} {'gc':>4}  {'pg':>4}  {'D':>4}  waits"
    )
    for row in rows:
        flag = "*" if row.p99 == row.p99 and row.p99 >= TARGET_P99_MS else " "
        use = "  ".join(
            f"{row.cpu[name]:4.0f}+{row.queued[name]:<4.0f}" if name in row.cpu else f"{'':>9}"
            for name, _ in TIMELINE_COLUMNS
        )
        print(
            f"{flag} {row.start:6.2f} {row.sent:4d} {row.answered:4d} {row.in_flight:4d} "
            f"{fmt(row.p50):>6} {fmt(row.p99):>7}  {fmt(row.lag):>6}  {use}  "
            f"{fmt(row.late_ms):>5} {row.gc_ms:4.0f}  {fmt(row.pg_active):>4}  "
            f"{row.blocked:4.1f}  {'; '.join(filter(None, (row.pg_wait, row.blocked_in)))}"
        )
    for line in stall_summary(rows):
        print(line)


@dataclass
class Bare:
    """The same client at the same rate against an endpoint that does no work (--bare): the
    floor the client, the sockets and gunicorn's workers set, and the machine's noise."""

    row: Row
    lag_p99: float
    loadavg_before: str
    loadavg_after: str
    timeline: list[SlotRow] = field(default_factory=list)


def start_sampler(args: argparse.Namespace, server_pgid: int, worker_pid: int) -> Sampler | None:
    if not args.timeline or not Path("/proc/self/schedstat").exists():
        return None
    pg_url = args.pg_url if args.backend == "postgresql" else None
    sampler = Sampler(server_pgid, worker_pid, pg_url, args.timeline)
    sampler.start()
    return sampler


def stop_sampler(sampler: Sampler | None) -> None:
    if sampler is not None:
        sampler.halt.set()
        sampler.join(timeout=10)


def bare_phase(
    port: int,
    side: PlatformSide,
    args: argparse.Namespace,
    stop: threading.Event,
    server_pgid: int,
    worker_pid: int,
) -> Bare:
    """After the mixed load: as many requests at the same rate, each a GET of BARE_PATH."""
    client = Client(port, Recorder(), side)
    nobody = Person("learner", 0, 0, "bare", {})
    begin = time.perf_counter() + 0.5
    window = Window(start=begin + args.warmup, end=begin + args.warmup + args.duration)
    count = int((args.warmup + args.duration) * args.rate)
    ops = [Op(begin + n / args.rate, "learner", "bare", nobody) for n in range(count)]
    before = loadavg()
    say(f"[{args.backend}] the same rate at GET {BARE_PATH}; load average {before}")
    sampler = start_sampler(args, server_pgid, worker_pid)
    run_schedule(client, ops, args.client_threads, stop, lambda: None, lambda: None, window)
    stop_sampler(sampler)
    if stop.is_set():
        raise KeyboardInterrupt
    values = [s.ms for s in client.record.samples if window.start <= s.due < window.end]
    errors = sum(1 for due, _, _ in client.record.errors if window.start <= due < window.end)
    lags = sorted(ms for due, ms in client.record.lags if window.start <= due < window.end)
    return Bare(
        row=row_of(f"bare: GET {BARE_PATH}", values, errors),
        lag_p99=percentile(lags, 99),
        loadavg_before=before,
        loadavg_after=loadavg(),
        timeline=timeline(client.record, window, args.timeline, sampler) if args.timeline else [],
    )


# -- the run ----------------------------------------------------------------------------------
@contextlib.contextmanager
def stopped_at_end(child: Any) -> Iterator[Any]:
    """Stop a started child (its process group) when the block ends."""
    try:
        yield child
    finally:
        stop_process_group(child)


@contextlib.contextmanager
def only_run(backend: str, pg_url: str, wait: float = 600) -> Iterator[None]:
    """Keep a second copy of this bench off the ``bench_load`` schema (it would drop it under
    the first one): a PostgreSQL advisory lock, held for the whole run."""
    if backend != "postgresql":
        yield
        return
    with schema_to_myself(pg_url, LOCK_KEY, "bench/load.py", SCHEMA, wait):
        yield


def sizes(args: argparse.Namespace) -> tuple[int, int, float]:
    """(teams, assessments per team, operations per second) for the rate and duration."""
    ops_rate = args.rate / mean_requests_per_op()
    total = ops_rate * (args.warmup + args.duration)
    learner_share, learner_kinds = MIX["learner"]
    checks = total * learner_share / len(learner_kinds)
    learners = args.learners or math.ceil(checks / 2 + RETRY_GAP + 10)
    teams = max(1, math.ceil(learners / args.team_size))
    trainer_share, trainer_kinds = MIX["trainer"]
    grades = total * trainer_share / len(trainer_kinds)
    return teams, math.ceil(1.3 * grades / teams) + 5, ops_rate


def bench(args: argparse.Namespace, stop: threading.Event) -> Result:
    backend = args.backend
    teams, per_team, ops_rate = sizes(args)
    with contextlib.ExitStack() as stack:
        stack.enter_context(only_run(backend, args.pg_url))
        tool = stack.enter_context(
            fresh_tool(
                backend,
                args.pg_url,
                first_data="demo",
                schema=SCHEMA,
                app_name=APP_NAME,
                secret=SECRET,
                keep=args.keep_db,
            )
        )
        workdir, env, port, base_url = tool.workdir, tool.env, tool.port, tool.base_url
        lms_port = free_port()
        lms_base = f"http://127.0.0.1:{lms_port}"
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "INSTANCE_PATH")})
        side = register_platform(env, base_url, "iframe")

        from core import create_app
        from core.config import Settings
        from core.db import db

        app = create_app(Settings.from_env(env))
        with app.app_context():
            engine = db.engine
        point_tokens_at(app, side.issuer, lms_base)
        fake_lms = stack.enter_context(stopped_at_end(start_fake_lms(lms_port, env, workdir, 0)))
        log_path = workdir / "gunicorn.log"
        extra = gunicorn_config(workdir, args.server_timing)
        server = stack.enter_context(
            serving(env, port, args.workers, log_path, *extra, ready="/dev-platform/jwks")
        )

        people = make_people(side, teams, args.team_size, lms_base)
        counts = Counter(p.role for p in people)
        say(
            f"[{backend}] gunicorn {args.workers} workers on {base_url}; launching "
            f"{counts['learner']} learners, {counts['trainer']} trainers and "
            f"{counts['manager']} managers in {teams} teams"
        )
        setup = Client(port, Recorder(), side)
        started = time.perf_counter()
        launch_everyone(setup, people, threads=4)
        say(
            f"[{backend}] {len(people)} launches in {time.perf_counter() - started:.1f} s; "
            f"seeding progress and {per_team} conversations to grade per team"
        )
        seeded = seed(app, people, per_team, lms_base)
        dropped = drop_demo_scores(app, lms_base)
        if dropped:
            say(f"[{backend}] dropped the demo data's {dropped} scores for the server itself")

        worker_log = workdir / "worker.log"
        worker = stack.enter_context(
            stopped_at_end(spawn([str(VENV_BIN / "flask"), "lms", "worker"], env, worker_log))
        )
        backlog, waited = wait_for_outbox(engine, 120)
        if backlog.waiting:
            raise BenchError(
                f"the worker left {backlog.waiting} scores after {waited:.0f} s:\n"
                f"{tail(worker_log)}"
            )
        say(
            f"[{backend}] the worker sent the setup's {backlog.statuses.get('sent', 0)} scores "
            f"in {waited:.1f} s"
        )
        if args.wait_quiet:
            wait_for_quiet_machine(args.wait_quiet)

        client = Client(port, Recorder(), side, seeded)
        begin = time.perf_counter() + 0.5
        window = Window(start=begin + args.warmup, end=begin + args.warmup + args.duration)
        window.own_pids = {worker.pid, fake_lms.pid}
        window.server_pid = server.pid
        ops = plan(people, ops_rate, begin, args.warmup + args.duration, args.seed)

        def at_start() -> None:
            window.cpu_before = cpu_snapshot(server.pid)
            window.worker_cpu = (process_cpu(worker.pid), None)
            window.lms_cpu = (process_cpu(fake_lms.pid), None)
            window.outbox_before = outbox(engine)

        def at_end() -> None:
            window.cpu_after = cpu_snapshot(server.pid)
            window.worker_cpu = (window.worker_cpu[0], process_cpu(worker.pid))
            window.lms_cpu = (window.lms_cpu[0], process_cpu(fake_lms.pid))
            window.outbox_after = outbox(engine)

        before = loadavg()
        say(
            f"[{backend}] {args.rate:g} requests/s ({ops_rate:.1f} operations/s) for "
            f"{args.warmup + args.duration:g} s ({args.warmup:g} s warm-up); load average "
            f"{before}"
        )
        sampler = start_sampler(args, server.pid, worker.pid)
        run_schedule(client, ops, args.client_threads, stop, at_start, at_end, window)
        stop_sampler(sampler)
        if stop.is_set():
            raise KeyboardInterrupt
        after = loadavg()
        drained, drain_seconds = wait_for_outbox(engine, args.drain_wait)
        assert window.outbox_before is not None and window.outbox_after is not None
        lags = delivery_lags(engine, window.outbox_before.at, window.outbox_after.at)
        status, body = lms_call(lms_port, "GET", "/stats")
        lms_scores = len(json.loads(body)["scores"]) if status == 200 else -1
        result = summarise(
            backend,
            args,
            client.record,
            window,
            drained,
            drain_seconds,
            lags,
            lms_scores,
            {**counts, "teams": teams},
        )
        result.loadavg_before, result.loadavg_after = before, after
        result.jobs = jobs_in(engine, window.outbox_before.at, window.outbox_after.at)
        if args.timeline:
            result.timeline = timeline(client.record, window, args.timeline, sampler)
            result.client_gc = client_gc(sampler, window)
            result.sched_groups = scheduling_groups(sampler)
        if args.bare:
            result.bare = bare_phase(port, side, args, stop, server.pid, worker.pid)
        if args.server_timing:
            result.server = server_timing(workdir, window.start, window.end)
        if result.total.errors:
            say(f"[{backend}] gunicorn log tail:\n{tail(log_path, 15)}")
        if worker.poll() is not None:
            say(f"[{backend}] the worker exited with {worker.returncode}:\n{tail(worker_log)}")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--rate", type=float, default=100.0, help="HTTP requests per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds of load first, unmeasured"
    )
    parser.add_argument(
        "--workers", type=int, default=2 * cores() + 1, help="gunicorn sync workers (2*cores+1)"
    )
    parser.add_argument(
        "--learners",
        type=int,
        default=0,
        help="learners in all, rounded up to whole teams (0: enough that none submits the "
        "check more than twice)",
    )
    parser.add_argument("--team-size", type=int, default=50, help="learners per team")
    parser.add_argument(
        "--client-threads",
        type=int,
        default=256,
        help="threads running operations (the most in flight at once)",
    )
    parser.add_argument(
        "--drain-wait",
        type=float,
        default=20.0,
        help="seconds to wait after the load for the worker to empty the outbox",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="before the timed phase, wait up to this long for other processes to go quiet",
    )
    parser.add_argument(
        "--server-timing",
        action="store_true",
        help="time each request inside gunicorn (config hooks: service and CPU ms, SQL statements)",
    )
    parser.add_argument(
        "--timeline",
        type=float,
        nargs="?",
        const=0.25,
        default=None,
        metavar="SECONDS",
        help="also print the window slot by slot (0.25 s slots when not given): requests sent, "
        "answered and in flight, latency, and the CPU of gunicorn, the job worker, PostgreSQL "
        "and the client (from /proc)",
    )
    parser.add_argument(
        "--bare",
        action="store_true",
        help=f"then run as many requests at the same rate at GET {BARE_PATH} (no work behind "
        "it): the client's and the machine's share of the latencies",
    )
    parser.add_argument("--seed", type=int, default=1, help="of the schedule's random choices")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG),
        help="PostgreSQL database in which the bench_load schema is made (BENCH_DATABASE_URL)",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the bench_load schema")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.warmup < 0 or args.team_size < 2:
        parser.error("--rate and --duration must be positive, --warmup >= 0, --team-size >= 2")
    if args.workers < 2:
        parser.error("the tool fetches the platform's keys from itself: --workers 2 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not have_gunicorn():
        return 1
    stop = stop_on_signals()
    try:
        result = bench(args, stop)
    except BenchError as error:
        say(f"bench failed: {error}")
        return 1
    except KeyboardInterrupt:
        stop.set()
        say("Interrupted: the server, the worker and the fake LMS were stopped.")
        return 130
    report(result, args)
    if args.json:
        from dataclasses import asdict

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(result), indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
