"""Recognition rules: how long evaluating one learner takes after a result, and how long
`flask recognition evaluate` takes over a whole organisation.

On a fresh SQLite database (the default; ``--pg-url`` for PostgreSQL) the bench loads the demo
data (development platform, built-in courses and badges), adds custom badges until there are
``--rules`` automatic rules, and then:

1. gives one learner ``--results`` completed courses (and their results) and times
   ``recognition.services.evaluate`` for them: the first call (which awards what they earned)
   and ``--repeats`` further calls (nothing new to award: every rule is still checked);
2. adds ``--learners`` people who joined the programme, each with one to three results, and
   times ``flask recognition evaluate`` over all of them, as an operator would run it.

    .venv/bin/python bench/recognition.py
    .venv/bin/python bench/recognition.py --learners 10000 --results 200 --rules 50
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime

from common import (
    DEFAULT_PG,
    NOWHERE,
    demo_deployment,
    exit_status,
    flask_command,
    fresh_tool,
    revision,
    say,
    wait_for_quiet_machine,
)

SECRET = "bench-recognition-" + "r" * 30
SCHEMA = "bench_recognition"


def seed(env: dict[str, str], args: argparse.Namespace) -> tuple[float, list[float]]:
    """Build the data in-process and time one learner's evaluation (ms: first, repeats)."""
    from sqlalchemy import insert, select

    from core import create_app
    from core.config import Settings
    from core.db import db, utcnow
    from courses.models import Course, CourseResult, Enrolment
    from people.models import Membership, Team, User
    from recognition.images import medal_svg
    from recognition.models import Badge
    from recognition.services import evaluate, visible_badges

    app = create_app(Settings.from_env(env))
    rng = random.Random(11)
    with app.app_context():
        deployment = demo_deployment(db.session)
        platform_id = deployment.platform_id
        team = Team(
            platform_id=platform_id,
            deployment_id=deployment.id,
            external_id="bench",
            title="Bench team",
        )
        db.session.add(team)
        db.session.flush()
        # Extra courses so one learner can hold --results results.
        existing = len(db.session.scalars(select(Course.id)).all())
        extra = [
            {
                "slug": f"bench-course-{n}",
                "title": f"Bench course {n}",
                "summary": "",
                "sort_order": 500 + n,
                "version": "1.0",
            }
            for n in range(max(0, args.results - existing))
        ]
        if extra:  # an insert of no rows would be one row of defaults, which has no slug
            db.session.execute(insert(Course), extra)
        courses = db.session.scalars(select(Course).order_by(Course.id)).all()
        rules = sum(1 for b in visible_badges(db.session, platform_id) if b.rule)
        kinds = [
            lambda n: {"type": "course_completed", "course": courses[n % len(courses)].slug},
            lambda n: {"type": "courses_completed", "count": 1 + n % 40},
            lambda n: {"type": "score_at_least", "course": "*", "score": 50 + n % 50},
            lambda n: {"type": "recognitions_received", "count": 1 + n % 10},
            lambda n: {"type": "skill_level", "skill": "empathy", "level": 3, "times": 2},
        ]
        for n in range(max(0, args.rules - rules)):
            db.session.add(
                Badge(
                    slug=f"bench-badge-{n}",
                    platform_id=platform_id,
                    kind="custom",
                    name=f"Bench badge {n}",
                    description="For the bench.",
                    criteria="Bench rule.",
                    rule=kinds[n % len(kinds)](n),
                    image=medal_svg("Bench", "custom"),
                    image_type="image/svg+xml",
                )
            )
        now = utcnow()
        learner = User(
            platform_id=platform_id, sub="bench-learner", name="Bench Learner", opted_in_at=now
        )
        db.session.add(learner)
        db.session.flush()
        db.session.add(Membership(user_id=learner.id, team_id=team.id, lms_role="learner"))
        for n, course in enumerate(courses[: args.results]):
            enrolment = Enrolment(
                user_id=learner.id,
                course_id=course.id,
                platform_id=platform_id,
                deployment_id=deployment.id,
                team_id=team.id,
                completed_at=now,
            )
            db.session.add(enrolment)
            db.session.flush()
            db.session.add(
                CourseResult(
                    enrolment_id=enrolment.id,
                    user_id=learner.id,
                    course_id=course.id,
                    version="1.0",
                    score_percent=rng.uniform(60, 100),
                    completed_at=now,
                    certificate_code=f"bench-{n}",
                    learner_name="Bench Learner",
                    course_title=course.title,
                )
            )
        db.session.commit()
        say(
            f"one learner: {args.results} results, "
            f"{sum(1 for b in visible_badges(db.session, platform_id) if b.rule)} rules"
        )

        started = time.perf_counter()
        awarded = evaluate(db.session, learner, team.id)
        db.session.commit()
        first = 1000 * (time.perf_counter() - started)
        repeats = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            again = evaluate(db.session, learner, team.id)
            repeats.append(1000 * (time.perf_counter() - started))
            assert again == []
            db.session.rollback()
        say(f"first evaluation awarded {len(awarded)} badges")

        # The organisation: --learners people, one to three results each, in bulk.
        say(f"adding {args.learners} learners")
        first_id = (db.session.scalar(select(User.id).order_by(User.id.desc()).limit(1)) or 0) + 1
        db.session.execute(
            insert(User),
            [
                {
                    "id": first_id + n,
                    "platform_id": platform_id,
                    "sub": f"org-{n}",
                    "name": f"Agent {n}",
                    "opted_in_at": now,
                    "created_at": now,
                    "last_launch_at": now,
                }
                for n in range(args.learners)
            ],
        )
        enrolment_rows, result_rows = [], []
        next_enrolment = (
            db.session.scalar(select(Enrolment.id).order_by(Enrolment.id.desc()).limit(1)) or 0
        ) + 1
        for n in range(args.learners):
            for course in rng.sample(courses[:6], rng.randint(1, 3)):
                enrolment_rows.append(
                    {
                        "id": next_enrolment,
                        "user_id": first_id + n,
                        "course_id": course.id,
                        "platform_id": platform_id,
                        "deployment_id": deployment.id,
                        "team_id": team.id,
                        "last_item": "",
                        "started_at": now,
                        "last_activity_at": now,
                        "completed_at": now,
                    }
                )
                result_rows.append(
                    {
                        "enrolment_id": next_enrolment,
                        "user_id": first_id + n,
                        "course_id": course.id,
                        "version": "1.0",
                        "score_percent": rng.uniform(60, 100),
                        "completed_at": now,
                        "certificate_code": f"org-{next_enrolment}",
                        "learner_name": f"Agent {n}",
                        "course_title": course.title,
                    }
                )
                next_enrolment += 1
        db.session.execute(insert(Enrolment), enrolment_rows)
        db.session.execute(insert(CourseResult), result_rows)
        db.session.commit()
        db.session.remove()
    return first, repeats


