"""Skill assessments: rubrics, transcripts uploaded by trainers, scenarios taken by learners,
suggestions, grading, results and the grade for the LMS. Plain functions over a session; the
caller commits once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from blinker import Namespace
from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy.orm import Session, defer, selectinload

from assessments.agreement import Estimate, bootstrap, icc_2_1, kappa_with_ci, krippendorff_alpha
from assessments.library import Scenario, builtin_rubric, scenarios
from assessments.models import (
    AWAITING,
    GRADED,
    IN_PROGRESS,
    SCENARIO,
    TRANSCRIPT,
    Assessment,
    AssessmentEvent,
    CalibrationGrade,
    CalibrationSession,
    Dispute,
    Grade,
    QuizAttempt,
    Rubric,
    RubricVersion,
)
from assessments.quizzes import (
    ItemStat,
    QuizResult,
    cronbach_alpha,
    item_analysis,
    mark_quiz,
    quizzes,
)
from assessments.suggest import CRITERIA as CORE_CRITERIA
from assessments.suggest import suggest
from assessments.transcripts import Transcript, TranscriptInvalid, parse
from core.db import utcnow
from lms.grades import FULLY_GRADED, PENDING_MANUAL, enqueue_score, gradebook_available
from people.models import Membership, User

signals = Namespace()
# Sent when a final grade is written (same transaction): badges for skill levels listen.
assessment_graded = signals.signal("assessment-graded")

MAX_FILES = 20
MAX_REPLY = 2000


class AssessmentError(ValueError):
    """A request the rules refuse; the message is safe to show."""


# -- rubrics ---------------------------------------------------------------------------------


def ensure_builtin_rubric(session: Session) -> RubricVersion:
    definition = builtin_rubric()
    rubric = session.scalar(select(Rubric).where(Rubric.slug == definition["slug"]))
    if rubric is None:
        rubric = Rubric(slug=definition["slug"], name=definition["name"], current_version=1)
        session.add(rubric)
        session.flush()
        session.add(RubricVersion(rubric_id=rubric.id, version=1, definition=definition))
        session.flush()
    return current_version(session, rubric)


def current_version(session: Session, rubric: Rubric) -> RubricVersion:
    version = session.scalar(
        select(RubricVersion).where(
            RubricVersion.rubric_id == rubric.id, RubricVersion.version == rubric.current_version
        )
    )
    assert version is not None
    return version


def rubric_levels(definition: dict[str, Any], levels: dict[str, int | None]) -> dict[str, int]:
    """A level of the rubric for every criterion, or ``AssessmentError`` naming the first
    criterion without one."""
    allowed = {int(k) for k in definition["levels"]}
    clean: dict[str, int] = {}
    for criterion in definition["criteria"]:
        value = levels.get(criterion["id"])
        if value not in allowed:
            raise AssessmentError(f"Choose a level for {criterion['name']}.")
        clean[criterion["id"]] = int(value)  # type: ignore[arg-type]
    return clean


def score_percent(definition: dict[str, Any], levels: dict[str, int]) -> float:
    """The weighted score in percent: level 1 counts 0, level 4 counts 100."""
    total = sum(c["weight"] for c in definition["criteria"])
    points = sum(c["weight"] * (levels[c["id"]] - 1) / 3 for c in definition["criteria"])
    return round(100 * points / total, 1) if total else 0.0


def _suggestions(transcript: Transcript) -> list[dict[str, Any]]:
    return [
        {
            "criterion": s.criterion,
            "level": s.level,
            "reasons": s.reasons,
            "evidence": [asdict(e) for e in s.evidence],
        }
        for s in suggest(transcript)
    ]


def _member(session: Session, user_id: int, team_id: int) -> User:
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


# -- transcripts (trainers) ------------------------------------------------------------------


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
    learner = _member(session, learner_id, team_id)
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
    created = []
    for name, transcript in parsed:
        assessment = Assessment(
            platform_id=learner.platform_id, deployment_id=deployment_id, team_id=team_id,
            learner_id=learner.id, kind=TRANSCRIPT, title=name[:200],
            rubric_version_id=version.id, channel=transcript.channel,
            conversation=transcript.to_json(), suggestions=_suggestions(transcript),
            status=AWAITING, created_by_id=trainer.id, submitted_at=utcnow(),
        )  # fmt: skip
        session.add(assessment)
        created.append(assessment)
    session.flush()
    return created


class UploadRefused(Exception):
    def __init__(self, problems: list[TranscriptInvalid]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


# -- scenarios (learners) --------------------------------------------------------------------


def scenario_or_error(scenario_id: str) -> Scenario:
    found = scenarios().get(scenario_id)
    if found is None:
        raise AssessmentError("There is no such scenario.")
    return found


def start_scenario(
    session: Session,
    learner: User,
    scenario_id: str,
    *,
    deployment_id: int,
    team_id: int | None,
    resource_link_id: int | None,
) -> Assessment:
    """Begin (or resume) a scenario: the first customer message waits for a reply."""
    if learner.opted_in_at is None:
        raise AssessmentError("Join the programme before taking an assessment.")
    scenario = scenario_or_error(scenario_id)
    open_one = session.scalar(
        select(Assessment).where(
            Assessment.learner_id == learner.id,
            Assessment.scenario == scenario.id,
            Assessment.status == IN_PROGRESS,
        )
    )
    if open_one is not None:
        return open_one
    version = rubric_for_platform(session, learner.platform_id)
    assessment = Assessment(
        platform_id=learner.platform_id, deployment_id=deployment_id, team_id=team_id,
        learner_id=learner.id, kind=SCENARIO, scenario=scenario.id, title=scenario.title,
        rubric_version_id=version.id, channel=scenario.channel,
        conversation={"turns": [{"speaker": "customer", "text": scenario.turns[0]}]},
        status=IN_PROGRESS, resource_link_id=resource_link_id,
    )  # fmt: skip
    session.add(assessment)
    session.flush()
    return assessment


def reply(session: Session, assessment: Assessment, learner: User, text: str) -> Assessment:
    """The learner's reply to the customer's latest message; after the last one the
    conversation goes to the grading queue."""
    if assessment.learner_id != learner.id:
        raise AssessmentError("This is not your assessment.")
    if assessment.status != IN_PROGRESS:
        raise AssessmentError("This scenario is finished; your replies were sent for grading.")
    text = text.strip()
    if len(text) < 2:
        raise AssessmentError("Write your reply to the customer.")
    if len(text) > MAX_REPLY:
        raise AssessmentError(f"Keep each reply under {MAX_REPLY} characters.")
    scenario = scenario_or_error(assessment.scenario or "")
    turns = list(assessment.conversation["turns"])
    if turns[-1]["speaker"] != "customer":
        raise AssessmentError("Wait for the customer's next message.")
    turns.append({"speaker": "agent", "text": text})
    answered = sum(1 for t in turns if t["speaker"] == "agent")
    if answered < len(scenario.turns):
        turns.append({"speaker": "customer", "text": scenario.turns[answered]})
    assessment.conversation = {"turns": turns}
    if answered >= len(scenario.turns):
        assessment.status = AWAITING
        assessment.submitted_at = utcnow()
        assessment.suggestions = _suggestions(
            Transcript.from_json({"turns": turns, "channel": assessment.channel})
        )
        _send_grade(session, assessment, pending=True)
    session.flush()
    return assessment


# -- grading ---------------------------------------------------------------------------------


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
        assessment_id=assessment.id, grader_id=grader.id, levels=clean,
        changed=[c for c, level in clean.items() if suggested.get(c) not in (None, level)],
        comment=comment.strip()[:4000], score_percent=score_percent(definition, clean),
    )  # fmt: skip
    session.add(result)
    assessment.status = GRADED
    session.flush()
    _send_grade(session, assessment, pending=False, result=result)
    assessment_graded.send(session, assessment=assessment, grade=result)
    return result


def _send_grade(
    session: Session, assessment: Assessment, *, pending: bool, result: Grade | None = None
) -> None:
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


def queue(
    session: Session, deployment_id: int, team_id: int | None, skill: str = "", learner_id: int = 0
) -> list[Assessment]:
    """Conversations of this course context waiting for a grade, oldest first."""
    if team_id is None:
        return []
    query = (
        select(Assessment)
        .where(
            Assessment.deployment_id == deployment_id,
            Assessment.team_id == team_id,
            Assessment.status == AWAITING,
        )
        # The list shows who, what and when: the conversations and suggestions (JSON, the
        # bulk of each row) are not read, and touching them here raises instead of a query each.
        .options(
            selectinload(Assessment.learner),
            defer(Assessment.conversation, raiseload=True),
            defer(Assessment.suggestions, raiseload=True),
        )
        .order_by(Assessment.submitted_at)
    )
    if learner_id:
        query = query.where(Assessment.learner_id == learner_id)
    found = list(session.scalars(query))
    return [a for a in found if about_skill(a, skill)]


def next_waiting(session: Session, deployment_id: int, team_id: int | None) -> int | None:
    """The oldest conversation of this course context waiting for a grade (one id, for the
    trainer's "save and open the next")."""
    if team_id is None:
        return None
    return session.scalar(
        select(Assessment.id)
        .where(
            Assessment.deployment_id == deployment_id,
            Assessment.team_id == team_id,
            Assessment.status == AWAITING,
        )
        .order_by(Assessment.submitted_at)
        .limit(1)
    )


def about_skill(assessment: Assessment, skill: str) -> bool:
    """Whether a conversation is graded on ``skill`` ("" = any): a transcript on every skill,
    a scenario on its focus skills."""
    if not skill or assessment.kind == TRANSCRIPT:
        return True
    return skill in scenarios()[assessment.scenario or ""].focus


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


# -- rubric editing --------------------------------------------------------------------------

RUBRIC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "target_level", "levels", "criteria"],
    "properties": {
        "name": {"type": "string", "minLength": 3, "maxLength": 120},
        "target_level": {"type": "integer", "minimum": 1, "maximum": 4},
        "levels": {
            "type": "object",
            "required": ["1", "2", "3", "4"],
            "additionalProperties": False,
            "patternProperties": {"^[1-4]$": {"type": "string", "minLength": 2, "maxLength": 40}},
        },
        "criteria": {
            "type": "array",
            "minItems": 5,
            "maxItems": 8,
            "items": {
                "type": "object",
                "required": ["id", "name", "weight", "levels"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,39}$"},
                    "name": {"type": "string", "minLength": 2, "maxLength": 60},
                    "weight": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                    "levels": {
                        "type": "object",
                        "required": ["1", "2", "3", "4"],
                        "patternProperties": {
                            "^[1-4]$": {"type": "string", "minLength": 5, "maxLength": 500}
                        },
                    },
                },
            },
        },
    },
}


