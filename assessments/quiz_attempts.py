"""Quiz attempts: a quiz marked on the server and recorded, the best score sent to the LMS,
and the item analysis over each person's first attempt. The quizzes themselves and their
statistics are ``assessments.quizzes``'s."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from assessments.errors import AssessmentError
from assessments.learners import learner_columns
from assessments.models import QuizAttempt
from assessments.quizzes import (
    ItemStat,
    QuizResult,
    cronbach_alpha,
    item_analysis,
    mark_quiz,
    quizzes,
)
from lms.grades import enqueue_score, gradebook_available
from people.models import User


def submit_quiz(
    session: Session,
    learner: User,
    quiz_id: str,
    form: dict[str, list[str]],
    *,
    deployment_id: int,
    team_id: int | None,
    resource_link_id: int | None,
    secret: str | bytes,
) -> tuple[QuizResult, QuizAttempt | None]:
    """Mark a quiz on the server (``form``: the whole submitted form, read under the seal it
    was rendered with, ``secret`` being the server's) and record the attempt; the LMS gets the
    best score."""
    if learner.opted_in_at is None:
        raise AssessmentError("Join the programme before taking a quiz.")
    quiz = quizzes().get(quiz_id)
    if quiz is None:
        raise AssessmentError("There is no such quiz.")
    result = mark_quiz(quiz, form, secret)
    if result.errors:
        return result, None
    attempt = QuizAttempt(
        **learner_columns(learner, deployment_id, team_id),
        quiz=quiz_id,
        answers=result.given,
        scores=result.scores,
        percent=result.percent,
    )
    session.add(attempt)
    session.flush()
    if resource_link_id is not None and gradebook_available(session, resource_link_id):
        best = max(
            session.scalars(
                select(QuizAttempt.percent).where(
                    QuizAttempt.learner_id == learner.id, QuizAttempt.quiz == quiz_id
                )
            )
        )
        enqueue_score(
            session,
            user_id=learner.id,
            resource_link_id=resource_link_id,
            score_given=best,
            score_maximum=100.0,
            comment=f"Best of your attempts at {quiz['title']}.",
        )
    return result, attempt


@dataclass
class QuizReport:
    attempts: int
    items: list[ItemStat]
    alpha: float | None


def quiz_report(
    session: Session, deployment_id: int, team_id: int | None, quiz_id: str
) -> QuizReport:
    """Item analysis over each person's first attempt in this course context."""
    quiz = quizzes()[quiz_id]
    first: dict[int, QuizAttempt] = {}
    if team_id is not None:
        for attempt in session.scalars(
            select(QuizAttempt)
            .where(
                QuizAttempt.deployment_id == deployment_id,
                QuizAttempt.team_id == team_id,
                QuizAttempt.quiz == quiz_id,
            )
            .order_by(QuizAttempt.id)
        ):
            first.setdefault(attempt.learner_id, attempt)
    ids = [q["id"] for q in quiz["questions"]]
    matrix = np.array([[a.scores.get(i, 0.0) for i in ids] for a in first.values()], dtype=float)
    if not first:
        return QuizReport(0, [ItemStat(i, 0.0, None) for i in ids], None)
    return QuizReport(len(first), item_analysis(ids, matrix), cronbach_alpha(matrix))
