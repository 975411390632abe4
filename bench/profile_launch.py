"""Profile complete launches in-process: the same flow as ``bench/launch.py`` (login answered
by the cookie check page, signed id_token, launch POST, a new user each time), driven through
Flask's test client on a fresh database.

    .venv/bin/python bench/profile_launch.py                          # spans, PostgreSQL
    .venv/bin/python bench/profile_launch.py --mode cprofile --top 40
    .venv/bin/python bench/profile_launch.py --mode pyinstrument      # pip install pyinstrument

``spans`` (the default) wraps chosen product functions with a timer and prints, per launch,
how often each ran and the wall time spent inside it (spans nest, so they do not add up),
plus the SQL statements, commits and pool pings each request kind costs. ``cprofile`` and
``pyinstrument`` profile the same loop; ``none`` only times it.

The platform's JWKS is put into the tool's cache up front (no HTTP server is started), as the
tool would have cached it after the first launch.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import os
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parent) not in sys.path:  # imported, not run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
import whatif
from common import DEFAULT_PG, fresh_tool
from fake_lms import PlatformSide, auth_request, register_platform
from launch import APP_NAME, SECRET

# Its own schema: bench/launch.py may be running on bench_launch at the same time.
SCHEMA = "bench_profile_launch"
BASE_URL = "http://127.0.0.1:5999"  # never served: only names the tool and the platform
REQUEST_KINDS = ("login (cookie check page)", "launch POST")


def seed_jwks_cache(app: Any) -> None:
    from core.db import db, utcnow
    from lms.devplatform import service as devplatform
    from lms.models import PlatformKeySet

    with app.app_context():
        setup = devplatform.current_setup(db.session)
        assert setup is not None
        db.session.merge(
            PlatformKeySet(
                platform_id=setup.platform_id,
                jwks=devplatform.platform_jwks(db.session),
                fetched_at=utcnow(),
            )
        )
        db.session.commit()
        db.session.remove()


class Spans:
    """Wall time and calls per label; ``current`` names the request kind being driven."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.order: list[str] = [f"request: {kind}" for kind in REQUEST_KINDS]
        self.current = ""
        self.enabled = False

    def add(self, label: str, seconds: float, kind_too: bool = False) -> None:
        if not self.enabled:
            return
        self.seconds[label] += seconds
        self.calls[label] += 1
        if kind_too and self.current:
            self.calls[f"{label} [{self.current}]"] += 1

    @contextlib.contextmanager
    def request(self, kind: str) -> Iterator[None]:
        self.current = kind
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(f"request: {kind}", time.perf_counter() - start)
            self.current = ""

    def wrap(self, owner: Any, name: str, label: str) -> None:
        self.order.append(label)
        is_dict = isinstance(owner, dict)
        original = owner[name] if is_dict else getattr(owner, name)
        spans = self

        @functools.wraps(original)  # keeps the name Flask-WTF's csrf.exempt looks up
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spans.add(label, time.perf_counter() - start, kind_too=True)

        if is_dict:
            owner[name] = timed
        else:
            setattr(owner, name, timed)


def instrument(app: Any, spans: Spans) -> None:
    """Timers around the product functions a launch goes through (no product file changes)."""
    import sqlalchemy.orm
    from sqlalchemy import event

    import lms.launch
    import lms.services
    import lms.views
    import people.services
    from core.db import db
    from lms import id_tokens
    from lms.launch import ToolLogin, ToolMessageLaunch
    from lms.storage import DatabaseLaunchDataStorage
    from lms.tool_config import DatabaseToolConf

    spans.wrap(app.view_functions, "lms.login", "view lms.login")
    spans.wrap(ToolLogin, "redirect", "  ToolLogin.redirect")
    spans.wrap(ToolLogin, "get_redirect_object", "    .get_redirect_object (state, nonce)")
    spans.wrap(app.view_functions, "lms.launch", "view lms.launch")
    for name in (
        "validate_state",
        "validate_jwt_format",
        "validate_registration",
        "validate_jwt_signature",
        "validate_message",
        "validate_deployment",
        "validate_nonce",
        "save_launch_data",
    ):
        spans.wrap(ToolMessageLaunch, name, f"  ToolMessageLaunch.{name}")
        if name == "validate_jwt_signature":
            # The parsed key comes from the process's cache; the key set is read (and fetched
            # when stale) only when a kid is new to the process.
            spans.wrap(lms.launch, "platform_key_set", "    platform_key_set (new kid only)")
            spans.wrap(id_tokens, "decode", "    id_tokens.decode (RS256 verify)")
    spans.wrap(lms.views, "complete_launch", "  complete_launch")
    spans.wrap(lms.services, "provision", "    provision")
    for name in ("upsert_person", "upsert_context_team", "upsert_membership"):
        spans.wrap(people.services, name, f"      {name}")
    spans.wrap(lms.services, "upsert_resource_link", "    upsert_resource_link")
    spans.wrap(lms.views, "sign_in", "  sign_in (session cookie)")
    sources = app.extensions["frame_ancestor_sources"]
    for i, source in enumerate(sources):
        holder = {"source": source}
        spans.wrap(holder, "source", "after_request: platform_origins (CSP frame-ancestors)")
        sources[i] = holder["source"]
    spans.wrap(DatabaseToolConf, "find_platform", "DatabaseToolConf.find_platform")
    spans.wrap(DatabaseLaunchDataStorage, "set_value", "DatabaseLaunchDataStorage.set_value")
    spans.wrap(
        DatabaseLaunchDataStorage, "consume_nonce", "DatabaseLaunchDataStorage.consume_nonce"
    )
    spans.wrap(sqlalchemy.orm.Session, "commit", "Session.commit")

    with app.app_context():
        engine = db.engine
    spans.wrap(engine.dialect, "do_ping", "pool pre-ping (SELECT 1)")

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        started = conn.info.pop("bench_started", None)
        if started is not None:
            verb = statement.lstrip().split(None, 1)[0].upper()
            spans.add(f"SQL {verb} (driver round trip)", time.perf_counter() - started, True)