def rubric_for_platform(session: Session, platform_id: int) -> RubricVersion:
    """The rubric new assessments of this LMS use: its own most recently saved one, else the
    built-in rubric."""
    own = session.scalar(
        select(Rubric)
        .where(Rubric.platform_id == platform_id)
        .order_by(Rubric.updated_at.desc(), Rubric.id.desc())
        .limit(1)
    )
    return current_version(session, own) if own is not None else ensure_builtin_rubric(session)


def rubrics_for_platform(session: Session, platform_id: int) -> list[Rubric]:
    ensure_builtin_rubric(session)
    return list(
        session.scalars(
            select(Rubric)
            .where((Rubric.platform_id == platform_id) | Rubric.platform_id.is_(None))
            .order_by(Rubric.platform_id.is_(None), Rubric.name)
        )
    )


def save_rubric(
    session: Session,
    *,
    platform_id: int,
    editor: User,
    rubric: Rubric | None,
    definition: dict[str, Any],
) -> RubricVersion:
    """Save a rubric as a new version. Editing the built-in rubric makes this LMS's own copy;
    versions already used by grades never change."""
    errors = sorted(
        Draft202012Validator(RUBRIC_SCHEMA).iter_errors(definition), key=lambda e: list(e.path)
    )
    if errors:
        where = ".".join(str(p) for p in errors[0].absolute_path)
        raise AssessmentError(f"{where}: {errors[0].message}" if where else errors[0].message)
    ids = [c["id"] for c in definition["criteria"]]
    if len(set(ids)) != len(ids):
        raise AssessmentError("Two criteria have the same name.")
    missing = [c for c in CORE_CRITERIA if c not in ids]
    if missing:
        raise AssessmentError(
            f"The rubric must keep the five service skills (missing: {', '.join(missing)})."
        )
    if rubric is None or rubric.platform_id is None:
        rubric = Rubric(
            slug=f"p{platform_id}-{uuid.uuid4().hex[:10]}", platform_id=platform_id,
            name=definition["name"], current_version=0,
        )  # fmt: skip
        session.add(rubric)
        session.flush()
    elif rubric.platform_id != platform_id:
        raise AssessmentError("There is no such rubric.")
    rubric.current_version += 1
    rubric.name = definition["name"]
    rubric.updated_at = utcnow()
    version = RubricVersion(
        rubric_id=rubric.id, version=rubric.current_version, definition=definition,
        created_by_id=editor.id,
    )  # fmt: skip
    session.add(version)
    session.flush()
    return version


