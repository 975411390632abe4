"""Survey import and training-impact analysis at scale.

On a fresh database (SQLite by default; ``--backend postgresql``) the bench loads the demo data,
adds ``--teams`` teams of ``--team-size`` people and ``--completions`` course completions
(70% of teams train, on staggered dates), writes a CSV of ``--rows`` CSAT responses over a year
(trained teams gain about 6 points after training), and then times:

1. the import of that file (the call ``flask insights import`` makes, in a fresh process; the
   process's start is reported apart) and, alternating with it ``--import-rounds`` times, the
   anchor: the same file into an unindexed table with no checks (PostgreSQL: raw ``COPY``;
   SQLite: plain ``executemany``), with the import process's peak memory;
2. the full training-impact report in a fresh process (roll-ups read, training dates, stacked
   difference in differences with its jackknife interval, week-by-week effect, pre-trend
   check, correlations, per-team table), ``--repeats`` times, each time followed by the
   anchor: DuckDB computing the same comparison (weekly counts from the raw responses of the
   same file and the demo's, training dates from the same memberships and completions, the
   stacked difference in differences, whose estimate it prints beside ours) from an
   in-memory copy of the same rows; then the per-agent comparison as the product makes it:
   once by the worker's job (as after an import), then ``--repeats`` times the report with
   the comparison it kept. The anchor needs DuckDB, which only this bench uses
   (``.venv/bin/pip install duckdb``; not a dependency);
3. the report's PDF (WeasyPrint), with that process's peak memory.

    .venv/bin/python bench/insights.py                       # SQLite, 5,000,000 rows
    .venv/bin/python bench/insights.py --backend postgresql
    .venv/bin/python bench/insights.py --rows 200000 --teams 100 --completions 4000
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from common import (
    DEFAULT_PG,
    NOWHERE,
    ROOT,
    BenchError,
    demo_deployment,
    exit_status,
    fresh_tool,
    revision,
    say,
    wait_for_quiet_machine,
)

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection
    from sqlalchemy.orm import Session

SECRET = "bench-insights-" + "i" * 30
SCHEMA = "bench_insights"
START = date(2025, 11, 3)  # a Monday; the survey year starts here
DAYS = 364


def seed(env: dict[str, str], args: argparse.Namespace) -> tuple[int, dict[int, int]]:
    """Teams, people, memberships and completions, in bulk. Returns the platform id and each
    team's training day (days after START) for the trained teams."""
    from sqlalchemy import insert, select

    from core import create_app
    from core.config import Settings
    from core.db import db
    from courses.models import Course, CourseResult, Enrolment
    from people.models import Membership, Team, User

    app = create_app(Settings.from_env(env))
    rng = random.Random(5)
    with app.app_context():
        deployment = demo_deployment(db.session)
        platform_id = deployment.platform_id
        courses = db.session.scalars(select(Course).order_by(Course.sort_order)).all()[:2]
        first = (db.session.scalar(select(Team.id).order_by(Team.id.desc()).limit(1)) or 0) + 1
        db.session.execute(
            insert(Team),
            [
                {
                    "id": first + t,
                    "platform_id": platform_id,
                    "deployment_id": deployment.id,
                    "external_id": f"T{t}",
                    "title": f"Team {t}",
                    "label": "",
                }
                for t in range(args.teams)
            ],
        )
        user0 = (db.session.scalar(select(User.id).order_by(User.id.desc()).limit(1)) or 0) + 1
        now = datetime.now(UTC)
        people = args.teams * args.team_size
        db.session.execute(
            insert(User),
            [
                {
                    "id": user0 + n,
                    "platform_id": platform_id,
                    "sub": f"agent-{n}",
                    "name": f"Agent {n}",
                    "email": f"agent{n}@example.test",
                    "opted_in_at": now,
                    "created_at": now,
                    "last_launch_at": now,
                }
                for n in range(people)
            ],
        )
        db.session.execute(
            insert(Membership),
            [
                {
                    "user_id": user0 + n,
                    "team_id": first + n // args.team_size,
                    "lms_role": "learner",
                    "active": True,
                }
                for n in range(people)
            ],
        )
        trained_teams = rng.sample(range(args.teams), int(0.7 * args.teams))
        training_day = {t: rng.randint(90, 270) for t in trained_teams}
        learners = [(t, m) for t in trained_teams for m in range(args.team_size)]
        plan: list[tuple[int, int, int]] = []  # (user, course index, day)
        for course_index in range(len(courses)):
            for t, m in learners:
                if len(plan) >= args.completions:
                    break
                plan.append(
                    (
                        user0 + t * args.team_size + m,
                        course_index,
                        training_day[t] + rng.randint(-10, 10),
                    )
                )
        enrolment0 = (
            db.session.scalar(select(Enrolment.id).order_by(Enrolment.id.desc()).limit(1)) or 0
        ) + 1
        enrolments, results = [], []
        for n, (user_id, course_index, day) in enumerate(plan):
            when = datetime.combine(START + timedelta(days=day), datetime.min.time(), UTC)
            course = courses[course_index]
            enrolments.append(
                {
                    "id": enrolment0 + n,
                    "user_id": user_id,
                    "course_id": course.id,
                    "platform_id": platform_id,
                    "deployment_id": deployment.id,
                    "team_id": first + (user_id - user0) // args.team_size,
                    "last_item": "",
                    "started_at": when,
                    "last_activity_at": when,
                    "completed_at": when,
                }
            )
            results.append(
                {
                    "enrolment_id": enrolment0 + n,
                    "user_id": user_id,
                    "course_id": course.id,
                    "version": "1.0",
                    "score_percent": 80.0,
                    "completed_at": when,
                    "certificate_code": f"bench-{n}",
                    "learner_name": "Agent",
                    "course_title": course.title,
                }
            )
        for start in range(0, len(plan), 20_000):
            db.session.execute(insert(Enrolment), enrolments[start : start + 20_000])
            db.session.execute(insert(CourseResult), results[start : start + 20_000])
        db.session.commit()
        db.session.remove()
    say(f"seeded {args.teams} teams, {people} people, {len(plan)} completions")
    return platform_id, training_day


