"""What assessments hold about a person (as the one assessed), for their data download."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from assessments.models import Assessment, Dispute, Grade, QuizAttempt
from core.privacy import rows_of


def assessments_data(session: Session, user_id: int) -> dict[str, object]:
    theirs = select(Assessment.id).where(Assessment.learner_id == user_id).scalar_subquery()
    return {
        "assessments": rows_of(session, Assessment, Assessment.learner_id == user_id),
        "grades": rows_of(session, Grade, Grade.assessment_id.in_(theirs)),
        "disputes": rows_of(session, Dispute, Dispute.assessment_id.in_(theirs)),
        "quiz_attempts": rows_of(session, QuizAttempt, QuizAttempt.learner_id == user_id),
    }