# -- calibration -----------------------------------------------------------------------------

DRIFT = 0.75  # mean levels away from the consensus that flags a grader


def start_calibration(
    session: Session, assessment: Assessment, trainer: User
) -> CalibrationSession:
    if assessment.team_id is None:
        raise AssessmentError("Calibrate a conversation of a course context.")
    calibration = CalibrationSession(
        platform_id=assessment.platform_id, deployment_id=assessment.deployment_id,
        team_id=assessment.team_id, assessment_id=assessment.id, created_by_id=trainer.id,
    )  # fmt: skip
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
            session_id=calibration.id, grader_id=grader.id, levels=clean, graded_at=now,
            locked_at=now,
        )  # fmt: skip
        session.add(existing)
    elif existing.locked_at is not None:
        raise AssessmentError(
            "Your levels are locked. To change one, ask the trainer running this session to "
            "reopen your levels."
        )
    else:
        session.add(AssessmentEvent(
            assessment_id=calibration.assessment_id, calibration_id=calibration.id,
            action="calibration_revised", actor_id=grader.id, subject_id=grader.id,
            detail={"first": existing.levels, "before": existing.revised_levels, "after": clean},
        ))  # fmt: skip
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
    session.add(AssessmentEvent(
        assessment_id=calibration.assessment_id, calibration_id=calibration.id,
        action="calibration_reopened", actor_id=trainer.id, actor_role=role,
        subject_id=grader_id, reason=reason[:1000],
    ))  # fmt: skip
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
    definition = calibration.assessment.rubric_version.definition
    criteria = definition["criteria"]
    grades = list(
        session.scalars(
            select(CalibrationGrade)
            .where(CalibrationGrade.session_id == calibration.id)
            .options(selectinload(CalibrationGrade.grader))
            .order_by(CalibrationGrade.graded_at)
        )
    )
    consensus = {
        c["id"]: float(np.median([g.levels[c["id"]] for g in grades])) if grades else 0.0
        for c in criteria
    }
    spread = {
        c["id"]: (min(g.levels[c["id"]] for g in grades), max(g.levels[c["id"]] for g in grades))
        if grades else (0, 0)
        for c in criteria
    }  # fmt: skip
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
    if len(grades) >= 2:
        matrix = np.array([[g.levels[c["id"]] for c in criteria] for g in grades], dtype=float)
        alpha = bootstrap(
            lambda columns: krippendorff_alpha(columns.T.tolist()), matrix.T, resamples=500
        )
    suggested = {s["criterion"]: s["level"] for s in calibration.assessment.suggestions}
    engine = [
        abs(suggested[c["id"]] - consensus[c["id"]]) for c in criteria if c["id"] in suggested
    ]
    return CalibrationReport(
        criteria=criteria, consensus=consensus, spread=spread, graders=graders, alpha=alpha,
        engine_deviation=float(np.mean(engine)) if engine and grades else None,
    )  # fmt: skip


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
    if calibration.closed_at is None:
        calibration.closed_at = utcnow()
        session.flush()
        calibration_closed.send(session, calibration=calibration)