def write_survey(path: Path, args: argparse.Namespace, training_day: dict[int, int]) -> None:
    """``--rows`` CSAT responses: team, agent, time, score; +6 points after a team trained."""
    rng = np.random.default_rng(9)
    trained_on = np.full(args.teams, 10_000)
    for team, day in training_day.items():
        trained_on[team] = day
    base = rng.uniform(0.62, 0.8, args.teams)
    with path.open("w") as out:
        out.write("id,team,agent,answered,score\n")
        block = 500_000
        for start in range(0, args.rows, block):
            n = min(block, args.rows - start)
            team = rng.integers(0, args.teams, n)
            member = rng.integers(0, args.team_size, n)
            day = rng.integers(0, DAYS, n)
            minute = rng.integers(8 * 60, 20 * 60, n)
            share = base[team] + 0.0001 * day + np.where(day >= trained_on[team], 0.06, 0.0)
            top = rng.random(n) < share
            score = np.where(top, rng.integers(4, 6, n), rng.integers(1, 4, n))
            dates = [(START + timedelta(days=int(d))).isoformat() for d in range(DAYS)]
            out.writelines(
                f"s{start + i},T{team[i]},agent{team[i] * args.team_size + member[i]}"
                f"@example.test,{dates[day[i]]} {minute[i] // 60:02d}:{minute[i] % 60:02d},"
                f"{score[i]}\n"
                for i in range(n)
            )
    say(f"wrote {args.rows} rows ({path.stat().st_size / 1e6:.0f} MB)")


# The anchor: DuckDB computing the same comparison from the same rows -------------------------

