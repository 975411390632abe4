"""Grading: the engine's suggestions stored with a complete conversation, the trainer's final
grade, the grade sent to the LMS gradebook, the queue of conversations waiting for a grade,
and the graded levels read back (a learner's results, badges, profiles)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from blinker import Namespace
from sqlalchemy import select
from sqlalchemy.orm import Session

from assessments.errors import AssessmentError
from assessments.models import AWAITING, GRADED, Assessment, Grade
from assessments.rubrics import rubric_levels, score_percent
from assessments.suggest import suggest
from assessments.tenant_models import CurrentModel
from assessments.transcripts import Transcript
from lms.grades import FULLY_GRADED, PENDING_MANUAL, enqueue_score, gradebook_available
from people.models import User

signals = Namespace()
# Sent when a final grade is written (same transaction): badges for skill levels listen.
assessment_graded = signals.signal("assessment-graded")


def stored_suggestions(transcript: Transcript, current: CurrentModel) -> list[dict[str, Any]]:
    """The suggested level per criterion with its reasons and evidence spans, as stored with
    the conversation (computed once, when it is complete) by the tenant's current model
    (``tenant_models.current_suggestion_model``). Each keeps the model's probability of its
    level and whether the skill is low confidence for this tenant at that moment, so the
    grading page shows the suggestion the way it was made even after a refit."""
    return [
        {
            "criterion": s.criterion,
            "level": s.level,
            "reasons": s.reasons,
            "evidence": [asdict(e) for e in s.evidence],
            "confidence": s.confidence,
            "model": current.label,
            "agreement": current.agreement.get(s.criterion),
            "low_confidence": current.low_confidence(s.criterion),
            "low_confidence_note": current.note(s.criterion),
        }
        for s in suggest(transcript, current.model)
    ]


def grade(
    session: Session, assessment: Assessment, grader: User, levels: dict[str, int], comment: str
) -> Grade:
    """A trainer's final grade: every criterion at a level of the rubric."""
    if assessment.status != AWAITING:
        raise AssessmentError("This assessment is not waiting for a grade.")
    if assessment.learner_id == grader.id:
        raise AssessmentError("You cannot grade your own work.")
    definition = assessment.rubric_version.definition
    clean = rubric_levels(definition, levels)
    suggested = {s["criterion"]: s["level"] for s in assessment.suggestions}
    result = Grade(
        assessment_id=assessment.id,
        grader_id=grader.id,
        levels=clean,
        changed=[c for c, level in clean.items() if suggested.get(c) not in (None, level)],
        comment=comment.strip()[:4000],
        score_percent=score_percent(definition, clean),
    )
    session.add(result)
    assessment.status = GRADED
    session.flush()
    send_to_gradebook(session, assessment, pending=False, result=result)
    assessment_graded.send(session, assessment=assessment, grade=result)
    return result


def send_to_gradebook(
    session: Session, assessment: Assessment, *, pending: bool, result: Grade | None = None
) -> None:
    """The score for the LMS gradebook when the activity was placed with one: pending (0, a
    trainer will grade it) or the final grade with its comment."""
    link = assessment.resource_link_id
    if link is None or not gradebook_available(session, link):
        return
    enqueue_score(
        session,
        user_id=assessment.learner_id,
        resource_link_id=link,
        score_given=result.score_percent if result else 0.0,
        score_maximum=100.0,
        activity_progress="Submitted" if pending else "Completed",
        grading_progress=PENDING_MANUAL if pending else FULLY_GRADED,
        comment=(result.comment if result else "Waiting for a trainer to grade it.")[:1000],
    )


# Confidence filter of the grading queue: a suggestion is uncertain when its skill agrees
# poorly with this LMS's graders (flagged low confidence when it was made) or when the model
# gives its level less than this probability (four levels: 0.25 is a guess).
UNSURE_BELOW = 0.4
CONFIDENCE_FILTERS = {"low": "Low confidence", "high": "Confident"}


def uncertain(suggestion: dict[str, Any]) -> bool:
    return bool(suggestion.get("low_confidence")) or (
        float(suggestion.get("confidence") or 0) < UNSURE_BELOW
    )


def final_grade(session: Session, assessment_id: int) -> Grade | None:
    return session.scalar(
        select(Grade).where(Grade.assessment_id == assessment_id, Grade.final.is_(True))
    )


def mine(session: Session, learner_id: int) -> list[tuple[Assessment, Grade | None]]:
    assessments = list(
        session.scalars(
            select(Assessment)
            .where(Assessment.learner_id == learner_id)
            .order_by(Assessment.created_at.desc())
        )
    )
    grades = {
        g.assessment_id: g
        for g in session.scalars(
            select(Grade).where(
                Grade.assessment_id.in_([a.id for a in assessments]), Grade.final.is_(True)
            )
        )
    }
    return [(a, grades.get(a.id)) for a in assessments]


def skill_levels(session: Session, user_ids: Sequence[int]) -> dict[int, dict[str, list[int]]]:
    """Each person's graded levels per criterion, oldest first (for badges and profiles)."""
    history: dict[int, dict[str, list[int]]] = {uid: {} for uid in user_ids}
    for learner_id, levels in session.execute(
        select(Assessment.learner_id, Grade.levels)
        .join(Grade, Grade.assessment_id == Assessment.id)
        .where(Assessment.learner_id.in_(user_ids), Grade.final.is_(True))
        .order_by(Grade.graded_at, Grade.id)
    ):
        for criterion, level in levels.items():
            history[learner_id].setdefault(criterion, []).append(int(level))
    return history
