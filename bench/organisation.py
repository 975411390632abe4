"""Bringing in an organisation: a roster of ``--people`` and a past-training file of
``--completions`` rows, each against PostgreSQL's own ``COPY`` of the same file.

The anchor is measured in the same run, alternating with ours (anchor, ours, anchor, ours…):
a raw ``COPY … FROM STDIN (FORMAT csv, HEADER)`` of the same bytes into an unindexed table of
text columns, which is as fast as the database takes a file in. The figure is the ratio of
rows per second, ours over the anchor's, so a machine's drift cancels out. Ours runs on
PostgreSQL, or on SQLite with ``--backend sqlite`` (the anchor is still PostgreSQL's COPY).

The files are written to disk a line at a time and the imports read them as files, so the
peak resident memory printed (``getrusage``) is the imports' own: bounded memory means it
does not grow with the file.

    .venv/bin/python bench/organisation.py                             # 100,000 people, 1M rows
    .venv/bin/python bench/organisation.py --people 5000 --completions 50000 --repeats 2
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

from common import DEFAULT_PG, BenchError, exit_status, fresh_database, revision, say

SECRET = "bench-organisation-" + "o" * 30
SCHEMA = "bench_organisation"
TEAM_SIZE = 12
COURSES = ("net-promoter-score", "csat-ces-qci", "six-sigma-dmaic")


def roster_lines(people: int) -> Iterator[str]:
    yield "email;team;name;manager"
    for n in range(people):
        team = n // TEAM_SIZE
        lead = f"lead{team}@bench.example"
        yield f"agent{n}@bench.example;Team {team};Agent {n};{lead}"
    for team in range((people + TEAM_SIZE - 1) // TEAM_SIZE):
        yield f"lead{team}@bench.example;Team leads;Lead {team};"


def completion_lines(people: int, rows: int) -> Iterator[str]:
    rng = random.Random(11)
    start = date(2025, 1, 6)
    yield "email,course,date,score"
    for n in range(rows):
        person = n % people
        course = COURSES[(n // people) % len(COURSES)]
        day = start + timedelta(days=(n // people) * 7 + rng.randrange(0, 5))
        yield f"agent{person}@bench.example,{course},{day.isoformat()},{rng.randrange(60, 101)}"


def write_file(path: Path, lines: Iterator[str]) -> int:
    """The lines written to ``path``, one at a time; returns how many rows (lines after the
    header)."""
    count = -1
    with path.open("w", encoding="utf-8", newline="") as out:
        for line in lines:
            out.write(line + "\n")
            count += 1
    return count


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def copy_anchor(pg_url: str, path: Path, columns: int) -> float:
    """Seconds for PostgreSQL to COPY the file into an unindexed table of text columns."""
    import psycopg

    with psycopg.connect(pg_url) as conn, path.open("rb") as data:
        names = ", ".join(f"c{i} text" for i in range(columns))
        conn.execute(f"CREATE TEMPORARY TABLE anchor ({names})")
        delimiter = ";" if data.readline().count(b";") else ","
        data.seek(0)
        started = time.perf_counter()
        with conn.cursor().copy(
            f"COPY anchor FROM STDIN (FORMAT csv, HEADER true, DELIMITER '{delimiter}')"
        ) as copy:
            for block in iter(lambda: data.read(1 << 20), b""):
                copy.write(block)
        conn.commit()
        return time.perf_counter() - started


def run(args: argparse.Namespace) -> int:
    from sqlalchemy import delete, text

    from core import create_app
    from core.config import Settings
    from core.db import db
    from courses.cli import content_root, import_content, pack_directories
    from courses.completions import import_completions
    from courses.models import PastTraining
    from lms.registry import add_platform
    from people.models import Membership, Team, User
    from people.roster import import_roster

    say(f"revision {revision()}: {args.people:,} people, {args.completions:,} completions")
    with (
        tempfile.TemporaryDirectory() as workdir,
        fresh_database(args.backend, args.pg_url, Path(workdir), SCHEMA, "bench-org") as url,
    ):
        files = {"roster": Path(workdir) / "roster.csv", "completions": Path(workdir) / "done.csv"}
        rows = {
            "roster": write_file(files["roster"], roster_lines(args.people)),
            "completions": write_file(
                files["completions"], completion_lines(args.people, args.completions)
            ),
        }
        app = create_app(
            Settings.from_env(
                {
                    "APP_ENV": "development",
                    "SECRET_KEY": SECRET,
                    "DATABASE_URL": url,
                    "INSTANCE_PATH": workdir,
                    "LOG_LEVEL": "WARNING",
                }
            )
        )
        with app.app_context():
            db.create_all()
            platform = add_platform(
                db.session,
                issuer="https://bench.example",
                client_id="bench",
                deployment_ids=["d1"],
                auth_login_url="https://bench.example/auth",
                auth_token_url="https://bench.example/token",  # noqa: S106 - a URL
                key_set_url="https://bench.example/jwks",
            )
            db.session.commit()
            platform_id, deployment_id = platform.id, platform.deployments[0].id
            import_content(pack_directories(content_root()), "bench")
            results: dict[str, list[tuple[float, float]]] = {"roster": [], "completions": []}
            peaks = {"before": peak_rss_mb(), "roster": 0.0, "completions": 0.0}
            say(f"peak RSS before the imports: {peaks['before']:.0f} MB")

            def roster(data: BinaryIO) -> str:
                report = import_roster(
                    db.session, platform_id=platform_id, deployment_id=deployment_id, data=data
                )
                if not report.ok:
                    raise BenchError(report.refused)
                return report.summary()

            def completions(data: BinaryIO) -> str:
                report = import_completions(
                    db.session, platform_id=platform_id, data=data, source="bench"
                )
                if not report.ok:
                    raise BenchError(report.refused)
                return report.summary()

            imports = {"roster": roster, "completions": completions}
            for repeat in range(args.repeats):
                for name, run_import in imports.items():
                    anchor = copy_anchor(args.pg_url, files[name], 4)  # a temporary table
                    with files[name].open("rb") as data:
                        started = time.perf_counter()
                        summary = run_import(data)
                        db.session.commit()
                        ours = time.perf_counter() - started
                    results[name].append((ours, anchor))
                    peaks[name] = peak_rss_mb()
                    say(
                        f"{name} {repeat + 1}: COPY {anchor:.3f} s, ours {ours:.2f} s, ratio "
                        f"{anchor / ours:.3f}, peak RSS {peaks[name]:.0f} MB ({summary})"
                    )
                # Start the next round from an empty organisation, as the first one did.
                # (PostgreSQL: DELETE would check every table that refers to users, once a
                # user, through the dead rows of the tables just emptied: minutes.)
                emptied = (PastTraining, Membership, Team, User)
                if args.backend == "postgresql":
                    names = ", ".join(model.__tablename__ for model in emptied)
                    db.session.execute(text(f"TRUNCATE {names} CASCADE"))
                else:
                    for model in emptied:
                        db.session.execute(delete(model))
                db.session.commit()
            db.session.remove()
    print("\n| figure | ours (rows/s) | anchor: COPY (rows/s) | ratio | goal | peak RSS |")
    print("|---|---|---|---|---|---|")
    for name, pairs in results.items():
        ours = statistics.median(rows[name] / o for o, _ in pairs)
        copy = statistics.median(rows[name] / a for _, a in pairs)
        print(
            f"| {name} import, {rows[name]:,} rows, {args.backend} | {ours:,.0f} | {copy:,.0f} "
            f"| {ours / copy:.3f} | ≥ 0.5 | {peaks[name]:.0f} MB "
            f"({peaks['before']:.0f} MB before) |"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--completions", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    args = parser.parse_args()
    return exit_status(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