# Teams' weekly counts from the raw responses; each team's training date as the report finds
# it (the first day on which half the team's members that day had completed, each counted
# from the later of their completion and their joining, while they belonged); and the
# stacked difference in differences of the report's point estimate (28-day windows of whole
# weeks, the training week left out, 10+ responses a window, comparison teams not trained by
# the end of the after-window).
DUCKDB_COMPARISON = """
WITH weekly AS (
    SELECT team_id, day - (day + 3) % 7 AS week, count(*) AS n,
           count(*) FILTER (WHERE score >= 4) AS top
    FROM responses GROUP BY ALL),
origin AS (SELECT min(week) AS first FROM weekly),
periods AS (SELECT team_id, (week - first) // 7 AS p, n, top FROM weekly, origin),
done AS (SELECT user_id, min(day) AS day FROM completions GROUP BY ALL),
trained_from AS (
    SELECT s.team_id, greatest(d.day, coalesce(s.joined, d.day)) AS day, s.left_on
    FROM stays s JOIN done d USING (user_id)
    WHERE s.left_on IS NULL OR d.day < s.left_on),
changes AS (  -- members and trained people, +1 from the day counted, -1 from the day left
    SELECT team_id, coalesce(joined, -1000000000) AS day, 1 AS members, 0 AS trained
    FROM stays WHERE joined IS NULL OR left_on IS NULL OR joined < left_on
    UNION ALL
    SELECT team_id, left_on, -1, 0
    FROM stays WHERE left_on IS NOT NULL AND (joined IS NULL OR joined < left_on)
    UNION ALL
    SELECT team_id, day, 0, 1 FROM trained_from WHERE left_on IS NULL OR day < left_on
    UNION ALL
    SELECT team_id, left_on, 0, -1 FROM trained_from WHERE day < left_on),
running AS (
    SELECT team_id, day,
           sum(sum(members)) OVER (PARTITION BY team_id ORDER BY day) AS members,
           sum(sum(trained)) OVER (PARTITION BY team_id ORDER BY day) AS trained
    FROM changes GROUP BY team_id, day),
reached AS (  -- on each day someone became trained: the counts as of that day
    SELECT c.team_id, c.day, r.members, r.trained
    FROM (SELECT DISTINCT team_id, day FROM trained_from) c
    ASOF JOIN running r ON c.team_id = r.team_id AND c.day >= r.day),
trained AS (
    SELECT team_id, CAST(floor((min(day) - any_value(first)) / 7) AS BIGINT) AS stack
    FROM reached, origin
    WHERE members > 0 AND trained >= greatest(1, ceil(0.5 * members))
      AND team_id IN (SELECT team_id FROM weekly)
    GROUP BY team_id),
stacks AS (SELECT DISTINCT stack FROM trained),
windows AS (
    SELECT s.stack, p.team_id,
           sum(n) FILTER (WHERE p.p < s.stack) AS nb, sum(top) FILTER (WHERE p.p < s.stack) AS tb,
           sum(n) FILTER (WHERE p.p > s.stack) AS na, sum(top) FILTER (WHERE p.p > s.stack) AS ta
    FROM stacks s JOIN periods p ON p.p >= s.stack - 4 AND p.p < s.stack + 5
    GROUP BY ALL),
team_values AS (
    SELECT stack, team_id, 100.0 * tb / nb AS vb, 100.0 * ta / na AS va
    FROM windows WHERE nb >= 10 AND na >= 10),
labelled AS (
    SELECT v.*, coalesce(t.stack, 1000000000) AS own
    FROM team_values v LEFT JOIN trained t USING (team_id)),
comparison AS (
    SELECT stack, avg(vb) AS cb, avg(va) AS ca FROM labelled WHERE own >= stack + 5 GROUP BY stack)
SELECT avg(l.va - l.vb) - avg(c.ca - c.cb) AS effect, count(*) AS trained
FROM labelled l JOIN comparison c USING (stack)
WHERE l.own = l.stack
"""


