"""CPU per request of the mixed load's requests, in-process: the people, data and operations
of ``bench/load.py``, driven one request at a time through Flask's test client on a fresh
database, so a change to a page can be measured without the noise of a loaded machine.

    .venv/bin/python bench/profile_pages.py                            # CPU ms per request
    .venv/bin/python bench/profile_pages.py --mode cprofile --only "award: form" --top 40

Setup as in ``bench/load.py`` (fresh schema, demo data, 2 teams, everyone launched through
the real LTI flow, learners nearly through the course, conversations waiting for a grade);
the platform's JWKS is put into the tool's cache up front, as in ``bench/profile_launch.py``.
No grade worker runs: scores stay queued. Then each operation runs ``--rounds`` times in
turn and the CPU time of this process is summed per request kind (``time.process_time``, the
test client's own share included, which is small next to the app's).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import http.client
import os
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import load
from common import DEFAULT_PG, ROOT, fresh_tool, revision
from fake_lms import PlatformSide, register_platform
from profile_launch import print_cprofile, seed_jwks_cache

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.test import TestResponse

BASE_URL = "http://127.0.0.1:5998"  # never served: only names the tool and the platform
LMS_BASE = "http://127.0.0.1:5997"  # never called: no worker runs


def http_headers(response: TestResponse) -> http.client.HTTPMessage:
    """A test response's headers as ``bench/load.py``'s client reads them from a socket."""
    headers = http.client.HTTPMessage()
    for name, value in response.headers.items():
        headers[name] = value  # adds a header: every Set-Cookie stays
    return headers


def caller_lines() -> str:
    """The product's frames on the stack, innermost last."""
    import traceback

    root = str(ROOT)
    frames = [
        f"{Path(f.filename).relative_to(root)}:{f.lineno} {f.name}"
        for f in traceback.extract_stack()
        if f.filename.startswith(root) and "/bench/" not in f.filename and ".venv" not in f.filename
    ]
    return " > ".join(frames)


class CpuSpans:
    """CPU time inside chosen functions, per request kind; a span inside another span of the
    same label is not counted twice."""

    # label -> (module, class or None for a module's function, function name)
    LABELS: ClassVar[dict[str, list[tuple[str, str | None, str]]]] = {
        "SQL (ORM and Core statements)": [
            ("sqlalchemy.orm.session", "Session", "_execute_internal"),
            ("sqlalchemy.orm.session", "Session", "flush"),
            ("sqlalchemy.orm.session", "Session", "commit"),
            ("sqlalchemy.orm.session", "Session", "close"),
            ("sqlalchemy.orm.session", "Session", "_get_impl"),
        ],
        "templates (render_template)": [("flask.templating", None, "_render")],
        "  of which url_for": [("flask.app", "Flask", "url_for")],
        "  of which form fields": [("wtforms.meta", "DefaultMeta", "render_field")],
        "session cookie (open)": [
            ("flask.sessions", "SecureCookieSessionInterface", "open_session"),
        ],
        "session cookie (save)": [
            ("flask.sessions", "SecureCookieSessionInterface", "save_session"),
        ],
        "forms (construct + validate)": [
            ("wtforms.form", "FormMeta", "__call__"),
            ("wtforms.form", "Form", "validate"),
        ],
    }

    def __init__(self) -> None:
        self.cpu: dict[tuple[str, str], float] = defaultdict(float)
        self.depth: dict[str, int] = defaultdict(int)
        self.kind = ""
        self.statements: dict[str, Counter[str]] = defaultdict(Counter)
        self.where: tuple[str, str] | None = None  # (request kind, statement text): callers
        self.callers: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)

    def install(self, engine: Any) -> None:
        import importlib

        from sqlalchemy import event

        @event.listens_for(engine, "before_cursor_execute")
        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if self.kind:
                short = " ".join(statement.split())[:110]
                self.statements[self.kind][short] += 1
                if self.where and self.where[0] == self.kind and self.where[1] in short:
                    self.callers[(self.kind, short)][caller_lines()] += 1

        for label, targets in self.LABELS.items():
            for module_name, owner_name, name in targets:
                module = importlib.import_module(module_name)
                owner = getattr(module, owner_name) if owner_name else module
                setattr(owner, name, self._timed(label, getattr(owner, name)))

    def _timed(self, label: str, original: Any) -> Any:
        spans = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            if spans.depth[label] or not spans.kind:
                return original(*args, **kwargs)
            spans.depth[label] += 1
            start = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                spans.depth[label] -= 1
                spans.cpu[(spans.kind, label)] += time.process_time() - start

        return functools.update_wrapper(timed, original)


