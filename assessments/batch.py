"""Scoring a batch of uploaded conversations in the worker (``flask lms worker``).

An export of many conversations is stored at once, each waiting for a grade without
suggestions yet; one job per upload then scores every one of them with the tenant's current
model. The list of conversations travels in the job's parameters and each suggestion is
committed as it is made, so any worker process can run the job, a worker that dies leaves the
rest for the next attempt, and no conversation is scored twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from assessments.grading import stored_suggestions
from assessments.models import AWAITING, Assessment
from assessments.tenant_models import current_suggestion_model
from assessments.transcripts import AGENT, Transcript
from core.jobs import Job, Outcome, Progress, enqueue

SCORE_JOB = "assessments-score"
COMMIT_EVERY = 10  # conversations scored between commits (and progress reports)


def queue_scoring(
    session: Session, assessment_ids: list[int], *, platform_id: int, user_id: int, next_url: str
) -> Job:
    """The job that scores these uploaded conversations (the caller commits)."""
    return enqueue(
        session,
        SCORE_JOB,
        f"Scoring {len(assessment_ids)} uploaded conversations",
        platform_id=platform_id,
        user_id=user_id,
        params={"assessment_ids": assessment_ids, "next_url": next_url},
    )


def unscored(assessment: Assessment) -> bool:
    """Waiting for a grade, with its text, and no suggestion yet (a batch not scored so far)."""
    turns = assessment.conversation.get("turns") or []
    return (
        assessment.status == AWAITING
        and not assessment.suggestions
        and any(t.get("speaker") == AGENT for t in turns)
    )


@dataclass(frozen=True)
class Scoring:
    """Where a conversation without suggestions stands: the job of its batch that scores it
    (None when no job that has not ended well names it)."""

    job: Job | None

    @property
    def coming(self) -> bool:
        """Its suggestions are on the way: the batch's job is queued or running."""
        return self.job is not None and not self.job.finished

    def progress_page_for(self, user_id: int | None) -> int | None:
        """The job whose progress page this person may open (only the uploader's), if any."""
        if self.job is None or user_id is None or self.job.user_id != user_id:
            return None
        return self.job.id


def scoring_of(session: Session, assessment: Assessment) -> Scoring | None:
    """Whether a conversation waiting for a grade still waits for its suggestions, and the
    job that makes them; None when it has them, or will get none (no agent's words)."""
    if not unscored(assessment):
        return None
    # Only the jobs of its own LMS that have not finished well: few, and newest first.
    for job in session.scalars(
        select(Job)
        .where(
            Job.kind == SCORE_JOB,
            Job.platform_id == assessment.platform_id,
            Job.status != "done",
        )
        .order_by(Job.id.desc())
    ):
        if assessment.id in {int(i) for i in job.params.get("assessment_ids", [])}:
            return Scoring(job)
    return Scoring(None)


def score_job(session: Session, job: Job, progress: Progress) -> Outcome:
    """The worker's job: suggestions for every conversation of one upload that has none yet,
    by the job's tenant's current model. Only the job's own tenant's conversations are read."""
    ids = [int(i) for i in job.params.get("assessment_ids", [])]
    current = current_suggestion_model(session, job.platform_id or 0)
    total, scored = len(ids), 0
    progress(0, total, "Scoring conversations")
    for start in range(0, total, COMMIT_EVERY):
        chunk = ids[start : start + COMMIT_EVERY]
        for assessment in session.scalars(
            select(Assessment).where(
                Assessment.id.in_(chunk), Assessment.platform_id == job.platform_id
            )
        ):
            if not unscored(assessment):
                continue  # graded already, removed, or scored by an earlier attempt
            transcript = Transcript.from_json(assessment.conversation)
            assessment.suggestions = stored_suggestions(transcript, current)
            scored += 1
        session.commit()
        progress(min(start + COMMIT_EVERY, total), total, "Scoring conversations")
    return Outcome(
        f"Suggested levels for {scored} of {total} conversations; they wait in the grading queue.",
        next_url=str(job.params.get("next_url", "")),
    )
