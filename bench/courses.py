"""Load test: a course page and a knowledge-check submit, under gunicorn, with a cohort of
learners in the course; and the time to render a certificate.

For each backend the bench builds a fresh database (schema ``bench_courses`` in the ``test``
database on PostgreSQL, a temporary file on SQLite), migrates it, loads the demo data (the
development platform and the built-in courses) and seeds one LMS course context with
``--learners`` people who joined the programme and started "Net Promoter Score", each with
some lessons done and a failed attempt at the first check. Each learner gets a signed session
cookie, as a launch would have given them (the launch itself is measured by
``bench/launch.py``).

Requests arrive at a fixed rate (``--rate``, open loop: a slow server does not slow the
arrivals), alternately a page view and a submit, each by a learner picked at random:
``GET /courses/net-promoter-score/`` (200, the course page with their progress) and a submit
of the first module's knowledge check with wrong answers: the learner's client first gets the
check page (its field names and values are opaque per render, ``core.questions``, so the
answers are chosen by the options' words as ``bench/load.py`` does; that GET is not timed),
then ``POST``s it (302; the server marks it, locks the enrolment and records an attempt).
Latency counts from when a request was due.

Last, one learner who completed the course downloads the certificate over HTTP, and the bench
renders it in-process (WeasyPrint) to separate rendering from serving, alternating each render
with the anchor: bare WeasyPrint rendering a page of the same kind (an A4 landscape page with
a heading, a few paragraphs and the same QR code as inline SVG), and prints the ratio.

    .venv/bin/python bench/courses.py                       # both backends, 20 s each
    .venv/bin/python bench/courses.py --backend postgresql --rate 100 --duration 30
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from common import (
    DEFAULT_PG,
    BenchError,
    cores,
    demo_deployment,
    fresh_tool,
    percentile,
    revision,
    say,
    seeded_check_attempt,
    serving,
    wait_for_quiet_machine,
)
from load import answer_form

SLUG = "net-promoter-score"
SECRET = "bench-courses-" + "c" * 30
SCHEMA = "bench_courses"


@dataclass
class Learner:
    user_id: int
    cookie: str
    csrf: str


@dataclass
class Seeded:
    learners: list[Learner]
    graduate: Learner
    module: str
    questions: list[dict[str, Any]]


def seed(env: dict[str, str], base_url: str, count: int) -> Seeded:
    """Create the cohort in the bench's database, and a session cookie for each learner."""
    import os

    os.environ.update({k: v for k, v in env.items() if k in ("DATABASE_URL", "INSTANCE_PATH")})
    from flask import g, session
    from flask.sessions import SecureCookieSessionInterface
    from flask_wtf.csrf import generate_csrf

    from core import create_app
    from core.auth import Role, Viewer
    from core.config import Settings
    from core.db import db, utcnow
    from courses.models import CourseResult, Enrolment, ItemProgress
    from courses.services import course_by_slug, outline_of, start_course
    from people.models import Membership, Team, User

    app = create_app(Settings.from_env(env))
    rng = random.Random(7)
    with app.app_context():
        deployment = demo_deployment(db.session)
        course = course_by_slug(db.session, SLUG, deployment.platform_id)
        if course is None:
            raise BenchError(f"the demo data did not load (no course {SLUG})")
        outline = outline_of(db.session, course)
        module = outline.modules[0]
        team = Team(
            platform_id=deployment.platform_id,
            deployment_id=deployment.id,
            external_id="bench-cohort",
            title="Bench cohort",
        )
        db.session.add(team)
        db.session.flush()
        now = utcnow()
        users = []
        for n in range(count + 1):
            user = User(
                platform_id=deployment.platform_id,
                sub=f"bench-learner-{n}",
                name=f"Learner {n}",
                email=f"learner{n}@bench.invalid",
                opted_in_at=now,
            )
            db.session.add(user)
            users.append(user)
        db.session.flush()
        lesson_keys = [i.key for i in outline.items if i.kind in ("lesson", "example")]
        for user in users:
            db.session.add(Membership(user_id=user.id, team_id=team.id, lms_role="learner"))
            enrolment = start_course(
                db.session,
                user,
                course,
                deployment_id=deployment.id,
                team_id=team.id,
                resource_link_id=None,
            )
            for key in lesson_keys[: rng.randint(0, len(lesson_keys))]:
                db.session.add(ItemProgress(enrolment_id=enrolment.id, item=key))
            db.session.add(
                seeded_check_attempt(enrolment.id, module["slug"], outline.version, passed=False)
            )
        graduate_enrolment = db.session.query(Enrolment).filter_by(user_id=users[-1].id).one()
        graduate_enrolment.completed_at = utcnow()  # as a completion writes it, with the result
        db.session.add(
            CourseResult(
                enrolment_id=graduate_enrolment.id,
                user_id=users[-1].id,
                course_id=course.id,
                version=outline.version,
                score_percent=92.5,
                certificate_code="bench-certificate",
                learner_name=users[-1].display_name,
                course_title=course.title,
            )
        )
        db.session.commit()

        interface = app.session_interface
        assert isinstance(interface, SecureCookieSessionInterface)  # Flask's own, signed cookie
        serializer = interface.get_signing_serializer(app)
        learners = []
        for user in users:
            with app.test_request_context(base_url=base_url):
                session["viewer"] = Viewer(
                    user_id=user.id,
                    role=Role.LEARNER,
                    platform_id=deployment.platform_id,
                    deployment_id=deployment.id,
                    team_id=team.id,
                    launch_id="bench",
                ).to_session()
                g.pop("csrf_token", None)  # g outlives this request context: the app's
                token = generate_csrf()
                learners.append(Learner(user.id, serializer.dumps(dict(session)), token))
        questions = module["check"]["questions"]
        db.session.remove()
    return Seeded(learners[:-1], learners[-1], module["slug"], questions)