calibration_closed = signals.signal("calibration-closed")


# -- disputes --------------------------------------------------------------------------------

DISPUTE_LIMIT = 1000


def open_dispute(session: Session, assessment: Assessment, learner: User, reason: str) -> Dispute:
    if assessment.learner_id != learner.id:
        raise AssessmentError("You can dispute only your own results.")
    if assessment.status != GRADED:
        raise AssessmentError("Only a graded assessment can be disputed.")
    reason = reason.strip()
    if len(reason) < 10:
        raise AssessmentError("Say why you think the grade is wrong (at least a sentence).")
    if len(reason) > DISPUTE_LIMIT:
        raise AssessmentError(f"Keep the reason under {DISPUTE_LIMIT} characters.")
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
DISPUTE_DECIDER_ROLES = frozenset({"trainer"})


class DecisionRefused(AssessmentError):
    """The person may read the dispute but the rule does not let them decide it."""


def may_decide_dispute(role: str) -> bool:
    return role in DISPUTE_DECIDER_ROLES


def review_dispute(
    session: Session,
    dispute: Dispute,
    reviewer: User,
    levels: dict[str, int | None],
    note: str,
    role: str = "trainer",
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
        assessment_id=dispute.assessment_id, grader_id=reviewer.id, levels=clean,
        changed=[c for c in clean if clean[c] != original.levels.get(c)],
        comment=note.strip()[:4000], score_percent=score_percent(definition, clean),
        final=False,
    )  # fmt: skip
    session.add(review)
    session.flush()
    dispute.reviewer_id, dispute.review_grade_id = reviewer.id, review.id
    dispute.note, dispute.resolved_at = note.strip()[:4000], utcnow()
    if clean != original.levels:
        original.final, review.final = False, True
        dispute.outcome = "changed"
        session.flush()
        _send_grade(session, dispute.assessment, pending=False, result=review)
        assessment_graded.send(session, assessment=dispute.assessment, grade=review)
    else:
        dispute.outcome = "upheld"
    session.add(AssessmentEvent(
        assessment_id=dispute.assessment_id, dispute_id=dispute.id, action="dispute_decided",
        actor_id=reviewer.id, actor_role=role, subject_id=original.grader_id,
        detail={"outcome": dispute.outcome, "original_grade_id": original.id,
                "review_grade_id": review.id},
    ))  # fmt: skip
    session.flush()
    return dispute