def make_launcher(app: Any, side: PlatformSide, spans: Spans) -> Callable[[int], None]:
    run = secrets.token_hex(4)

    browser = {"Sec-Fetch-Dest": "iframe"}  # inside an LMS frame: the tool checks cookies

    def launch(n: int) -> None:
        client = app.test_client()
        sub = f"profile-{run}-{n}"
        with spans.request(REQUEST_KINDS[0]):
            page = client.get("/lms/login?" + side.login_query(sub), headers=browser)
        auth = auth_request(page.data)
        assert page.status_code == 200 and auth, page.status_code
        claims = side.person_claims(sub, "Profile", f"Person {n}", f"profile.{run}.{n}@example.com")
        token = side.id_token(claims, auth["nonce"][0])
        with spans.request(REQUEST_KINDS[1]):
            response = client.post(
                "/lms/launch", data={"id_token": token, "state": auth["state"][0]}
            )
        assert response.status_code == 303, response.get_data(as_text=True)[:2000]

    return launch


def print_spans(spans: Spans, count: int) -> None:
    print(f"{'ms/launch':>10} {'calls':>6}  span")
    order = spans.order + sorted(k for k in spans.seconds if k not in spans.order)
    for label in order:
        ms, calls = 1000 * spans.seconds[label] / count, spans.calls[label] / count
        print(f"{ms:10.2f} {calls:6.1f}  {label}")
    print("\nPer request kind (calls per launch):")
    for kind in REQUEST_KINDS:
        parts = [
            f"{label.split(' [')[0]} x{spans.calls[label] / count:.2f}"
            for label in sorted(spans.calls)
            if label.endswith(f"[{kind}]") and (label.startswith(("SQL", "pool", "Session.commit")))
        ]
        print(f"  {kind}: " + ", ".join(parts))


# pstats' sort keys, and the column of a cProfile row (primitive calls, calls, own time,
# cumulative time) each sorts by, largest first.
SORT_COLUMNS = {"cumulative": 3, "cumtime": 3, "tottime": 2, "time": 2, "calls": 1, "pcalls": 0}


def print_cprofile(
    profiler: cProfile.Profile, count: int, sort: str, top: int, per: str = "launch"
) -> None:
    print(f"\nTop functions by {sort}, ms per {per}:")
    profiler.create_stats()
    column = SORT_COLUMNS[sort]
    rows = sorted(profiler.stats.items(), key=lambda row: row[1][:4][column], reverse=True)
    print(f"{'cum ms':>9} {'own ms':>9} {'calls':>8}  function")
    for (filename, line, name), (calls, _, tottime, cumtime, _) in rows[:top]:
        short = filename.replace(str(Path.cwd()) + "/", "").split("site-packages/")[-1]
        print(
            f"{1000 * cumtime / count:9.2f} {1000 * tottime / count:9.2f} "
            f"{calls / count:8.1f}  {short}:{line}({name})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Profile complete LTI launches in-process (see the module docstring).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument(
        "--mode", choices=("spans", "cprofile", "pyinstrument", "none"), default="spans"
    )
    parser.add_argument("--launches", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument(
        "--sort", choices=SORT_COLUMNS, default="cumulative", help="cProfile: sort key"
    )
    parser.add_argument("--top", type=int, default=45, help="cProfile: rows")
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="cProfile: count CPU time (time.process_time), so waits for the database and its "
        "disk do not hide where the server's CPU goes",
    )
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument(
        "--what-if",
        default="",
        metavar="FIX,FIX|all",
        help=f"apply prototype fixes from bench/whatif.py first ({', '.join(whatif.FIXES)})",
    )
    args = parser.parse_args(argv)

    from core import create_app
    from core.config import Settings
    from core.db import db

    with fresh_tool(
        args.backend,
        args.pg_url,
        schema=SCHEMA,
        app_name=APP_NAME,
        secret=SECRET,
        base_url=BASE_URL,
    ) as tool:
        side = register_platform(tool.env, BASE_URL, "iframe")
        app = create_app(Settings.from_env(tool.env))
        seed_jwks_cache(app)
        whatif.apply(app, whatif.parse(args.what_if))
        spans = Spans()
        if args.mode == "spans":
            instrument(app, spans)
        launch = make_launcher(app, side, spans)
        for n in range(args.warmup):
            launch(-1 - n)

        profiler: Any = None
        if args.mode == "cprofile":
            profiler = cProfile.Profile(time.process_time) if args.cpu else cProfile.Profile()
        elif args.mode == "pyinstrument":
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
        spans.enabled = True
        cpu, start = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.start() if args.mode == "pyinstrument" else profiler.enable()
        for n in range(args.launches):
            launch(n)
        if profiler is not None:
            profiler.stop() if args.mode == "pyinstrument" else profiler.disable()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        with app.app_context():
            db.engine.dispose()

    count = args.launches
    if args.what_if:
        print(f"WHAT-IF: prototype fixes applied (NOT the product): {args.what_if}")
    print(
        f"{args.backend}, {args.mode}: {count} launches, {1000 * wall / count:.1f} ms wall and "
        f"{1000 * cpu / count:.1f} ms CPU (this process) per complete launch"
    )
    if args.mode == "spans":
        print_spans(spans, count)
    elif args.mode == "cprofile":
        print_cprofile(profiler, count, args.sort, args.top)
    elif args.mode == "pyinstrument":
        print(f"(pyinstrument times are totals over {count} launches)")
        print(profiler.output_text(unicode=False, color=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
