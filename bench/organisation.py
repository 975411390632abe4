"""Bringing in an organisation: a roster of ``--people`` and a past-training file of
``--completions`` rows, each against PostgreSQL's own ``COPY`` of the same file.

The anchor is measured in the same run, alternating with ours (anchor, ours, anchor, ours…):
a raw ``COPY … FROM STDIN (FORMAT csv, HEADER)`` of the same bytes into an unindexed table of
text columns, which is as fast as the database takes a file in. The figure is the ratio of
rows per second, ours over the anchor's, so a machine's drift cancels out.

    .venv/bin/python bench/organisation.py                             # 100,000 people, 1M rows
    .venv/bin/python bench/organisation.py --people 5000 --completions 50000 --repeats 1
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from common import DEFAULT_PG, BenchError, fresh_database, revision, say

SECRET = "bench-organisation-" + "o" * 30
SCHEMA = "bench_organisation"
TEAM_SIZE = 12
COURSES = ("net-promoter-score", "csat-ces-qci", "six-sigma-dmaic")


def roster_csv(people: int) -> bytes:
    lines = ["email;team;name;manager"]
    for n in range(people):
        team = n // TEAM_SIZE
        lead = f"lead{team}@bench.example"
        lines.append(f"agent{n}@bench.example;Team {team};Agent {n};{lead}")
    for team in range((people + TEAM_SIZE - 1) // TEAM_SIZE):
        lines.append(f"lead{team}@bench.example;Team leads;Lead {team};")
    return ("\n".join(lines) + "\n").encode()


def completions_csv(people: int, rows: int) -> bytes:
    rng = random.Random(11)
    start = date(2025, 1, 6)
    lines = ["email,course,date,score"]
    for n in range(rows):
        person = n % people
        course = COURSES[(n // people) % len(COURSES)]
        day = start + timedelta(days=(n // people) * 7 + rng.randrange(0, 5))
        lines.append(
            f"agent{person}@bench.example,{course},{day.isoformat()},{rng.randrange(60, 101)}"
        )
    return ("\n".join(lines) + "\n").encode()


def copy_anchor(pg_url: str, data: bytes, columns: int) -> float:
    """Seconds for PostgreSQL to COPY the file into an unindexed table of text columns."""
    import psycopg

    with psycopg.connect(pg_url) as conn:
        names = ", ".join(f"c{i} text" for i in range(columns))
        conn.execute(f"CREATE TEMPORARY TABLE anchor ({names})")
        delimiter = ";" if data[: data.index(b"\n")].count(b";") else ","
        started = time.perf_counter()
        with conn.cursor().copy(
            f"COPY anchor FROM STDIN (FORMAT csv, HEADER true, DELIMITER '{delimiter}')"
        ) as copy:
            for at in range(0, len(data), 1 << 20):
                copy.write(data[at : at + (1 << 20)])
        conn.commit()
        return time.perf_counter() - started


def run(args: argparse.Namespace) -> int:
    from sqlalchemy import delete

    from core import create_app
    from core.config import Settings
    from core.db import db
    from courses.cli import content_root, import_content, pack_directories
    from courses.completions import import_completions
    from courses.models import PastTraining
    from lms.registry import add_platform
    from people.models import Membership, Team, User
    from people.roster import import_roster

    roster = roster_csv(args.people)
    done = completions_csv(args.people, args.completions)
    say(f"revision {revision()}: {args.people:,} people, {args.completions:,} completions")
    with (
        tempfile.TemporaryDirectory() as workdir,
        fresh_database("postgresql", args.pg_url, Path(workdir), SCHEMA, "bench-org") as url,
    ):
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
            for repeat in range(args.repeats):
                anchor = copy_anchor(url, roster, 4)
                started = time.perf_counter()
                report = import_roster(
                    db.session, platform_id=platform_id, deployment_id=deployment_id, data=roster
                )
                if not report.ok:
                    raise BenchError(report.refused)
                db.session.commit()
                ours = time.perf_counter() - started
                results["roster"].append((ours, anchor))
                summary = report.summary()
                say(f"roster {repeat + 1}: ours {ours:.2f} s, COPY {anchor:.3f} s ({summary})")

                anchor = copy_anchor(url, done, 4)
                started = time.perf_counter()
                brought = import_completions(
                    db.session, platform_id=platform_id, data=done, source="bench"
                )
                if not brought.ok:
                    raise BenchError(brought.refused)
                db.session.commit()
                ours = time.perf_counter() - started
                results["completions"].append((ours, anchor))
                say(
                    f"completions {repeat + 1}: ours {ours:.2f} s, COPY {anchor:.3f} s "
                    f"({brought.summary()})"
                )
                # Start the next round from an empty organisation, as the first one did.
                db.session.execute(delete(PastTraining))
                db.session.execute(delete(Membership))
                db.session.execute(delete(Team))
                db.session.execute(delete(User))
                db.session.commit()
            db.session.remove()
    rows = {"roster": len(roster.splitlines()) - 1, "completions": args.completions}
    print("\n| figure | ours (rows/s) | anchor: COPY (rows/s) | ratio | goal |")
    print("|---|---|---|---|---|")
    for name, pairs in results.items():
        ours = statistics.median(rows[name] / o for o, _ in pairs)
        copy = statistics.median(rows[name] / a for _, a in pairs)
        print(
            f"| {name} import, {rows[name]:,} rows, PostgreSQL | {ours:,.0f} | {copy:,.0f} | "
            f"{ours / copy:.3f} | ≥ 0.5 |"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--completions", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    args = parser.parse_args()
    try:
        return run(args)
    except BenchError as error:
        say(f"bench failed: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