def dispute_of(session: Session, assessment_id: int) -> Dispute | None:
    return session.scalar(select(Dispute).where(Dispute.assessment_id == assessment_id))


# -- closing the loop ------------------------------------------------------------------------

SKILLS_COURSE = "skills-of-great-service"
SKILL_MODULES = {
    "empathy": "empathy",
    "active_listening": "active-listening",
    "patience": "patience",
    "positive_language": "positive-language",
    "adaptability": "adaptability",
}


@dataclass
class Practice:
    """A skill below target in two assessments in a row, and the module that teaches it."""

    criterion: str
    below: tuple[int, int]  # the two levels that made the suggestion
    since: list[int]  # levels graded after them, oldest first
    module: str
    target: int  # the target of the latest rubric version this skill was graded with
    # Each later level's own target (its rubric version's), to say whether it was reached.
    since_targets: list[int] = field(default_factory=list)

    @property
    def reached_target(self) -> bool:
        targets = self.since_targets or [self.target] * len(self.since)
        return any(level >= t for level, t in zip(self.since, targets, strict=True))

    @property
    def rose(self) -> bool:
        return bool(self.since) and max(self.since) > max(self.below)


def criterion_targets(definition: dict[str, Any]) -> dict[str, int]:
    """Each criterion's target level in a rubric version: its own ``target_level`` if it has
    one, else the rubric's."""
    default = int(definition.get("target_level", 3))
    return {c["id"]: int(c.get("target_level", default)) for c in definition["criteria"]}


