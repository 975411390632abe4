"""Calibration: graders grade one conversation blind, their first levels lock when saved, a
trainer may reopen them (recorded, not counted) and closes the session; then the consensus,
each grader's drift from it and the agreement show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from blinker import Namespace
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from assessments.agreement import MIN_RATERS, Estimate, alpha_with_ci
from assessments.errors import AssessmentError
from assessments.models import Assessment, AssessmentEvent, CalibrationGrade, CalibrationSession
from assessments.rubrics import rubric_levels
from core.db import utcnow
from people.models import User

signals = Namespace()
# Sent when a trainer closes a session (same transaction): the calibration badge listens.
calibration_closed = signals.signal("calibration-closed")

DRIFT = 0.75  # mean levels away from the consensus that flags a grader


def start_calibration(
    session: Session, assessment: Assessment, trainer: User
) -> CalibrationSession:
    if assessment.team_id is None:
        raise AssessmentError("Calibrate a conversation of a course context.")
    calibration = CalibrationSession(
        platform_id=assessment.platform_id,
        deployment_id=assessment.deployment_id,
        team_id=assessment.team_id,
        assessment_id=assessment.id,
        created_by_id=trainer.id,
    )
    session.add(calibration)
    session.flush()
    return calibration


def calibration_grade_of(
    session: Session, calibration: CalibrationSession, grader_id: int
) -> CalibrationGrade | None:
    return session.scalar(
        select(CalibrationGrade).where(
            CalibrationGrade.session_id == calibration.id, CalibrationGrade.grader_id == grader_id
        )
    )


def calibration_grade(
    session: Session, calibration: CalibrationSession, grader: User, levels: dict[str, int | None]
) -> CalibrationGrade:
    """A grader's blind levels, locked when saved. A second save is refused unless a trainer
    reopened them; then the new levels are kept as a revision beside the first ones, which
    alone count (see ``CalibrationGrade``)."""
    if calibration.closed_at is not None:
        raise AssessmentError("This calibration session is closed.")
    if calibration.assessment.learner_id == grader.id:
        raise AssessmentError("You cannot grade your own conversation.")
    clean = rubric_levels(calibration.assessment.rubric_version.definition, levels)
    existing = calibration_grade_of(session, calibration, grader.id)
    now = utcnow()
    if existing is None:
        existing = CalibrationGrade(
            session_id=calibration.id,
            grader_id=grader.id,
            levels=clean,
            graded_at=now,
            locked_at=now,
        )
        session.add(existing)
    elif existing.locked_at is not None:
        raise AssessmentError(
            "Your levels are locked. To change one, ask the trainer running this session to "
            "reopen your levels."
        )
    else:
        session.add(
            AssessmentEvent(
                assessment_id=calibration.assessment_id,
                calibration_id=calibration.id,
                action="calibration_revised",
                actor_id=grader.id,
                subject_id=grader.id,
                detail={
                    "first": existing.levels,
                    "before": existing.revised_levels,
                    "after": clean,
                },
            )
        )
        existing.revised_levels, existing.locked_at = clean, now
    session.flush()
    return existing


def reopen_calibration_grade(
    session: Session,
    calibration: CalibrationSession,
    trainer: User,
    role: str,
    grader_id: int,
    reason: str,
) -> CalibrationGrade:
    """Let a grader change their saved levels (a trainer's decision, in the audit log). Only
    while the session is open, so nobody changes levels after seeing the others', and never
    by the grader themselves. The change is recorded, not counted."""
    if calibration.closed_at is not None:
        raise AssessmentError("This calibration session is closed; its levels stay as they are.")
    found = calibration_grade_of(session, calibration, grader_id)
    if found is None:
        raise AssessmentError("That grader has not saved levels in this session.")
    if grader_id == trainer.id:
        raise AssessmentError("Another trainer must reopen your levels.")
    if found.locked_at is None:
        raise AssessmentError(f"{found.grader.display_name}'s levels are already reopened.")
    reason = reason.strip()
    if len(reason) < 5:
        raise AssessmentError("Say why the levels are reopened (the audit log keeps it).")
    found.locked_at = None
    session.add(
        AssessmentEvent(
            assessment_id=calibration.assessment_id,
            calibration_id=calibration.id,
            action="calibration_reopened",
            actor_id=trainer.id,
            actor_role=role,
            subject_id=grader_id,
            reason=reason[:1000],
        )
    )
    session.flush()
    return found


def calibration_events(session: Session, calibration: CalibrationSession) -> list[AssessmentEvent]:
    return list(
        session.scalars(
            select(AssessmentEvent)
            .where(AssessmentEvent.calibration_id == calibration.id)
            .options(selectinload(AssessmentEvent.actor), selectinload(AssessmentEvent.subject))
            .order_by(AssessmentEvent.id)
        )
    )


@dataclass
class GraderDeviation:
    grader: User
    levels: dict[str, int]  # the first locked levels: the ones that count
    mean_deviation: float
    # Levels saved after a trainer reopened them: shown, never counted.
    revised: dict[str, int] | None = None
    locked: bool = True

    @property
    def drifts(self) -> bool:
        return self.mean_deviation > DRIFT


@dataclass
class CalibrationReport:
    criteria: list[dict[str, Any]]
    consensus: dict[str, float]
    spread: dict[str, tuple[int, int]]
    graders: list[GraderDeviation]
    alpha: Estimate | None
    engine_deviation: float | None


def calibration_report(session: Session, calibration: CalibrationSession) -> CalibrationReport:
    """Spread and consensus (median) per criterion, each grader's distance from it, and
    Krippendorff's alpha (ordinal) over graders x criteria with a bootstrap interval."""
    criteria = calibration.assessment.rubric_version.definition["criteria"]
    grades = locked_grades(session, calibration)
    consensus = {c["id"]: consensus_level(grades, c["id"]) for c in criteria}
    spread = {c["id"]: level_range(grades, c["id"]) for c in criteria}
    graders = [
        GraderDeviation(
            g.grader,
            g.levels,
            float(np.mean([abs(g.levels[c["id"]] - consensus[c["id"]]) for c in criteria])),
            g.revised_levels,
            g.locked_at is not None,
        )
        for g in grades
    ]
    alpha = None
    if len(grades) >= MIN_RATERS:
        alpha = alpha_with_ci(
            np.array([[g.levels[c["id"]] for c in criteria] for g in grades], dtype=float)
        )
    return CalibrationReport(
        criteria=criteria,
        consensus=consensus,
        spread=spread,
        graders=graders,
        alpha=alpha,
        engine_deviation=engine_deviation(calibration.assessment, criteria, consensus)
        if grades
        else None,
    )


def locked_grades(session: Session, calibration: CalibrationSession) -> list[CalibrationGrade]:
    return list(
        session.scalars(
            select(CalibrationGrade)
            .where(CalibrationGrade.session_id == calibration.id)
            .options(selectinload(CalibrationGrade.grader))
            .order_by(CalibrationGrade.graded_at)
        )
    )


def consensus_level(grades: Sequence[CalibrationGrade], criterion: str) -> float:
    """The median of the graders' first locked levels (0 before anyone graded)."""
    return float(np.median([g.levels[criterion] for g in grades])) if grades else 0.0


def level_range(grades: Sequence[CalibrationGrade], criterion: str) -> tuple[int, int]:
    if not grades:
        return (0, 0)
    return (min(g.levels[criterion] for g in grades), max(g.levels[criterion] for g in grades))


def engine_deviation(
    assessment: Assessment, criteria: list[dict[str, Any]], consensus: dict[str, float]
) -> float | None:
    """How far the engine's suggestions were from the consensus, in levels on average."""
    suggested = {s["criterion"]: s["level"] for s in assessment.suggestions}
    engine = [
        abs(suggested[c["id"]] - consensus[c["id"]]) for c in criteria if c["id"] in suggested
    ]
    return float(np.mean(engine)) if engine else None


def calibration_deviations(session: Session, user_ids: Sequence[int]) -> dict[int, list[float]]:
    """Each grader's mean distance from the consensus, per closed session (for badges)."""
    out: dict[int, list[float]] = {uid: [] for uid in user_ids}
    closed = session.scalars(
        select(CalibrationSession)
        .join(CalibrationGrade, CalibrationGrade.session_id == CalibrationSession.id)
        .where(CalibrationGrade.grader_id.in_(user_ids), CalibrationSession.closed_at.is_not(None))
        .distinct()
    ).all()
    for calibration in closed:
        for row in calibration_report(session, calibration).graders:
            if row.grader.id in out:
                out[row.grader.id].append(row.mean_deviation)
    return out


def close_calibration(session: Session, calibration: CalibrationSession) -> None:
    """End the blind phase: the group's levels, the consensus and the agreement show."""
    if calibration.closed_at is None:
        calibration.closed_at = utcnow()
        session.flush()
        calibration_closed.send(session, calibration=calibration)
