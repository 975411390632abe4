"""Transcripts uploaded by trainers: one agent's conversations read, checked all together and
stored with the engine's suggestions, waiting for a grade."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from assessments.errors import AssessmentError
from assessments.grading import stored_suggestions
from assessments.models import AWAITING, TRANSCRIPT, Assessment
from assessments.rubrics import rubric_for_platform
from assessments.tenant_models import current_suggestion_model
from assessments.transcripts import TranscriptInvalid, parse
from core.db import utcnow
from people.models import Membership, User

MAX_FILES = 20


def assessable_people(session: Session, team_id: int, trainer: User) -> list[User]:
    """The active members of a course context a trainer may assess (not themselves), by
    name."""
    members = [
        m.user
        for m in session.scalars(
            select(Membership)
            .where(Membership.team_id == team_id, Membership.active.is_(True))
            .options(selectinload(Membership.user))
        )
        if m.user_id != trainer.id
    ]
    return sorted(members, key=lambda u: u.display_name)


def assessable_member(session: Session, user_id: int, team_id: int) -> User:
    """The person whose conversations are assessed: a member of this course context who
    joined the programme, else ``AssessmentError`` saying which."""
    membership = session.scalar(
        select(Membership)
        .where(Membership.user_id == user_id, Membership.team_id == team_id)
        .options(selectinload(Membership.user))
    )
    if membership is None:
        raise AssessmentError("Choose someone in this course's team.")
    if membership.user.opted_in_at is None:
        raise AssessmentError(
            f"{membership.user.display_name} has not joined the training programme, so their "
            "conversations are not assessed here."
        )
    return membership.user


def upload_transcripts(
    session: Session,
    *,
    trainer: User,
    deployment_id: int,
    team_id: int,
    learner_id: int,
    files: Sequence[tuple[str, bytes]],
    channel: str,
    mask: bool,
) -> list[Assessment]:
    """Assess one agent's conversations. Every file is read first; if any is wrong nothing is
    stored and ``TranscriptInvalid`` errors are raised together in an ``UploadRefused``."""
    if not files:
        raise AssessmentError("Choose at least one transcript file or paste one.")
    if len(files) > MAX_FILES:
        raise AssessmentError(f"Upload at most {MAX_FILES} transcripts at once.")
    learner = assessable_member(session, learner_id, team_id)
    if learner.id == trainer.id:
        raise AssessmentError("You cannot assess your own conversations.")
    parsed, problems = [], []
    for name, data in files:
        try:
            parsed.append((name, parse(data, name, channel=channel, mask=mask)))
        except TranscriptInvalid as invalid:
            problems.append(invalid)
    if problems:
        raise UploadRefused(problems)
    version = rubric_for_platform(session, learner.platform_id)
    current = current_suggestion_model(session, learner.platform_id)
    created = []
    for name, transcript in parsed:
        assessment = Assessment(
            platform_id=learner.platform_id,
            deployment_id=deployment_id,
            team_id=team_id,
            learner_id=learner.id,
            kind=TRANSCRIPT,
            title=name[:200],
            rubric_version_id=version.id,
            channel=transcript.channel,
            conversation=transcript.to_json(),
            suggestions=stored_suggestions(transcript, current),
            status=AWAITING,
            created_by_id=trainer.id,
            submitted_at=utcnow(),
        )
        session.add(assessment)
        created.append(assessment)
    session.flush()
    return created


class UploadRefused(Exception):
    def __init__(self, problems: list[TranscriptInvalid]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))