def skill_history(session: Session, learner_id: int) -> dict[str, list[tuple[int, int]]]:
    """The learner's final graded levels per criterion, oldest first, each with the target of
    the rubric version it was graded under (rubrics change; a level means what its version
    asked for)."""
    history: dict[str, list[tuple[int, int]]] = {}
    for levels, definition in session.execute(
        select(Grade.levels, RubricVersion.definition)
        .join(Assessment, Assessment.id == Grade.assessment_id)
        .join(RubricVersion, RubricVersion.id == Assessment.rubric_version_id)
        .where(Assessment.learner_id == learner_id, Grade.final.is_(True))
        .order_by(Grade.graded_at, Grade.id)
    ):
        targets = criterion_targets(definition)
        for criterion, level in levels.items():
            history.setdefault(criterion, []).append((int(level), targets.get(criterion, 3)))
    return history


def practice_suggestions(session: Session, learner_id: int) -> list[Practice]:
    """When a skill stays below its target in two assessments in a row, suggest the matching
    module of the skills course (a suggestion only: nobody is enrolled), and show the levels
    graded since, so the learner and trainer see whether it rose. Each level is compared with
    the target of the rubric version it was graded under."""
    history = skill_history(session, learner_id)
    out = []
    for criterion, module in SKILL_MODULES.items():
        graded = history.get(criterion, [])
        for i in range(1, len(graded)):
            (first, first_target), (second, second_target) = graded[i - 1], graded[i]
            if first < first_target and second < second_target:
                later = graded[i + 1 :]
                out.append(
                    Practice(
                        criterion, (first, second), [level for level, _ in later], module,
                        graded[-1][1], [target for _, target in later],
                    )
                )  # fmt: skip
                break
    return out