def duckdb_tables(session: Session, platform_id: int, survey: Path) -> DuckDBPyConnection:
    """An in-memory DuckDB holding the same rows as the report's database: the responses of
    the survey file (team, day number, score; a team found by its external id, as the import
    finds it), the teams' members and the course completions. Loaded before timing; only the
    comparison is timed."""
    try:
        import duckdb
    except ImportError as missing:
        raise BenchError(
            "DuckDB is this bench's anchor and no dependency of the tool: "
            ".venv/bin/pip install duckdb"
        ) from missing
    from sqlalchemy import or_, select

    NULL = -(2**62)

    from courses.models import Course, CourseResult, PastTraining
    from courses.services import catalogue
    from insights.models import SurveyImport, SurveyResponse
    from people.models import Membership, Team

    anchor = duckdb.connect()
    found = session.execute(
        select(Team.id, Team.external_id).where(Team.platform_id == platform_id)
    ).all()
    teams = {  # noqa: F841 - DuckDB reads the local by name
        "id": np.array([team_id for team_id, _ in found], np.int64),
        "external_id": np.array([external for _, external in found], object),
    }
    anchor.execute(
        "CREATE TABLE responses AS SELECT t.id AS team_id,"
        " CAST(CAST(s.answered AS DATE) - DATE '1970-01-01' AS BIGINT) AS day, s.score"
        " FROM read_csv(?, header = true) s JOIN teams t ON t.external_id = s.team",
        [str(survey)],
    )

    def table(name: str, columns: tuple[str, ...], rows: list) -> None:
        """A table of integer columns (None: NULL), through NumPy: inserting row by row
        into DuckDB took minutes."""
        array = np.array(rows, dtype=object).reshape(-1, len(columns))
        frame = {  # noqa: F841 - DuckDB reads the local by name
            column: np.array([NULL if v is None else v for v in array[:, i]], np.int64)
            for i, column in enumerate(columns)
        }
        selected = ", ".join(f"nullif({c}, {NULL}) AS {c}" for c in columns)
        anchor.execute(f"CREATE TABLE {name} AS SELECT {selected} FROM frame")  # noqa: S608

    def day(value: date | None) -> int | None:
        return None if value is None else (value - date(1970, 1, 1)).days

    # The demo's own responses (not in the file) and its dated memberships and past training.
    table(
        "demo_responses",
        ("team_id", "day", "score"),
        [
            (team_id, day(answered), score)
            for team_id, answered, score in session.execute(
                select(SurveyResponse.team_id, SurveyResponse.day, SurveyResponse.score)
                .join(SurveyImport, SurveyImport.id == SurveyResponse.import_id)
                .where(
                    SurveyResponse.platform_id == platform_id,
                    SurveyResponse.metric == "csat",
                    SurveyImport.filename != survey.name,
                )
            )
        ],
    )
    anchor.execute("INSERT INTO responses SELECT * FROM demo_responses")
    table(
        "stays",
        ("team_id", "user_id", "joined", "left_on"),
        [
            (team_id, user_id, day(joined), None if active else day(left))
            for team_id, user_id, active, joined, left in session.execute(
                select(
                    Membership.team_id,
                    Membership.user_id,
                    Membership.active,
                    Membership.joined_on,
                    Membership.left_on,
                ).where(or_(Membership.active.is_(True), Membership.left_on.is_not(None)))
            )
        ],
    )
    # Every course of the catalogue and every outside training counts (the report's default).
    slugs = [course.slug for course in catalogue(session, platform_id)]
    table(
        "completions",
        ("user_id", "day"),
        [
            (user_id, day(completed.date()))
            for user_id, completed in session.execute(
                select(CourseResult.user_id, CourseResult.completed_at)
                .join(Course, Course.id == CourseResult.course_id)
                .where(Course.slug.in_(slugs))
            )
        ]
        + [
            (user_id, day(completed))
            for user_id, completed in session.execute(
                select(PastTraining.user_id, PastTraining.completed_on).where(
                    PastTraining.platform_id == platform_id,
                    or_(
                        PastTraining.training_key.in_([f"course:{slug}" for slug in slugs]),
                        PastTraining.training_key.startswith("outside:"),
                    ),
                )
            )
        ],
    )
    return anchor


