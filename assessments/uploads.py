"""Transcripts uploaded by trainers: one agent's conversations read (in any format of
``assessments.formats``), checked all together and stored with the engine's suggestions,
waiting for a grade. A file holding many conversations (an export) is a batch: every
conversation is stored at once and scored in the worker (``assessments.batch``), since a QA
team scores all of its conversations, not a sample, and that takes longer than a request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from assessments.batch import queue_scoring
from assessments.errors import AssessmentError
from assessments.formats import MAX_CONVERSATIONS, Conversation, read_conversations
from assessments.grading import stored_suggestions
from assessments.learners import learner_columns
from assessments.models import AWAITING, TRANSCRIPT, Assessment
from assessments.rubrics import rubric_for_platform
from assessments.tenant_models import current_suggestion_model
from assessments.transcripts import TranscriptInvalid, TranscriptProblem
from core.db import utcnow
from core.jobs import Job
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


@dataclass(frozen=True)
class Uploaded:
    """What an upload stored: its conversations, and the worker's job scoring them when the
    upload was a batch (None: scored already)."""

    assessments: list[Assessment]
    job: Job | None = None


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
    next_url: str = "",
) -> Uploaded:
    """Assess one agent's conversations. Every file is read first; if any is wrong nothing is
    stored and ``TranscriptInvalid`` errors are raised together in an ``UploadRefused``. When a
    file holds more than one conversation, all are stored without suggestions and a job scores
    them (``next_url``: where its progress page leads when it is done)."""
    if not files:
        raise AssessmentError("Choose at least one transcript file or paste one.")
    if len(files) > MAX_FILES:
        raise AssessmentError(f"Upload at most {MAX_FILES} transcripts at once.")
    learner = assessable_member(session, learner_id, team_id)
    if learner.id == trainer.id:
        raise AssessmentError("You cannot assess your own conversations.")
    parsed: list[tuple[str, list[Conversation]]] = []
    problems = []
    for name, data in files:
        try:
            parsed.append((name, read_conversations(data, name, channel=channel, mask=mask)))
        except TranscriptInvalid as invalid:
            problems.append(invalid)
    total = sum(len(found) for _, found in parsed)
    if not problems and total > MAX_CONVERSATIONS:
        problems.append(
            TranscriptInvalid(
                "This upload",
                [TranscriptProblem(0, f"more than {MAX_CONVERSATIONS} conversations in all")],
            )
        )
    if problems:
        raise UploadRefused(problems)
    batch = any(len(found) > 1 for _, found in parsed)
    version = rubric_for_platform(session, learner.platform_id)
    current = None if batch else current_suggestion_model(session, learner.platform_id)
    created = []
    for name, found in parsed:
        for conversation in found:
            transcript = conversation.transcript
            title = name if len(found) == 1 else f"{name}: {conversation.id}"
            assessment = Assessment(
                **learner_columns(learner, deployment_id, team_id),
                kind=TRANSCRIPT,
                title=title[:200],
                rubric_version_id=version.id,
                channel=transcript.channel,
                conversation=transcript.to_json(),
                suggestions=stored_suggestions(transcript, current) if current else [],
                status=AWAITING,
                created_by_id=trainer.id,
                submitted_at=utcnow(),
            )
            session.add(assessment)
            created.append(assessment)
    session.flush()
    if not batch:
        return Uploaded(created)
    job = queue_scoring(
        session,
        [a.id for a in created],
        platform_id=learner.platform_id,
        user_id=trainer.id,
        next_url=next_url,
    )
    return Uploaded(created, job)


class UploadRefused(Exception):
    def __init__(self, problems: list[TranscriptInvalid]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))
