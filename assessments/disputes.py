"""Disputes: a learner disputes a final grade once; a trainer other than the first grader
reviews it, upholding the grade or replacing it (both grades are kept, the decision is in
the audit log)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from assessments.errors import AssessmentError, TextRule
from assessments.grading import assessment_graded, final_grade, send_to_gradebook
from assessments.models import GRADED, Assessment, AssessmentEvent, Dispute, Grade
from assessments.rubrics import rubric_levels, score_percent
from core.auth import Role
from core.db import utcnow
from people.models import User

DISPUTE_LIMIT = 1000
DISPUTE_REASON = TextRule(
    at_least=10,
    at_most=DISPUTE_LIMIT,
    too_short="Say why you think the grade is wrong (at least a sentence).",
    too_long=f"Keep the reason under {DISPUTE_LIMIT} characters.",
)


def open_dispute(session: Session, assessment: Assessment, learner: User, reason: str) -> Dispute:
    if assessment.learner_id != learner.id:
        raise AssessmentError("You can dispute only your own results.")
    if assessment.status != GRADED:
        raise AssessmentError("Only a graded assessment can be disputed.")
    reason = DISPUTE_REASON.check(reason)
    if session.scalar(select(Dispute.id).where(Dispute.assessment_id == assessment.id)):
        raise AssessmentError("This result was already disputed.")
    original = final_grade(session, assessment.id)
    assert original is not None
    dispute = Dispute(assessment_id=assessment.id, reason=reason, original_grade_id=original.id)
    session.add(dispute)
    session.flush()
    return dispute


def open_disputes(session: Session, deployment_id: int, team_id: int | None) -> list[Dispute]:
    if team_id is None:
        return []
    return list(
        session.scalars(
            select(Dispute)
            .join(Assessment, Assessment.id == Dispute.assessment_id)
            .where(
                Assessment.deployment_id == deployment_id,
                Assessment.team_id == team_id,
                Dispute.resolved_at.is_(None),
            )
            .options(selectinload(Dispute.assessment).selectinload(Assessment.learner))
            .order_by(Dispute.opened_at)
        )
    )


# Who decides a dispute: a trainer of the assessment's course context (the caller checks the
# context) who neither gave the disputed grade nor is the learner. Administrators can read
# disputes but do not decide them: an LMS administrator's launch says nothing about their
# standing as a grader in this course, and a decision is a grader's second opinion.
DISPUTE_DECIDER_ROLES = frozenset({Role.TRAINER})


class DecisionRefused(AssessmentError):
    """The person may read the dispute but the rule does not let them decide it."""


def may_decide_dispute(role: Role) -> bool:
    return role in DISPUTE_DECIDER_ROLES


def review_dispute(
    session: Session,
    dispute: Dispute,
    reviewer: User,
    levels: dict[str, int | None],
    note: str,
    role: Role = Role.TRAINER,
) -> Dispute:
    """A trainer other than the first grader grades again. Different levels replace the final
    grade (the first is kept); equal levels uphold it. The audit log records who decided, in
    which role."""
    if not may_decide_dispute(role):
        raise DecisionRefused(
            "Only a trainer of this course other than the first grader decides a dispute."
        )
    if dispute.resolved_at is not None:
        raise AssessmentError("This dispute was already reviewed.")
    original = session.get(Grade, dispute.original_grade_id)
    assert original is not None
    if reviewer.id in (original.grader_id, dispute.assessment.learner_id):
        raise AssessmentError("A different trainer must review a disputed grade.")
    definition = dispute.assessment.rubric_version.definition
    clean = rubric_levels(definition, levels)
    review = Grade(
        assessment_id=dispute.assessment_id,
        grader_id=reviewer.id,
        levels=clean,
        changed=[c for c in clean if clean[c] != original.levels.get(c)],
        comment=note.strip()[:4000],
        score_percent=score_percent(definition, clean),
        final=False,
    )
    session.add(review)
    session.flush()
    dispute.reviewer_id, dispute.review_grade_id = reviewer.id, review.id
    dispute.note, dispute.resolved_at = note.strip()[:4000], utcnow()
    if clean != original.levels:
        original.final, review.final = False, True
        dispute.outcome = "changed"
        session.flush()
        send_to_gradebook(session, dispute.assessment, pending=False, result=review)
        assessment_graded.send(session, assessment=dispute.assessment, grade=review)
    else:
        dispute.outcome = "upheld"
    session.add(
        AssessmentEvent(
            assessment_id=dispute.assessment_id,
            dispute_id=dispute.id,
            action="dispute_decided",
            actor_id=reviewer.id,
            actor_role=role,
            subject_id=original.grader_id,
            detail={
                "outcome": dispute.outcome,
                "original_grade_id": original.id,
                "review_grade_id": review.id,
            },
        )
    )
    session.flush()
    return dispute


def dispute_of(session: Session, assessment_id: int) -> Dispute | None:
    return session.scalar(select(Dispute).where(Dispute.assessment_id == assessment_id))