def analyse(env: dict[str, str], repeats: int, pdf_path: Path) -> dict[str, object]:
    """In this (fresh) process: the report ``repeats`` times, the agents' part, the PDF."""
    from sqlalchemy import select

    from core import create_app
    from core.config import Settings
    from core.db import db
    from core.jobs import run_due_jobs
    from core.pdf import render_pdf
    from insights.agents import agents_key, start_comparison
    from insights.report import ReportQuery, build_report, chosen_courses
    from lms.models import Deployment

    app = create_app(Settings.from_env(env))
    out: dict[str, object] = {}
    with app.test_request_context():
        platform_id = db.session.scalar(select(Deployment.platform_id))
        query = ReportQuery()
        teams_only, with_agents, anchor_s = [], [], []
        anchor = duckdb_tables(db.session, platform_id, Path(env["BENCH_SURVEY"]))
        db.session.rollback()
        for _ in range(repeats):  # ours and the anchor in turn, so drift hits both alike
            started = time.perf_counter()
            report = build_report(db.session, platform_id, query, agents=False)
            teams_only.append(time.perf_counter() - started)
            db.session.rollback()
            started = time.perf_counter()
            anchor_effect, anchor_trained = anchor.execute(DUCKDB_COMPARISON).fetchone()
            anchor_s.append(time.perf_counter() - started)
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(build_report, db.session, platform_id, query, agents=False)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumtime").print_stats(25)
        # Agents: the worker compares them once (as after an import), then the page shows
        # the kept comparison with the report.
        key = agents_key(query.as_args(), chosen_courses(db.session, platform_id, query), None)
        start_comparison(db.session, platform_id, None, query.as_args(), key)
        db.session.commit()
        started = time.perf_counter()
        run_due_jobs(db.session)
        out["agents_worker_s"] = time.perf_counter() - started
        for _ in range(repeats):
            started = time.perf_counter()
            report = build_report(db.session, platform_id, query, agents=True, inline_up_to=0)
            with_agents.append(time.perf_counter() - started)
            db.session.rollback()
        if report.agents_waiting:
            raise BenchError("the worker's comparison of agents was not kept")
        started = time.perf_counter()
        pdf = render_pdf("insights/report.html", report=report, organisation="Bench")
        out["pdf_s"] = time.perf_counter() - started
        pdf_path.write_bytes(pdf)
        did = report.result.did
        out.update(
            teams_s=teams_only,
            anchor_s=anchor_s,
            anchor_effect=anchor_effect,
            anchor_trained=anchor_trained,
            agents_s=with_agents,
            trained=did.trained if did else 0,
            effect=[did.effect, did.low, did.high] if did else None,
            agent_effect=[report.agents.did.effect, report.agents.did.low, report.agents.did.high]
            if report.agents and report.agents.did
            else None,
            pre_trend_p=report.result.pre_trend.p_value if report.result.pre_trend else None,
            pearson=report.result.pearson.r if report.result.pearson else None,
            teams=len(report.summaries),
            pdf_kb=len(pdf) // 1024,
            peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )
    return out