def run(args: argparse.Namespace) -> int:
    with fresh_tool(
        args.backend,
        args.pg_url,
        schema=SCHEMA,
        app_name="bench-recognition",
        secret=SECRET,
        first_data="demo",
        base_url=NOWHERE,
    ) as tool:
        env = tool.env
        first, repeats = seed(env, args)
        wait_for_quiet_machine(args.wait_quiet)
        say(f"flask recognition evaluate over {args.learners + 1} people")
        started = time.perf_counter()
        output = flask_command(env, "recognition", "evaluate", timeout=1800)
        elapsed = time.perf_counter() - started
        summary = output.strip().splitlines()[-1]
    print(
        f"\nbench/recognition.py · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {revision()} · "
        f"{args.backend}\n"
    )
    print("| measure | value |")
    print("| --- | ---: |")
    print(
        f"| one learner ({args.results} results, {args.rules} rules): first evaluation, "
        f"awarding (ms) | {first:.1f} |"
    )
    print(
        f"| one learner: evaluation p50 over {len(repeats)} repeats (ms) | "
        f"{statistics.median(repeats):.2f} |"
    )
    print(f"| one learner: evaluation max (ms) | {max(repeats):.2f} |")
    print(
        f"| `flask recognition evaluate`, {args.learners + 1} people (s, process start "
        f"included) | {elapsed:.1f} |"
    )
    print(f"\n{summary}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--results", type=int, default=200, help="results of the one learner")
    parser.add_argument("--rules", type=int, default=50, help="automatic rules in all")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--wait-quiet", type=float, default=60.0)
    args = parser.parse_args(argv)
    return exit_status(lambda: run(args))


if __name__ == "__main__":
    raise SystemExit(main())
