"""What trainers see of one LMS course context: who joined, how far each person got, where
people stop, and which check questions trip people up. A fixed number of queries, whatever
the size of the cohort."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.auth import STAFF
from courses.models import (
    CheckAttempt,
    Course,
    CourseResult,
    Enrolment,
    ExerciseSubmission,
    ItemProgress,
)
from courses.services import AWAITING_REVIEW, EXERCISE, PASSED, Outline
from people.models import Membership, User


@dataclass
class LearnerRow:
    user: User
    opted_in: bool
    enrolment: Enrolment | None = None
    percent: int = 0
    modules: dict[str, int] = field(default_factory=dict)  # module slug -> % done
    checks_passed: set[str] = field(default_factory=set)
    exercise_status: str = ""
    completed_at: datetime | None = None
    score: float | None = None


@dataclass
class FunnelStep:
    label: str
    count: int


@dataclass
class QuestionStat:
    module: str
    question_id: str
    prompt_html: str
    answered: int
    correct: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.correct / self.answered if self.answered else None


@dataclass
class CohortReport:
    course: Course
    outline: Outline
    rows: list[LearnerRow]
    funnel: list[FunnelStep]
    questions: list[QuestionStat]

    @property
    def opted_in(self) -> int:
        return sum(r.opted_in for r in self.rows)

    @property
    def enrolled(self) -> int:
        return sum(r.enrolment is not None for r in self.rows)

    @property
    def completed(self) -> int:
        return sum(r.completed_at is not None for r in self.rows)


def cohort_report(session: Session, team_id: int, course: Course, outline: Outline) -> CohortReport:
    memberships = session.scalars(
        select(Membership)
        .where(Membership.team_id == team_id, Membership.active.is_(True))
        .options(selectinload(Membership.user))
    ).all()
    people = sorted(
        (m.user for m in memberships if m.role not in STAFF),
        key=lambda u: u.display_name.lower(),
    )
    ids = [u.id for u in people]
    enrolments = {
        e.user_id: e
        for e in session.scalars(
            select(Enrolment).where(Enrolment.course_id == course.id, Enrolment.user_id.in_(ids))
        )
    }
    enrolment_ids = [e.id for e in enrolments.values()]
    done: dict[int, set[str]] = defaultdict(set)
    for enrolment_id, item in session.execute(
        select(ItemProgress.enrolment_id, ItemProgress.item).where(
            ItemProgress.enrolment_id.in_(enrolment_ids)
        )
    ):
        done[enrolment_id].add(item)
    first_attempts: dict[tuple[int, str], CheckAttempt] = {}
    for attempt in session.scalars(
        select(CheckAttempt)
        .where(CheckAttempt.enrolment_id.in_(enrolment_ids))
        .order_by(CheckAttempt.id)
    ):
        first_attempts.setdefault((attempt.enrolment_id, attempt.module), attempt)
        if attempt.passed:
            done[attempt.enrolment_id].add(f"{attempt.module}/check")
    latest_submission: dict[int, ExerciseSubmission] = {}
    for submission in session.scalars(
        select(ExerciseSubmission)
        .where(ExerciseSubmission.enrolment_id.in_(enrolment_ids))
        .order_by(ExerciseSubmission.id)
    ):
        latest_submission[submission.enrolment_id] = submission
        if submission.status == PASSED:
            done[submission.enrolment_id].add(EXERCISE)
    results = {
        r.enrolment_id: r
        for r in session.scalars(
            select(CourseResult).where(CourseResult.enrolment_id.in_(enrolment_ids))
        )
    }
    keys = {item.key for item in outline.items}
    rows = []
    for user in people:
        row = LearnerRow(user=user, opted_in=user.opted_in_at is not None)
        enrolment = enrolments.get(user.id)
        if enrolment is not None:
            finished = done[enrolment.id] & keys
            row.enrolment = enrolment
            row.percent = round(100 * len(finished) / len(keys))
            for module in outline.modules:
                items = outline.module_items(module["slug"])
                row.modules[module["slug"]] = round(
                    100 * sum(i.key in finished for i in items) / len(items)
                )
                if f"{module['slug']}/check" in finished:
                    row.checks_passed.add(module["slug"])
            submission = latest_submission.get(enrolment.id)
            row.exercise_status = submission.status if submission else ""
            result = results.get(enrolment.id)
            if result is not None:
                row.completed_at = result.completed_at
                row.score = result.score_percent
        rows.append(row)

    enrolled = [r for r in rows if r.enrolment is not None]
    funnel = [FunnelStep("Started the course", len(enrolled))]
    for module in outline.modules:
        funnel.append(
            FunnelStep(
                f"Passed “{module['title']}”",
                sum(module["slug"] in r.checks_passed for r in enrolled),
            )
        )
    funnel.append(FunnelStep("Completed the course", sum(r.completed_at is not None for r in rows)))

    questions = []
    for module in outline.modules:
        for question in module["check"]["questions"]:
            answered = correct = 0
            for (_, module_slug), attempt in first_attempts.items():
                if module_slug == module["slug"] and question["id"] in attempt.correct:
                    answered += 1
                    correct += bool(attempt.correct[question["id"]])
            questions.append(
                QuestionStat(
                    module["title"], question["id"], question["prompt_html"], answered, correct
                )
            )
    return CohortReport(course, outline, rows, funnel, questions)


def report_rows(report: CohortReport) -> tuple[list[str], list[list[object]]]:
    """The cohort table for a CSV download: header and rows."""
    modules = report.outline.modules
    header = (
        ["name", "email", "joined programme", "started", "progress %"]
        + [f"{m['slug']} %" for m in modules]
        + ["exercise", "completed", "score %"]
    )
    rows = [
        [
            row.user.display_name,
            row.user.email,
            "yes" if row.opted_in else "no",
            row.enrolment.started_at.date().isoformat() if row.enrolment else "",
            row.percent if row.enrolment else "",
        ]
        + [row.modules.get(m["slug"], "") if row.enrolment else "" for m in modules]
        + [
            row.exercise_status.replace("_", " "),
            row.completed_at.date().isoformat() if row.completed_at else "",
            row.score if row.score is not None else "",
        ]
        for row in report.rows
    ]
    return header, rows


def in_team(session: Session, user_id: int, team_id: int | None) -> bool:
    if team_id is None:
        return False
    return (
        session.scalar(
            select(Membership.id).where(
                Membership.user_id == user_id, Membership.team_id == team_id
            )
        )
        is not None
    )


def review_queue(
    session: Session, deployment_id: int, team_id: int | None
) -> list[ExerciseSubmission]:
    """Exercises of this course context's people waiting for a trainer, oldest first."""
    if team_id is None:
        return []
    members = select(Membership.user_id).where(Membership.team_id == team_id)
    return list(
        session.scalars(
            select(ExerciseSubmission)
            .join(Enrolment, Enrolment.id == ExerciseSubmission.enrolment_id)
            .where(
                ExerciseSubmission.status == AWAITING_REVIEW,
                Enrolment.deployment_id == deployment_id,
                Enrolment.user_id.in_(members),
            )
            .options(selectinload(ExerciseSubmission.enrolment).selectinload(Enrolment.user))
            .order_by(ExerciseSubmission.submitted_at)
        )
    )
