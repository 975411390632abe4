"""The catalogue (courses and their imported versions) and each learner's way through them.

Content is stored in the database, not read from the pack folder at request time, so every
worker and host serves the same version. Progress is keyed by module, lesson and check slugs,
so it carries over when a course gets a new version.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from people.models import User, platform_key


class Course(Base):
    """A course of the catalogue. Built-in courses (``platform_id`` NULL) are shared, read-only,
    by every LMS; a course uploaded by an LMS's trainer belongs to that LMS alone, so two LMSs
    may each have a course with the same slug, but none may reuse a built-in's slug."""

    __tablename__ = "courses"
    __table_args__ = (
        UniqueConstraint("platform_id", "slug"),
        # NULLs are distinct in a unique constraint: built-in slugs need an index of their own.
        Index(
            "uq_courses_builtin_slug",
            "slug",
            unique=True,
            sqlite_where=text("platform_id IS NULL"),
            postgresql_where=text("platform_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int | None] = platform_key()
    slug: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(String(240), default="")
    sort_order: Mapped[int] = mapped_column(default=100)
    version: Mapped[str] = mapped_column(String(20))  # the current version
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def built_in(self) -> bool:
        return self.platform_id is None


class CourseVersion(Base):
    """One imported version of a course's pack, as the document the pages render."""

    __tablename__ = "course_versions"
    __table_args__ = (UniqueConstraint("course_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(20))
    content_hash: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(255), default="")
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)

    course: Mapped[Course] = relationship()


class CourseAsset(Base):
    """An image of a pack version, served to the pages that use it."""

    __tablename__ = "course_assets"
    __table_args__ = (UniqueConstraint("version_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("course_versions.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Enrolment(Base):
    """A learner taking a course. Exists only for people who joined the programme and chose
    to start the course; it carries their LMS tenancy and the activity grades go back to."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("user_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    platform_id: Mapped[int] = platform_key()
    deployment_id: Mapped[int] = mapped_column(ForeignKey("lti_deployments.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    # The LMS activity the learner last opened this course from: where the grade goes.
    resource_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_resource_links.id", ondelete="SET NULL")
    )
    last_item: Mapped[str] = mapped_column(String(200), default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()
    course: Mapped[Course] = relationship()


class ItemProgress(Base):
    """A lesson or worked example the learner finished (``module/lesson``)."""

    __tablename__ = "course_item_progress"
    __table_args__ = (UniqueConstraint("enrolment_id", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(String(200))
    done_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckAttempt(Base):
    """One submitted knowledge check, as marked by the server."""

    __tablename__ = "course_check_attempts"
    __table_args__ = (Index("ix_course_check_attempts_enrolment_module", "enrolment_id", "module"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"))
    module: Mapped[str] = mapped_column(String(60))
    version: Mapped[str] = mapped_column(String(20))
    answers: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    correct: Mapped[dict[str, bool]] = mapped_column(JSON)
    score: Mapped[float] = mapped_column()
    maximum: Mapped[float] = mapped_column()
    passed: Mapped[bool] = mapped_column()
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.maximum if self.maximum else 0.0


class ExerciseSubmission(Base):
    """The learner's work on the final exercise: checked at once, or waiting for a trainer."""

    __tablename__ = "course_exercise_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("enrolments.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[str] = mapped_column(String(20))
    answers: Mapped[dict[str, str]] = mapped_column(JSON)
    # passed | failed (checked automatically) · awaiting_review | returned (a trainer's call)
    status: Mapped[str] = mapped_column(String(20), index=True)
    score: Mapped[float | None] = mapped_column()
    maximum: Mapped[float | None] = mapped_column()
    marks: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    comment: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    graded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    graded_at: Mapped[datetime | None] = mapped_column()

    enrolment: Mapped[Enrolment] = relationship()

    @property
    def percent(self) -> float | None:
        if self.score is None or not self.maximum:
            return None
        return 100.0 * self.score / self.maximum


class CourseResult(Base):
    """A completed course: the score and the certificate anyone can verify by its code."""

    __tablename__ = "course_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("enrolments.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(20))
    score_percent: Mapped[float] = mapped_column()
    completed_at: Mapped[datetime] = mapped_column(default=utcnow)
    certificate_code: Mapped[str] = mapped_column(String(32), unique=True)
    # As printed on the certificate, so it still verifies if the LMS later renames things.
    learner_name: Mapped[str] = mapped_column(String(255))
    course_title: Mapped[str] = mapped_column(String(120))

    course: Mapped[Course] = relationship()


class CheckPolicySetting(Base):
    """One LMS's answer policy for one course's knowledge checks (``courses.checks.CheckPolicy``).
    Kept apart from the course because built-in courses are shared: each LMS's trainers choose
    for their own learners. No row: the default (answers held back until the check is passed,
    no attempt limit)."""

    __tablename__ = "course_check_policies"
    __table_args__ = (UniqueConstraint("platform_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = platform_key(indexed=False)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    reveal: Mapped[str] = mapped_column(String(20))  # a courses.checks.Reveal value
    max_attempts: Mapped[int | None] = mapped_column()
    wait_minutes: Mapped[int | None] = mapped_column()
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PastTraining(Base):
    """Training a person completed before, or outside, the tool: one of the catalogue's
    courses (``course_id``), or an outside training kept by its name (a classroom course,
    another LMS's). Brought in from a file; counts as training in the impact analysis.

    Built for bulk loading (a million rows per file): no index of its own on ``user_id`` (the
    unique key starts with it, which serves the person's look-ups and their erasure's
    cascade), and no foreign key on ``course_id``, which PostgreSQL checked row by row: the
    importer writes only courses it has just found among those the LMS sees, in the same
    transaction, and the trigger ``PAST_TRAININGS_FORGET_COURSES`` empties the column when a
    course is removed, as the foreign key's SET NULL did."""

    __tablename__ = "past_trainings"
    __table_args__ = (
        UniqueConstraint("user_id", "training_key", "completed_on"),
        Index("ix_past_trainings_platform_key", "platform_id", "training_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = platform_key(indexed=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int | None] = mapped_column()
    # "course:<slug>" for a catalogue course, "outside:<name folded>" for an outside one.
    training_key: Mapped[str] = mapped_column(String(200))
    training_name: Mapped[str] = mapped_column(String(200))
    completed_on: Mapped[date] = mapped_column()
    score_percent: Mapped[float | None] = mapped_column()
    source: Mapped[str] = mapped_column(String(255), default="")
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


# A course removed leaves its past trainings as outside ones would be, without a course (the
# column has no foreign key: see PastTraining). The migration that dropped the key has the same
# statements; here they follow ``create_all`` (the tests' schema).
PAST_TRAININGS_FORGET_COURSES = {
    "postgresql": (
        """CREATE OR REPLACE FUNCTION past_trainings_forget_courses() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE past_trainings SET course_id = NULL
            WHERE course_id IN (SELECT id FROM removed);
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER past_trainings_forget_courses AFTER DELETE ON courses
        REFERENCING OLD TABLE AS removed FOR EACH STATEMENT
        EXECUTE FUNCTION past_trainings_forget_courses()""",
    ),
    "sqlite": (
        """CREATE TRIGGER past_trainings_forget_courses AFTER DELETE ON courses FOR EACH ROW
        BEGIN
            UPDATE past_trainings SET course_id = NULL WHERE course_id = OLD.id;
        END""",
    ),
}
for _dialect, _statements in PAST_TRAININGS_FORGET_COURSES.items():
    for _statement in _statements:
        event.listen(Base.metadata, "after_create", DDL(_statement).execute_if(dialect=_dialect))
