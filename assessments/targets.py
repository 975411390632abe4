"""Scenarios as LMS activities: offered by the deep-linking picker, graded out of 100."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from assessments.grading import assessment_graded
from assessments.library import scenarios
from assessments.models import GRADED, SCENARIO, Assessment, Grade, QuizAttempt
from assessments.quizzes import quizzes
from lms import catch_up
from lms.catch_up import HeldResult
from lms.targets import LaunchTarget
from people.models import User

PREFIX = "scenario:"
QUIZ = "quiz:"


class ScenarioTargets:
    def targets(self, platform_id: int) -> Iterable[LaunchTarget]:
        for s in scenarios().values():
            yield LaunchTarget(
                f"{PREFIX}{s.id}",
                "assessments.scenario",
                f"Scenario: {s.title}",
                s.customer,
                kind="Assessment",
                score_maximum=100.0,
                view_args=(("scenario_id", s.id),),
            )

        for q in quizzes().values():
            yield LaunchTarget(
                f"{QUIZ}{q['id']}",
                "assessments.quiz",
                f"Quiz: {q['title']}",
                q["description"],
                kind="Assessment",
                score_maximum=100.0,
                view_args=(("quiz_id", q["id"]),),
            )

    def find(self, name: str) -> LaunchTarget | None:
        if name.startswith(QUIZ):
            return LaunchTarget(
                name,
                "assessments.quiz",
                name,
                kind="Assessment",
                view_args=(("quiz_id", name[len(QUIZ) :]),),
            )
        if not name.startswith(PREFIX):
            return None
        return LaunchTarget(
            name,
            "assessments.scenario",
            name,
            kind="Assessment",
            view_args=(("scenario_id", name[len(PREFIX) :]),),
        )

    def held_result(
        self, session: Session, user_id: int, platform_id: int, target: str
    ) -> HeldResult | None:
        """The person's best quiz attempt, or the final grade of their latest graded
        conversation of the scenario (``platform_id``: people are one LMS's already)."""
        if target.startswith(QUIZ):
            return best_attempt(session, user_id, target[len(QUIZ) :])
        if not target.startswith(PREFIX):
            return None
        found = session.execute(
            select(Assessment, Grade)
            .join(Grade, Grade.assessment_id == Assessment.id)
            .where(
                Assessment.learner_id == user_id,
                Assessment.kind == SCENARIO,
                Assessment.scenario == target[len(PREFIX) :],
                Assessment.status == GRADED,
                Grade.final.is_(True),
            )
            .order_by(Grade.graded_at.desc(), Grade.id.desc())
            .limit(1)
        ).first()
        return held_grade(found[1]) if found is not None else None


def held_grade(grade: Grade) -> HeldResult:
    """A trainer's final grade as its gradebook score (what ``send_to_gradebook`` sends)."""
    return HeldResult(f"assessment-grade:{grade.id}", grade.score_percent, 100.0, grade.comment)


def best_attempt(session: Session, user_id: int, quiz_id: str) -> HeldResult | None:
    quiz = quizzes().get(quiz_id)
    best = session.scalar(
        select(QuizAttempt)
        .where(QuizAttempt.learner_id == user_id, QuizAttempt.quiz == quiz_id)
        .order_by(QuizAttempt.percent.desc(), QuizAttempt.id)
        .limit(1)
    )
    if quiz is None or best is None:
        return None
    comment = f"Best of your attempts at {quiz['title']}."
    return HeldResult(f"quiz-attempt:{best.id}", best.percent, 100.0, comment)


@assessment_graded.connect
def _to_every_activity(session: Session, *, assessment: Assessment, grade: Grade) -> None:
    """A trainer's grade of a scenario goes to every graded activity of the learner's courses
    that opens the scenario, wherever the conversation was taken (connected on import, which
    ``assessments.init_app`` does)."""
    learner = session.get(User, assessment.learner_id)
    if learner is not None and assessment.kind == SCENARIO and assessment.scenario:
        catch_up.everywhere(session, learner, f"{PREFIX}{assessment.scenario}", held_grade(grade))
