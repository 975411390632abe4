"""Rubrics (versioned), skill assessments of conversations, and grades.

A rubric version never changes once saved: editing a rubric makes a new version, so a grade
always refers to the descriptors the grader saw. An assessment is one conversation of one
agent: a transcript a trainer uploaded, or the learner's replies to a scenario.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from people.models import InCourseContext, User, platform_key

TRANSCRIPT, SCENARIO = "transcript", "scenario"
IN_PROGRESS, AWAITING, GRADED = "in_progress", "awaiting_grading", "graded"


class Rubric(Base):
    __tablename__ = "rubrics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    platform_id: Mapped[int | None] = platform_key()
    name: Mapped[str] = mapped_column(String(120))
    current_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A platform's most recently saved rubric is the one its new assessments use.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RubricVersion(Base):
    __tablename__ = "rubric_versions"
    __table_args__ = (UniqueConstraint("rubric_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rubric_id: Mapped[int] = mapped_column(ForeignKey("rubrics.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    # {"levels": {"1": "Not shown", …}, "target_level": 3,
    #  "criteria": [{"id", "name", "weight", "levels": {"1": descriptor, …}}]}
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    rubric: Mapped[Rubric] = relationship()


class Assessment(InCourseContext, Base):
    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # transcript | scenario
    scenario: Mapped[str | None] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(200), default="")
    rubric_version_id: Mapped[int] = mapped_column(ForeignKey("rubric_versions.id"))
    channel: Mapped[str] = mapped_column(String(10), default="chat")
    # {"turns": [{"speaker", "text", "at"?}]}; personal data masked when asked at upload.
    conversation: Mapped[dict[str, Any]] = mapped_column(JSON)
    suggestions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resource_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_resource_links.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column()

    learner: Mapped[User] = relationship(foreign_keys=[learner_id])
    rubric_version: Mapped[RubricVersion] = relationship()

    @property
    def removed_after_days(self) -> int | None:
        """How many whole days old the upload was when retention removed its text (None while
        the text is kept). Worked out from the dates, so rows removed before the age was
        stored read right too."""
        removed = self.conversation.get("removed_at")
        if not removed:
            return None
        age = self.conversation.get("age_days")
        if isinstance(age, int):
            return age
        return (datetime.fromisoformat(removed) - self.created_at).days


class Grade(Base):
    """A grader's levels for one assessment. The assessment's grade is the one with
    ``final`` set; calibration sessions (later) add others."""

    __tablename__ = "assessment_grades"
    __table_args__ = (UniqueConstraint("assessment_id", "grader_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("assessments.id", ondelete="CASCADE"), index=True
    )
    grader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    levels: Mapped[dict[str, int]] = mapped_column(JSON)
    # Which criteria the grader changed from the suggestion (how far suggestions are trusted).
    changed: Mapped[list[str]] = mapped_column(JSON, default=list)
    comment: Mapped[str] = mapped_column(Text, default="")
    score_percent: Mapped[float] = mapped_column()
    final: Mapped[bool] = mapped_column(default=True)
    graded_at: Mapped[datetime] = mapped_column(default=utcnow)

    assessment: Mapped[Assessment] = relationship()
    grader: Mapped[User | None] = relationship()


class CalibrationSession(InCourseContext, Base):
    """Several graders score one conversation blind, to see how far they agree."""

    __tablename__ = "calibration_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()

    assessment: Mapped[Assessment] = relationship()


class CalibrationGrade(Base):
    """One grader's levels in a calibration session, locked when saved.

    ``levels`` are the first levels the grader locked and never change: they alone count for
    the consensus, Krippendorff's alpha, each grader's drift and the calibration badge. A
    trainer can reopen a grader's levels while the session is open; what the grader saves then
    goes to ``revised_levels``, shown beside the first levels once the session closes but
    never counted, so a grader who learns the others' levels cannot improve the agreement."""

    __tablename__ = "calibration_grades"
    __table_args__ = (UniqueConstraint("session_id", "grader_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("calibration_sessions.id", ondelete="CASCADE"), index=True
    )
    grader_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    levels: Mapped[dict[str, int]] = mapped_column(JSON)
    graded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None while a trainer has reopened the levels for the grader to change.
    locked_at: Mapped[datetime | None] = mapped_column()
    revised_levels: Mapped[dict[str, int] | None] = mapped_column(JSON)

    grader: Mapped[User] = relationship()


class AssessmentEvent(Base):
    """Append-only audit log of the decisions about grades that are not grades themselves:
    a calibration grade reopened (and revised), a dispute decided. Rows are only added."""

    __tablename__ = "assessment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("assessments.id", ondelete="CASCADE"), index=True
    )
    # calibration_reopened | calibration_revised | dispute_decided
    action: Mapped[str] = mapped_column(String(30))
    calibration_id: Mapped[int | None] = mapped_column(
        ForeignKey("calibration_sessions.id", ondelete="CASCADE")
    )
    dispute_id: Mapped[int | None] = mapped_column(
        ForeignKey("assessment_disputes.id", ondelete="CASCADE")
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The role the actor acted in (from their launch): who decided, not only which account.
    actor_role: Mapped[str] = mapped_column(String(20), default="")
    # Whose grading it was about (the grader whose levels were reopened).
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    subject: Mapped[User | None] = relationship(foreign_keys=[subject_id])


class Dispute(Base):
    """A learner disputes a graded assessment; a different trainer reviews it. Both grades
    are kept: the review's becomes final only if it differs."""

    __tablename__ = "assessment_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("assessments.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(Text)
    original_grade_id: Mapped[int] = mapped_column(ForeignKey("assessment_grades.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    review_grade_id: Mapped[int | None] = mapped_column(ForeignKey("assessment_grades.id"))
    outcome: Mapped[str | None] = mapped_column(String(20))  # upheld | changed
    note: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[datetime | None] = mapped_column()

    assessment: Mapped[Assessment] = relationship()


class QuizAttempt(InCourseContext, Base):
    __tablename__ = "quiz_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    quiz: Mapped[str] = mapped_column(String(60), index=True)
    answers: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    scores: Mapped[dict[str, float]] = mapped_column(JSON)
    percent: Mapped[float] = mapped_column()
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