def child_json(env: dict[str, str], *args: str, show_log: bool = False) -> dict:
    """Run this script in a fresh process with ``args``; its last line of output, as JSON.
    ``show_log``: say what it wrote to stderr (its profile) also when it succeeds."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"{' '.join(args[:1])} failed:\n{done.stdout}\n{done.stderr}")
    if show_log:
        say(done.stderr)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - started
    result.setdefault("start_s", result["wall_s"] - result.get("import_s", 0.0))
    return result


def rates(rows: int, runs: list[dict], key: str) -> str:
    return " / ".join(f"{rows / run[key]:,.0f}" for run in runs)


def import_only(env: dict[str, str], survey: Path, platform_id: int) -> dict[str, object]:
    """In this (fresh) process: empty the survey tables (the bench's own database), then
    import ``survey`` as ``flask insights import`` does (same call, same columns) and commit.
    Only the import and its commit are timed; the process's start is reported apart."""
    from sqlalchemy import delete

    from core import create_app
    from core.config import Settings
    from core.db import db
    from insights.importer import Mapping, import_survey
    from insights.models import SurveyImport, SurveyResponse, TeamDailyRollup, TeamWeeklyRollup

    app = create_app(Settings.from_env(env))
    with app.app_context():
        for model in (SurveyResponse, TeamDailyRollup, TeamWeeklyRollup, SurveyImport):
            db.session.execute(delete(model))
        db.session.commit()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        with survey.open("rb") as stream:
            report = import_survey(
                db.session,
                platform_id=platform_id,
                creator_id=None,
                filename=survey.name,
                data=stream,
                mapping=Mapping("team", "answered", "score", "agent", "", "id"),
                metric="csat",
            )
        if not report.ok:
            raise BenchError(f"the import was refused: {report.refused} {report.bad[:5]}")
        db.session.commit()
        import_s = time.perf_counter() - started
        db.session.remove()
    return {
        "import_s": import_s,
        "rss_before_mb": rss_before,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "summary": f"Imported {report.imported} responses; {report.duplicates} already "
        f"imported; {report.bad_rows} bad rows skipped.",
    }


def anchor_only(env: dict[str, str], survey: Path) -> dict[str, object]:
    """The anchor, in a fresh process: the file's rows into an unindexed table of text
    columns, as fast as the database takes them with no checks at all: PostgreSQL's COPY
    fed the file's bytes; on SQLite, the csv module's rows in plain executemany batches."""
    import csv
    import sqlite3

    url = env["DATABASE_URL"]
    create = "CREATE TABLE bench_anchor (id text, team text, agent text, answered text, score text)"
    if url.startswith("sqlite:///"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        connection.execute("DROP TABLE IF EXISTS bench_anchor")
        connection.execute(create)
        connection.commit()
        started = time.perf_counter()
        with survey.open(newline="") as text:
            rows = csv.reader(text)
            next(rows)
            while batch := list(itertools.islice(rows, 20_000)):
                connection.executemany("INSERT INTO bench_anchor VALUES (?, ?, ?, ?, ?)", batch)
        connection.commit()
        anchor_s = time.perf_counter() - started
        connection.execute("DROP TABLE bench_anchor")
        connection.commit()
        connection.close()
        return {"anchor_s": anchor_s}
    import psycopg

    with psycopg.connect(url) as connection:
        connection.execute("DROP TABLE IF EXISTS bench_anchor")
        connection.execute(create)
        connection.commit()
        started = time.perf_counter()
        with (
            survey.open("rb") as stream,
            connection.cursor().copy("COPY bench_anchor FROM STDIN (FORMAT csv, HEADER)") as copy,
        ):
            for block in iter(lambda: stream.read(1 << 20), b""):
                copy.write(block)
        connection.commit()
        anchor_s = time.perf_counter() - started
        connection.execute("DROP TABLE bench_anchor")
        connection.commit()
    return {"anchor_s": anchor_s}


def print_import(args: argparse.Namespace, imports: list[dict], anchors: list[dict]) -> None:
    """The import's table: ours and the anchor in each round, their ratio, memory, start."""
    anchor_name = (
        "raw `COPY` of the file into an unindexed table"
        if args.backend == "postgresql"
        else "plain `executemany` of the file's rows into an unindexed table"
    )
    print(
        f"\nbench/insights.py import · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {revision()} · "
        f"{args.backend} · {args.rows:,} rows\n"
    )
    print("| measure | value |")
    print("| --- | ---: |")
    anchor_name = (
        "raw `COPY` of the file into an unindexed table"
        if args.backend == "postgresql"
        else "plain `executemany` of the file's rows into an unindexed table"
    )
    print(
        f"| import: ours, {len(imports)} runs (rows/s) | {rates(args.rows, imports, 'import_s')} |"
    )
    print(f"| import: anchor, {anchor_name} (rows/s) | {rates(args.rows, anchors, 'anchor_s')} |")
    ratios = [a["anchor_s"] / i["import_s"] for i, a in zip(imports, anchors, strict=True)]
    print(
        f"| import: ratio ours/anchor, each round (median) | "
        f"{' / '.join(f'{r:.2f}' for r in ratios)} ({statistics.median(ratios):.2f}) |"
    )
    print(
        "| import: peak memory of the import process, before / after the import (MB) | "
        f"{imports[-1]['rss_before_mb']:.0f} / {max(i['peak_mb'] for i in imports):.0f} |"
    )
    print(
        "| import: the process's start (app and imports; not in the ratio) (s) | "
        f"{statistics.median(i['start_s'] for i in imports):.1f} |"
    )


def run(args: argparse.Namespace) -> int:
    with fresh_tool(
        args.backend,
        args.pg_url,
        schema=args.schema,
        app_name="bench-insights",
        secret=SECRET,
        first_data="demo",
        base_url=NOWHERE,
    ) as tool:
        env, workdir = tool.env, tool.workdir
        platform_id, training_day = seed(env, args)
        survey = workdir / "survey.csv"
        write_survey(survey, args, training_day)
        wait_for_quiet_machine(args.wait_quiet)
        imports, anchors = [], []
        for round_no in range(1, args.import_rounds + 1):
            # Alternating, so a machine that drifts slows both sides alike; the anchor
            # first, so the last import's rows stay for the analysis below.
            say(f"import round {round_no}: anchor")
            anchors.append(child_json(env, "--anchor-only", str(survey)))
            say(f"import round {round_no}: ours")
            imports.append(
                child_json(env, "--import-only", str(survey), "--platform-id", str(platform_id))
            )
            say(
                f"  ours {args.rows / imports[-1]['import_s']:,.0f} rows/s, anchor "
                f"{args.rows / anchors[-1]['anchor_s']:,.0f} rows/s"
            )
        summary = imports[-1]["summary"]
        say(summary)
        print_import(args, imports, anchors)
        if args.skip_analysis:
            return 0
        wait_for_quiet_machine(args.wait_quiet)
        say("analysing")
        analysis_env = {
            **env,
            "BENCH_PDF": str(workdir / "report.pdf"),
            "BENCH_SURVEY": str(survey),
            "BENCH_PROFILE": "1" if args.profile else "",
        }
        result = child_json(
            analysis_env, "--analyse-only", "--repeats", str(args.repeats), show_log=args.profile
        )
    teams_s, agents_s = result["teams_s"], result["agents_s"]
    print(
        f"\nbench/insights.py · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {revision()} · "
        f"{args.backend} · {args.rows:,} rows, {args.teams:,} teams, "
        f"{args.completions:,} completions\n"
    )
    print("| measure | value |")
    print("| --- | ---: |")
    anchor_s = result["anchor_s"]
    ratios = [ours / anchor for ours, anchor in zip(teams_s, anchor_s, strict=True)]
    print(
        f"| impact analysis, all teams: ours, median of {len(teams_s)} (s) | "
        f"{statistics.median(teams_s):.3f} |"
    )
    print(
        "| impact analysis: DuckDB, the same comparison from the same rows, median (s) | "
        f"{statistics.median(anchor_s):.3f} |"
    )
    print(
        f"| impact analysis: ratio ours / DuckDB, median of {len(ratios)} pairs (range) | "
        f"{statistics.median(ratios):.1f}x ({min(ratios):.1f}-{max(ratios):.1f}) |"
    )
    print(
        "| impact analysis: pairs, ours / DuckDB (s) | "
        + ", ".join(f"{o:.2f} / {a:.2f}" for o, a in zip(teams_s, anchor_s, strict=True))
        + " |"
    )
    print(
        "| agents who completed vs not: the worker's comparison (s) | "
        f"{result['agents_worker_s']:.2f} |"
    )
    print(
        "| report page with the agents' comparison kept by the worker: "
        f"median of {len(agents_s)} (s) | {statistics.median(agents_s):.3f} |"
    )
    print(f"| report PDF, {result['pdf_kb']} kB (s) | {result['pdf_s']:.2f} |")
    print(f"| peak memory of the analysis + PDF process (MB) | {result['peak_mb']:.0f} |")
    effect, agents = result["effect"], result["agent_effect"]
    measured = (
        f"{effect[0]:+.2f} (95% CI {effect[1]:+.2f} to {effect[2]:+.2f})" if effect else "none"
    )
    print(
        f"\n{summary}\nteams with results: {result['teams']}; trained teams compared: "
        f"{result['trained']}; planted effect about +6: measured {measured}"
        + (f"; agents {agents[0]:+.2f} ({agents[1]:+.2f} to {agents[2]:+.2f})" if agents else "")
        + f"; pre-trend p = {_or_none(result['pre_trend_p'])}"
        + f"; Pearson r = {_or_none(result['pearson'])}"
    )
    print(
        f"DuckDB's estimate: {_or_none(result['anchor_effect'], '+.6f')} over "
        f"{result['anchor_trained']} trained teams; ours "
        f"{_or_none(effect[0] if effect else None, '+.6f')} over {result['trained']}"
    )
    return 0


def _or_none(figure: float | None, spec: str = ".3f") -> str:
    """A statistic the data may be too few for (at a tiny size: no pre-trend check)."""
    return "none" if figure is None else format(figure, spec)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument(
        "--schema", default=SCHEMA, help="PostgreSQL schema to build in (one per bench running)"
    )
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--teams", type=int, default=1000)
    parser.add_argument("--team-size", type=int, default=50)
    parser.add_argument("--completions", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--wait-quiet", type=float, default=30.0)
    parser.add_argument("--profile", action="store_true", help="print where the analysis spends")
    parser.add_argument(
        "--import-rounds", type=int, default=2, help="imports, each after its anchor run"
    )
    parser.add_argument("--skip-analysis", action="store_true", help="time the import only")
    parser.add_argument("--analyse-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--import-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--anchor-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--platform-id", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.import_only:
        print(json.dumps(import_only(dict(os.environ), args.import_only, args.platform_id)))
        return 0
    if args.anchor_only:
        print(json.dumps(anchor_only(dict(os.environ), args.anchor_only)))
        return 0
    if args.analyse_only:
        env = dict(os.environ)
        print(json.dumps(analyse(env, args.repeats, Path(env["BENCH_PDF"]))))
        return 0
    return exit_status(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
