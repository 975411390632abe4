"""What courses hold about a person, for their data download."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.privacy import rows_of
from courses.models import CheckAttempt, CourseResult, Enrolment, ExerciseSubmission, ItemProgress


def courses_data(session: Session, user_id: int) -> dict[str, object]:
    enrolments = select(Enrolment.id).where(Enrolment.user_id == user_id).scalar_subquery()
    return {
        "enrolments": rows_of(session, Enrolment, Enrolment.user_id == user_id),
        "progress": rows_of(session, ItemProgress, ItemProgress.enrolment_id.in_(enrolments)),
        "check_attempts": rows_of(session, CheckAttempt, CheckAttempt.enrolment_id.in_(enrolments)),
        "exercises": rows_of(
            session, ExerciseSubmission, ExerciseSubmission.enrolment_id.in_(enrolments)
        ),
        "results_and_certificates": rows_of(session, CourseResult, CourseResult.user_id == user_id),
    }
