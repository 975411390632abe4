"""Results over a period for one course context: agreement between graders in the closed
calibration sessions, agreement between the suggestion engine and the final grades, and the
cohort's final levels per skill. The statistics are ``assessments.agreement``'s; this module
reads the rows and names the steps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from assessments.agreement import (
    SCALE,
    Estimate,
    Grid,
    drift_from_consensus,
    grid_alpha,
    pair_kappas,
    paired_kappa,
    session_totals,
    totals_icc,
)
from assessments.models import Assessment, CalibrationGrade, CalibrationSession, Grade
from assessments.suggest import CRITERIA as CORE_CRITERIA
from people.models import User


@dataclass
class PairAgreement:
    first: User
    second: User
    kappa: Estimate


@dataclass
class AgreementReport:
    sessions: int
    alpha: Estimate | None
    pairs: list[PairAgreement]
    icc: Estimate | None
    drift: list[tuple[User, float, int]]  # grader, mean deviation, sessions
    engine: dict[str, Estimate]  # criterion -> suggested vs final grade
    distribution: dict[str, dict[int, int]]  # criterion -> level -> final grades


def agreement_report(
    session: Session, deployment_id: int, team_id: int, start: datetime, end: datetime
) -> AgreementReport:
    """Agreement between graders in the calibration sessions of a period, and between the
    suggestion engine and the final grades, for one course context. Only closed sessions
    count (an open one is still blind), and only each grader's first locked levels."""
    calibrations = closed_sessions(session, deployment_id, team_id, start, end)
    rows = first_locked_levels(session, calibrations)
    graders = sorted({r.grader_id: r.grader for r in rows}.values(), key=lambda u: u.display_name)
    raters = [g.id for g in graders]
    grid: Grid = levels_grid(rows, raters)
    criteria = {c.id: criterion_ids(c.assessment.rubric_version.definition) for c in calibrations}
    units = [(s, c) for s, ids in criteria.items() for c in ids]
    by_id = {g.id: g for g in graders}
    pairs = [PairAgreement(by_id[a], by_id[b], k) for a, b, k in pair_kappas(grid, raters, units)]
    drift = [
        (by_id[rater], mean, count)
        for rater, (mean, count) in drift_from_consensus(grid, raters, criteria).items()
    ]
    engine, distribution = engine_agreement(
        final_levels_with_suggestions(session, deployment_id, team_id, start, end)
    )
    return AgreementReport(
        len(calibrations),
        grid_alpha(grid, raters, units),
        pairs,
        totals_icc(session_totals(grid, raters, criteria), raters),
        drift,
        engine,
        distribution,
    )


def closed_sessions(
    session: Session, deployment_id: int, team_id: int, start: datetime, end: datetime
) -> list[CalibrationSession]:
    """The course context's calibration sessions started in the period and closed."""
    return list(
        session.scalars(
            select(CalibrationSession)
            .where(
                CalibrationSession.deployment_id == deployment_id,
                CalibrationSession.team_id == team_id,
                CalibrationSession.closed_at.is_not(None),
                CalibrationSession.created_at >= start,
                CalibrationSession.created_at < end,
            )
            .options(selectinload(CalibrationSession.assessment))
            .order_by(CalibrationSession.id)
        )
    )


def first_locked_levels(
    session: Session, calibrations: Sequence[CalibrationSession]
) -> list[CalibrationGrade]:
    return list(
        session.scalars(
            select(CalibrationGrade)
            .where(CalibrationGrade.session_id.in_([c.id for c in calibrations]))
            .options(selectinload(CalibrationGrade.grader))
        )
    )


def criterion_ids(definition: dict[str, Any]) -> list[str]:
    return [criterion["id"] for criterion in definition["criteria"]]


def levels_grid(rows: Sequence[CalibrationGrade], raters: Sequence[int]) -> Grid:
    """Grader -> (session, criterion) -> level, from the levels that count (the first
    locked ones: ``CalibrationGrade.levels``, never a revision)."""
    grid: dict[int, dict[tuple[int, str], int]] = {r: {} for r in raters}
    for row in rows:
        for criterion, level in row.levels.items():
            grid[row.grader_id][(row.session_id, criterion)] = level
    return grid


def final_levels_with_suggestions(
    session: Session, deployment_id: int, team_id: int, start: datetime, end: datetime
) -> list[tuple[list[dict[str, Any]], dict[str, int]]]:
    """The stored suggestions and the final levels of each grade given in the period."""
    return [
        (suggestions, levels)
        for suggestions, levels in session.execute(
            select(Assessment.suggestions, Grade.levels)
            .join(Grade, Grade.assessment_id == Assessment.id)
            .where(
                Assessment.deployment_id == deployment_id,
                Assessment.team_id == team_id,
                Grade.final.is_(True),
                Grade.graded_at >= start,
                Grade.graded_at < end,
            )
        )
    ]


def engine_agreement(
    graded: Sequence[tuple[list[dict[str, Any]], dict[str, int]]],
) -> tuple[dict[str, Estimate], dict[str, dict[int, int]]]:
    """Per core skill: the kappa between the suggested and the final level (when there are
    enough pairs), and how many final grades gave each level (graded with a suggestion)."""
    engine: dict[str, Estimate] = {}
    distribution: dict[str, dict[int, int]] = {c: dict.fromkeys(SCALE, 0) for c in CORE_CRITERIA}
    for criterion in CORE_CRITERIA:
        pairs = suggested_and_final(graded, criterion)
        for _, level in pairs:
            distribution[criterion][level] += 1
        kappa = paired_kappa(pairs)
        if kappa is not None:
            engine[criterion] = kappa
    return engine, distribution


def suggested_and_final(
    graded: Sequence[tuple[list[dict[str, Any]], dict[str, int]]], criterion: str
) -> list[tuple[int, int]]:
    """(suggested level, final level) of ``criterion`` in each grade that has both."""
    return [
        (next(s["level"] for s in suggestions if s["criterion"] == criterion), levels[criterion])
        for suggestions, levels in graded
        if criterion in levels and any(s["criterion"] == criterion for s in suggestions)
    ]