ANCHOR_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
@page {{ size: A4 landscape; margin: 18mm; }}
body {{ font-family: sans-serif; color: #1f2937; }}
h1 {{ font-size: 30pt; margin: 0 0 8mm; }} p {{ font-size: 12pt; line-height: 1.5; }}
.qr {{ width: 30mm; height: 30mm; float: right; }}
</style></head><body><div class="qr">{qr}</div><h1>Certificate of completion</h1>
<p>Awarded to A Learner for completing Net Promoter Score, scoring 92.5%.</p>
<p>Issued by Bench organisation. Check it at {url}.</p>
<p>What the course covered: promoters, passives and detractors; computing the score; its
margin of error; acting on what customers say.</p></body></html>"""


def render_certificate_in_process(
    env: dict[str, str], base_url: str, runs: int
) -> tuple[list[float], list[float]]:
    """Milliseconds per WeasyPrint render of the certificate, first (cold) run included, and of
    the anchor (bare WeasyPrint, a page of the same kind with the same QR code), alternating."""
    from weasyprint import HTML

    from core import create_app
    from core.config import Settings
    from core.db import db
    from core.pdf import render_pdf
    from courses.certificates import certificate_qr_svg, verification_url
    from courses.services import result_by_code

    app = create_app(Settings.from_env(env))
    timings, anchor = [], []
    with app.test_request_context(base_url=base_url):
        result = result_by_code(db.session, "bench-certificate")
        assert result is not None
        for _ in range(runs):
            started = time.perf_counter()
            url = verification_url(result.certificate_code)
            qr = certificate_qr_svg(url)
            pdf = render_pdf(
                "courses/certificate.html",
                result=result,
                url=url,
                qr=qr,
                organisation="Bench organisation",
                logo=None,
            )
            timings.append(1000 * (time.perf_counter() - started))
            assert pdf.startswith(b"%PDF")
            started = time.perf_counter()
            bare = HTML(string=ANCHOR_PAGE.format(qr=qr, url=url)).write_pdf()
            anchor.append(1000 * (time.perf_counter() - started))
            assert bare.startswith(b"%PDF")
        db.session.remove()
    return timings, anchor


@dataclass
class Samples:
    page: list[float] = field(default_factory=list)
    submit: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _call(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    learner: Learner,
    body: str | None = None,
) -> tuple[int, float, str]:
    status, elapsed, page = _exchange(conn, method, path, learner.cookie, body)
    title = re.search(rb"<h1[^>]*>(.*?)</h1>", page) if status >= 400 else None
    return status, elapsed, title[1].decode(errors="replace") if title else ""


def _exchange(
    conn: http.client.HTTPConnection, method: str, path: str, cookie: str, body: str | None
) -> tuple[int, float, bytes]:
    """One request with the learner's session cookie: status, milliseconds and the body."""
    headers = {"Cookie": f"academy_session={cookie}"}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    started = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    page = response.read()
    return response.status, 1000 * (time.perf_counter() - started), page


def _check_form(port: int, path: str, learner: Learner, questions: list[dict[str, Any]]) -> str:
    """The check as this learner's browser renders it, filled in with wrong answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        status, _, page = _exchange(conn, "GET", path, learner.cookie, None)
    finally:
        conn.close()
    if status != 200:
        raise OSError(f"the check page answered HTTP {status}")
    return urlencode(answer_form(page, questions, right=False))


def client_loop(
    port: int,
    seeded: Seeded,
    schedule: Schedule,
    index: int,
    out: Samples,
) -> None:
    """Send this thread's share of the arrivals: slot ``n`` (every ``clients``-th one) is due at
    ``start + n / rate``. Latency counts from the due time, so a request that had to wait for
    a free thread (the server being slow) is not flattered by the wait."""
    rng = random.Random(index)
    page_path = f"/courses/{SLUG}/"
    check_path = f"/courses/{SLUG}/m/{seeded.module}/check"
    slot = index
    while True:
        due = schedule.start + slot / schedule.rate
        if due >= schedule.end:
            return
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        learner = rng.choice(seeded.learners)
        if slot % 2 == 0:
            method, path, data, expected, bucket = "GET", page_path, None, 200, out.page
        else:
            try:
                body = _check_form(port, check_path, learner, seeded.questions)
            except (OSError, ValueError) as error:
                out.errors.append(f"GET {check_path}: {error}")
                slot += schedule.clients
                continue
            method, path, data, expected, bucket = "POST", check_path, body, 302, out.submit
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            status, _, reason = _call(conn, method, path, learner, data)
            latency = 1000 * (time.perf_counter() - due)
        except OSError as error:
            out.errors.append(f"{method} {path}: {error}")
            status = 0
        finally:
            conn.close()
        if status and status != expected:
            out.errors.append(f"{method} {path}: HTTP {status} {reason[:200]!r}")
        elif status and due >= schedule.measure_from:
            bucket.append(latency)
        slot += schedule.clients


@dataclass(frozen=True)
class Schedule:
    start: float
    measure_from: float
    end: float
    rate: float
    clients: int


@dataclass
class Result:
    backend: str
    learners: int
    clients: int
    workers: int
    seconds: float
    page: dict[str, float]
    submit: dict[str, float]
    requests_per_s: float
    errors: int
    error_examples: list[str]
    certificate_http: dict[str, float]
    certificate_render: dict[str, float]


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": percentile(ordered, 50),
        "p95": percentile(ordered, 95),
        "p99": percentile(ordered, 99),
    }


def bench_backend(backend: str, args: argparse.Namespace) -> Result:
    with fresh_tool(
        backend,
        args.pg_url,
        schema=SCHEMA,
        app_name="bench-courses",
        secret=SECRET,
        first_data="demo",
    ) as tool:
        env, port, base = tool.env, tool.port, tool.base_url
        say(f"[{backend}] seeding {args.learners} learners")
        seeded = seed(env, base, args.learners)
        log = tool.workdir / "gunicorn.log"
        with serving(env, port, args.workers, log):
            wait_for_quiet_machine(args.wait_quiet)
            samples = [Samples() for _ in range(args.clients)]
            begin = time.perf_counter() + 0.5
            schedule = Schedule(
                start=begin,
                measure_from=begin + args.warmup,
                end=begin + args.warmup + args.duration,
                rate=args.rate,
                clients=args.clients,
            )
            threads = [
                threading.Thread(
                    target=client_loop,
                    args=(port, seeded, schedule, i, samples[i]),
                    daemon=True,
                )
                for i in range(args.clients)
            ]
            for thread in threads:
                thread.start()
            say(
                f"[{backend}] {args.rate:g} requests/s for {args.warmup + args.duration:.0f} s"
                f" ({args.warmup:.0f} s warm-up)"
            )
            for thread in threads:
                thread.join(timeout=args.warmup + args.duration + 120)
            seconds = args.duration
            certificate_http = []
            for _ in range(args.certificates):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status, ms, _ = _call(
                    conn, "GET", f"/courses/{SLUG}/certificate.pdf", seeded.graduate
                )
                conn.close()
                if status != 200:
                    raise BenchError(f"certificate download answered HTTP {status}")
                certificate_http.append(ms)
        renders, bare = render_certificate_in_process(env, base, args.certificates)
    page = [ms for s in samples for ms in s.page]
    submit = [ms for s in samples for ms in s.submit]
    errors = [e for s in samples for e in s.errors]
    warm_http = certificate_http[3:] or certificate_http
    ours_warm = statistics.median(renders[3:] or renders)
    anchor_warm = statistics.median(bare[3:] or bare)
    return Result(
        backend=backend,
        learners=args.learners,
        clients=args.clients,
        workers=args.workers,
        seconds=round(seconds, 1),
        page=_stats(page),
        submit=_stats(submit),
        requests_per_s=round((len(page) + len(submit)) / seconds, 1),
        errors=len(errors),
        error_examples=errors[:5],
        certificate_http={"p50 warm": statistics.median(warm_http), "first": certificate_http[0]},
        certificate_render={
            "cold": renders[0],
            "p50 warm": ours_warm,
            "min warm": min(renders[3:] or renders),
            "anchor p50 warm": anchor_warm,
            "ratio": ours_warm / anchor_warm,
        },
    )


def report(results: list[Result], args: argparse.Namespace) -> None:
    print(f"\nbench/courses.py · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {revision()}")
    print(
        f"{args.learners} learners, {args.clients} client threads, gunicorn {args.workers} "
        f"sync workers, {args.duration:.0f} s measured, {cores()} cores\n"
    )
    names = [r.backend for r in results]
    print(f"| | {' | '.join(names)} |")
    print(f"| --- |{' ---: |' * len(names)}")
    rows = [
        ("course page p50 (ms)", lambda r: r.page["p50"]),
        ("course page p95 (ms)", lambda r: r.page["p95"]),
        ("course page p99 (ms)", lambda r: r.page["p99"]),
        ("check submit p50 (ms)", lambda r: r.submit["p50"]),
        ("check submit p95 (ms)", lambda r: r.submit["p95"]),
        ("check submit p99 (ms)", lambda r: r.submit["p99"]),
        ("requests/s served (both kinds)", lambda r: r.requests_per_s),
        ("requests measured", lambda r: r.page["n"] + r.submit["n"]),
        ("errors", lambda r: r.errors),
        ("certificate render, warm p50 (ms)", lambda r: r.certificate_render["p50 warm"]),
        ("certificate render, warm min (ms)", lambda r: r.certificate_render["min warm"]),
        ("certificate render, cold (ms)", lambda r: r.certificate_render["cold"]),
        (
            "anchor: bare WeasyPrint, same kind of page, warm p50 (ms)",
            lambda r: r.certificate_render["anchor p50 warm"],
        ),
        ("certificate render ratio to the anchor (p50s)", lambda r: r.certificate_render["ratio"]),
        ("certificate download, warm p50 (ms)", lambda r: r.certificate_http["p50 warm"]),
    ]
    for label, get in rows:
        values = [get(r) for r in results]
        print(
            f"| {label} | "
            + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in values)
            + " |"
        )
    for r in results:
        for example in r.error_examples:
            print(f"error ({r.backend}): {example}")
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument(
        "--rate",
        type=float,
        default=60.0,
        help="arrivals per second (half page views, half check submits)",
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=32,
        help="client threads sending the arrivals (the most in flight at once)",
    )
    parser.add_argument("--workers", type=int, default=2 * cores() + 1, help="gunicorn workers")
    parser.add_argument("--certificates", type=int, default=25, help="certificate renders")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=60.0,
        help="seconds to wait for an idle machine before measuring",
    )
    parser.add_argument("--json", action="store_true", help="also print the raw results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    try:
        results = [bench_backend(backend, args) for backend in backends]
    except BenchError as error:
        say(f"bench failed: {error}")
        return 1
    report(results, args)
    return 0 if all(r.errors == 0 for r in results) else 2


if __name__ == "__main__":
    raise SystemExit(main())