# -- results and agreement over a period -----------------------------------------------------


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
    session: Session, deployment_id: int, team_id: int, start: Any, end: Any
) -> AgreementReport:
    """Agreement between graders in the calibration sessions of a period, and between the
    suggestion engine and the final grades, for one course context. Only closed sessions
    count (an open one is still blind), and only each grader's first locked levels."""
    calibrations = list(
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
    rows = list(
        session.scalars(
            select(CalibrationGrade)
            .where(CalibrationGrade.session_id.in_([c.id for c in calibrations]))
            .options(selectinload(CalibrationGrade.grader))
        )
    )
    graders = sorted({r.grader_id: r.grader for r in rows}.values(), key=lambda u: u.display_name)
    units: list[tuple[int, str]] = []
    for calibration in calibrations:
        for criterion in calibration.assessment.rubric_version.definition["criteria"]:
            units.append((calibration.id, criterion["id"]))
    by_grader = {g.id: {} for g in graders}  # type: dict[int, dict[tuple[int, str], int]]
    for row in rows:
        for criterion, level in row.levels.items():
            by_grader[row.grader_id][(row.session_id, criterion)] = level
    alpha = None
    if len(graders) >= 2 and units:
        data = np.array(
            [[by_grader[g.id].get(u, np.nan) for u in units] for g in graders], dtype=float
        )
        alpha = bootstrap(lambda cols: krippendorff_alpha(cols.T.tolist()), data.T, resamples=500)
    pairs = []
    for i, first in enumerate(graders):
        for second in graders[i + 1 :]:
            shared = [u for u in units if u in by_grader[first.id] and u in by_grader[second.id]]
            if len(shared) >= 5:
                a = [by_grader[first.id][u] for u in shared]
                b = [by_grader[second.id][u] for u in shared]
                pairs.append(
                    PairAgreement(first, second, kappa_with_ci(a, b, [1, 2, 3, 4], resamples=500))
                )
    totals = [
        [sum(by_grader[g.id].get((c.id, k), 0) for k in {u[1] for u in units if u[0] == c.id})
         for g in graders]
        for c in calibrations
        if all(any(u[0] == c.id and u in by_grader[g.id] for u in units) for g in graders)
    ]  # fmt: skip
    icc = None
    if len(totals) >= 3 and len(graders) >= 2:
        icc = bootstrap(icc_2_1, np.array(totals, dtype=float), resamples=500)
    drift = []
    for grader in graders:
        deviations = []
        for calibration in calibrations:
            mine = [u for u in units if u[0] == calibration.id and u in by_grader[grader.id]]
            if not mine:
                continue
            others = [
                float(np.median([by_grader[g.id][u] for g in graders if u in by_grader[g.id]]))
                for u in mine
            ]
            deviations.append(
                np.mean(
                    [abs(by_grader[grader.id][u] - o) for u, o in zip(mine, others, strict=True)]
                )
            )
        if deviations:
            drift.append((grader, float(np.mean(deviations)), len(deviations)))
    graded = list(
        session.execute(
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
    )
    engine: dict[str, Estimate] = {}
    distribution: dict[str, dict[int, int]] = {
        c: dict.fromkeys((1, 2, 3, 4), 0) for c in CORE_CRITERIA
    }
    for criterion in CORE_CRITERIA:
        pairs_ = [
            (next(s["level"] for s in sug if s["criterion"] == criterion), levels[criterion])
            for sug, levels in graded
            if criterion in levels and any(s["criterion"] == criterion for s in sug)
        ]
        for _, level in pairs_:
            distribution[criterion][level] += 1
        if len(pairs_) >= 5:
            engine[criterion] = kappa_with_ci(
                [p[0] for p in pairs_], [p[1] for p in pairs_], [1, 2, 3, 4], resamples=500
            )
    return AgreementReport(len(calibrations), alpha, pairs, icc, drift, engine, distribution)


# -- quizzes ---------------------------------------------------------------------------------


def submit_quiz(
    session: Session,
    learner: User,
    quiz_id: str,
    form: dict[str, list[str]],
    *,
    deployment_id: int,
    team_id: int | None,
    resource_link_id: int | None,
    secret: str | bytes,
) -> tuple[QuizResult, QuizAttempt | None]:
    """Mark a quiz on the server (``form``: the whole submitted form, read under the seal it
    was rendered with, ``secret`` being the server's) and record the attempt; the LMS gets the
    best score."""
    if learner.opted_in_at is None:
        raise AssessmentError("Join the programme before taking a quiz.")
    quiz = quizzes().get(quiz_id)
    if quiz is None:
        raise AssessmentError("There is no such quiz.")
    result = mark_quiz(quiz, form, secret)
    if result.errors:
        return result, None
    attempt = QuizAttempt(
        platform_id=learner.platform_id, deployment_id=deployment_id, team_id=team_id,
        learner_id=learner.id, quiz=quiz_id,
        answers=result.given,
        scores=result.scores, percent=result.percent,
    )  # fmt: skip
    session.add(attempt)
    session.flush()
    if resource_link_id is not None and gradebook_available(session, resource_link_id):
        best = max(
            session.scalars(
                select(QuizAttempt.percent).where(
                    QuizAttempt.learner_id == learner.id, QuizAttempt.quiz == quiz_id
                )
            )
        )
        enqueue_score(
            session, user_id=learner.id, resource_link_id=resource_link_id, score_given=best,
            score_maximum=100.0, comment=f"Best of your attempts at {quiz['title']}.",
        )  # fmt: skip
    return result, attempt


@dataclass
class QuizReport:
    attempts: int
    items: list[ItemStat]
    alpha: float | None


def quiz_report(
    session: Session, deployment_id: int, team_id: int | None, quiz_id: str
) -> QuizReport:
    """Item analysis over each person's first attempt in this course context."""
    quiz = quizzes()[quiz_id]
    first: dict[int, QuizAttempt] = {}
    if team_id is not None:
        for attempt in session.scalars(
            select(QuizAttempt)
            .where(
                QuizAttempt.deployment_id == deployment_id,
                QuizAttempt.team_id == team_id,
                QuizAttempt.quiz == quiz_id,
            )
            .order_by(QuizAttempt.id)
        ):
            first.setdefault(attempt.learner_id, attempt)
    ids = [q["id"] for q in quiz["questions"]]
    matrix = np.array([[a.scores.get(i, 0.0) for i in ids] for a in first.values()], dtype=float)
    if not first:
        return QuizReport(0, [ItemStat(i, 0.0, None) for i in ids], None)
    return QuizReport(len(first), item_analysis(ids, matrix), cronbach_alpha(matrix))