class InProcessClient(load.Client):
    """``bench/load.py``'s client, its requests made through the test client; records the CPU
    time each request kind costs, and profiles the ones named in ``profiled``."""

    def __init__(self, app: Flask, side: PlatformSide, seeded: load.Seeded | None = None) -> None:
        super().__init__(0, load.Recorder(), side, seeded)
        self.app = app
        self.test_client = app.test_client(use_cookies=False)
        self.cpu: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)
        self.profiler: cProfile.Profile | None = None
        self.profiled: set[str] = set()
        self.spans: CpuSpans | None = None

    def call(
        self,
        person: load.Person,
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
        sent = dict(headers or {})
        cookie = person.cookie_header(cookies)
        if cookie:
            sent["Cookie"] = cookie
        wanted = not self.profiled or kind in self.profiled
        profiler = self.profiler if wanted else None
        if self.spans is not None:
            self.spans.kind = kind
        started = time.process_time()
        if profiler is not None:
            profiler.enable()
        if form is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        body = urlencode(form) if form is not None else None
        response = self.test_client.open(path, method=method, data=body, headers=sent)
        data = response.get_data()
        if profiler is not None:
            profiler.disable()
        self.cpu[kind] += time.process_time() - started
        if self.spans is not None:
            self.spans.kind = ""
        self.count[kind] += 1
        answer = http_headers(response)
        person.take_cookies(answer)
        if response.status_code != expect:
            raise load.BenchError(f"{kind}: HTTP {response.status_code}, expected {expect}")
        return answer, data


OPERATION_REQUESTS = {
    "launch": ("launch: login (cookie check)", "launch: POST"),
    "course page": ("course page",),
    "check": ("check: form", "check: POST"),
    "dashboard": ("trainer dashboard",),
    "queue": ("grading queue",),
    "grade": ("grade: form", "grade: POST"),
    "award": ("award: form", "award: POST"),
}


def request_shares() -> dict[str, float]:
    """Each request kind's share of the load's requests (``load.MIX``)."""
    per_kind: dict[str, float] = defaultdict(float)
    for share, operations in load.MIX.values():
        for operation in operations:
            for kind in OPERATION_REQUESTS[operation]:
                per_kind[kind] += share / len(operations)
    total = sum(per_kind.values())
    return {kind: value / total for kind, value in per_kind.items()}


def run_round(client: InProcessClient, people: list[load.Person], n: int) -> None:
    rng = random.Random(n)
    by_role: dict[str, list[load.Person]] = defaultdict(list)
    for person in people:
        by_role[person.role].append(person)

    def pick(role: str) -> load.Person:
        return by_role[role][n % len(by_role[role])]

    now = time.perf_counter()
    client.launch(pick("learner"), now)
    client.course_page(pick("learner"), now)
    client.check(pick("learner"), now, right=n % 2 == 1)
    client.dashboard(pick("trainer"), now)
    client.queue(pick("trainer"), now)
    client.grade(pick("trainer"), now)
    client.award(pick("manager"), now, rng)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="CPU per request of the mixed load's requests, in-process (see above).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--mode", choices=("cpu", "spans", "cprofile"), default="cpu")
    parser.add_argument("--rounds", type=int, default=60, help="of every operation")
    parser.add_argument("--warmup", type=int, default=6, help="rounds not measured")
    parser.add_argument("--only", action="append", default=[], help="cProfile: request kind")
    parser.add_argument("--sort", default="cumulative", help="cProfile: pstats sort key")
    parser.add_argument("--top", type=int, default=45, help="cProfile: rows")
    parser.add_argument(
        "--callers",
        nargs=2,
        metavar=("KIND", "TEXT"),
        help="spans: where statements of request KIND containing TEXT are run from",
    )
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument(
        "--schema",
        default=load.SCHEMA,
        help="PostgreSQL schema to build (another name lets two checkouts run side by side, "
        "sharing the machine's speed of the moment: the fairest comparison here)",
    )
    args = parser.parse_args(argv)

    from core import create_app, settle_for_serving
    from core.config import Settings
    from core.db import db

    teams = 2
    with fresh_tool(
        args.backend,
        args.pg_url,
        schema=args.schema,
        app_name=load.APP_NAME,
        secret=load.SECRET,
        first_data="demo",
        base_url=BASE_URL,
    ) as tool:
        env = tool.env
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "INSTANCE_PATH")})
        side = register_platform(env, BASE_URL, "iframe")
        app = create_app(Settings.from_env(env))
        settle_for_serving()  # as wsgi.py does for gunicorn's workers
        seed_jwks_cache(app)
        size = args.rounds + args.warmup
        people = load.make_people(side, teams, max(8, size // 2 + 2), LMS_BASE)
        setup = InProcessClient(app, side)
        for person in people:
            setup.launch(person, 0.0)
        seeded = load.seed(app, people, size, LMS_BASE)
        client = InProcessClient(app, side, seeded)
        for n in range(args.warmup):
            run_round(client, people, n)
        client.cpu.clear()
        client.count.clear()
        if args.mode == "spans":
            client.spans = CpuSpans()
            if args.callers:
                kind, text = args.callers
                client.spans.where = (kind, text)
            with app.app_context():
                client.spans.install(db.engine)
        if args.mode == "cprofile":
            client.profiler = cProfile.Profile(time.process_time)  # CPU, not waits
            client.profiled = set(args.only)
        for n in range(args.warmup, size):
            run_round(client, people, n)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()

    print(f"{args.backend}: {args.rounds} rounds, {revision()}")
    labels = list(CpuSpans.LABELS) if client.spans is not None else []
    short = [label.split(" (")[0].replace("  of which ", "…") for label in labels]
    print(f"{'request':<30} {'count':>6} {'CPU ms':>8}" + "".join(f" {s:>14}" for s in short))
    for kind in load.REQUEST_KINDS:
        if client.count[kind]:
            n = client.count[kind]
            line = f"{kind:<30} {n:>6} {1000 * client.cpu[kind] / n:>8.2f}"
            if client.spans is not None:
                spent = client.spans.cpu
                line += "".join(f" {1000 * spent[(kind, lab)] / n:>14.2f}" for lab in labels)
            print(line)
    shares = request_shares()
    weighted = sum(
        shares[kind] * 1000 * client.cpu[kind] / client.count[kind]
        for kind in shares
        if client.count[kind]
    )
    print(f"mean over the load's mix: {weighted:.2f} ms CPU per request")
    if client.spans is not None:
        for kind in load.REQUEST_KINDS:
            n = client.count[kind]
            found = client.spans.statements[kind]
            if n and found:
                print(f"\n{kind}: {sum(found.values()) / n:.1f} statements per request")
                for statement, times in found.most_common():
                    print(f"  {times / n:5.2f} x {statement}")
                    for stack, seen in client.spans.callers[(kind, statement)].most_common():
                        print(f"         {seen / n:5.2f} from {stack}")
    if client.profiler is not None:
        total = sum(client.count[k] for k in (client.profiled or client.count))
        print_cprofile(client.profiler, total, args.sort, args.top, f"request ({total} requests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
