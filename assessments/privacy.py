"""What assessments hold about a person (as the one assessed), for their data download."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
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


def remove_old_transcripts(session: Session, now: datetime) -> str:
    """Uploaded customer conversations hold other people's words: after
    ``TRANSCRIPT_RETENTION_DAYS`` their text (and the suggestions quoting it) is removed. The
    grades, scores and the fact of the assessment stay."""
    days = current_app.config["TRANSCRIPT_RETENTION_DAYS"]
    if days <= 0:
        return "kept (TRANSCRIPT_RETENTION_DAYS is 0)"
    removed = 0
    old = select(Assessment).where(
        Assessment.kind == "transcript",
        Assessment.created_at < now - timedelta(days=days),
        Assessment.conversation["removed_at"].as_string().is_(None),
    )
    for assessment in session.scalars(old.execution_options(yield_per=500)):
        assessment.conversation = {"turns": [], "removed_at": now.isoformat(), "kept_days": days}
        assessment.suggestions = []
        removed += 1
    session.flush()
    return f"removed the text of {removed} transcript(s) older than {days} days"
