"""What assessments hold about a person (as the one assessed), for their data download."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from assessments.models import Assessment, Dispute, Grade, QuizAttempt
from assessments.transcripts import mask_text
from core.privacy import rows_of


def assessments_data(session: Session, user_id: int) -> dict[str, object]:
    theirs = select(Assessment.id).where(Assessment.learner_id == user_id).scalar_subquery()
    return {
        "assessments": rows_of(session, Assessment, Assessment.learner_id == user_id),
        "grades": rows_of(session, Grade, Grade.assessment_id.in_(theirs)),
        "disputes": rows_of(session, Dispute, Dispute.assessment_id.in_(theirs)),
        "quiz_attempts": rows_of(session, QuizAttempt, QuizAttempt.learner_id == user_id),
    }


def days_text(days: int) -> str:
    return f"{days} day" if days == 1 else f"{days} days"


def neutral_title(assessment: Assessment) -> str:
    """What an uploaded transcript is called once its text is gone: its file name was chosen
    by whoever exported it and often names the customer ("Philippa Quaxley 07700900123
    complaint.txt"), so it goes too."""
    return f"Transcript #{assessment.id}, uploaded {assessment.created_at:%d %b %Y}"


def remove_old_transcripts(session: Session, now: datetime) -> str:
    """Uploaded customer conversations hold other people's words and identity: after
    ``TRANSCRIPT_RETENTION_DAYS`` every field that can carry them goes or is masked: the text,
    the suggestions quoting it, the file name (the title), and personal data (emails, card and
    phone numbers) in the grade comments and dispute texts written about it. The grades,
    scores and the fact of the assessment stay."""
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
        assessment.conversation = {
            "turns": [],
            "removed_at": now.isoformat(),
            "age_days": (now - assessment.created_at).days,
            "policy_days": days,
        }
        assessment.suggestions = []
        named = _names_in(assessment.title)
        assessment.title = neutral_title(assessment)
        _mask_written_about(session, assessment.id, named)
        removed += 1
    session.flush()
    return f"removed the text of {removed} transcript(s) older than {days_text(days)}"


def _names_in(file_name: str) -> list[str]:
    """Capitalised words of an uploaded file's name ("Philippa Quaxley 07700900123
    complaint.txt" gives Philippa, Quaxley): the one place the customer's name is known."""
    if file_name.startswith("Pasted transcript,"):
        return []  # the tool named it
    stem = file_name.rsplit(".", 1)[0]
    return [w for w in re.findall(r"[^\W\d_][\w'-]+", stem) if w[0].isupper()]


def _mask(text: str, names: list[str]) -> str:
    text = mask_text(text)[0]
    for name in names:
        # Case kept: "Chat 3 Nov.csv" must not mask every "chat" in a comment.
        text = re.sub(rf"\b{re.escape(name)}\b", "[name]", text)
    return text


def _mask_written_about(session: Session, assessment_id: int, names: list[str]) -> None:
    """Trainers' comments and disputes stay (they are the learner's feedback) but may quote
    the customer: emails, card and phone numbers and the names from the file's name are
    masked. A name that only the conversation held cannot be recognised in free text."""
    for grade in session.scalars(select(Grade).where(Grade.assessment_id == assessment_id)):
        grade.comment = _mask(grade.comment, names)
    for dispute in session.scalars(select(Dispute).where(Dispute.assessment_id == assessment_id)):
        dispute.reason, dispute.note = _mask(dispute.reason, names), _mask(dispute.note, names)
