"""Each LMS (tenant) learns from its own graders: every final grade given after a suggestion is
a labelled example for that tenant only. Once a tenant has ``MINIMUM`` graded conversations,
``retrain`` refits its model on top of the built-in one (``assessments.suggest_training``) and
keeps every version; the current version's agreement with the tenant's graders is measured
out of sample (k-fold: each conversation predicted by a refit that did not see it).

**No tenant's data ever trains another tenant's model**: ``graded_examples`` reads one
platform's assessments only, and a version belongs to one platform.

A skill whose out-of-sample kappa is below the tenant's threshold (``SuggestionSettings``,
default 0.4) is *low confidence*: its suggestion is shown but not pre-selected. Before a
tenant's first refit the built-in model's cross-validated kappa stands in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from assessments.agreement import Estimate, paired_kappa
from assessments.models import Assessment, Grade
from assessments.suggest_model import Model, builtin_model
from assessments.transcripts import Transcript
from core.db import Base, utcnow
from people.models import PlatformRow, platform_key

MINIMUM = 50  # graded conversations before a tenant's first refit
REFIT_EVERY = 25  # new graded conversations before the next automatic refit
DEFAULT_THRESHOLD = 0.4


class SuggestionModel(PlatformRow, Base):
    """One fitted version of a tenant's suggestion model (never changed once written)."""

    __tablename__ = "suggestion_models"
    __table_args__ = (UniqueConstraint("platform_id", "version"),)

    version: Mapped[int] = mapped_column()
    conversations: Mapped[int] = mapped_column()
    # assessments.suggest_model.Model.to_json()
    model: Mapped[dict[str, Any]] = mapped_column(JSON)
    # skill -> {"n", "qwk" (this version, out of sample), "builtin_qwk" (same conversations)}
    agreement: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SuggestionSettings(Base):
    """A tenant's trainers' choice: below which kappa a skill's suggestion is not pre-selected."""

    __tablename__ = "suggestion_settings"

    platform_id: Mapped[int] = platform_key(primary_key=True)
    low_confidence_qwk: Mapped[float] = mapped_column(default=DEFAULT_THRESHOLD)


def graded_examples(session: Session, platform_id: int) -> list[tuple[Transcript, dict[str, int]]]:
    """This tenant's final grades with their conversations (text removed by retention is
    skipped), oldest first."""
    rows = session.execute(
        select(Assessment.conversation, Assessment.channel, Grade.levels)
        .join(Grade, Grade.assessment_id == Assessment.id)
        .where(Assessment.platform_id == platform_id, Grade.final.is_(True))
        .order_by(Grade.graded_at, Grade.id)
    )
    out = []
    for conversation, channel, levels in rows:
        turns = conversation.get("turns") or []
        if not any(t.get("speaker") == "agent" for t in turns):
            continue
        transcript = Transcript.from_json({"turns": turns, "channel": channel or "chat"})
        out.append((transcript, dict(levels)))
    return out


def latest_version(session: Session, platform_id: int) -> SuggestionModel | None:
    return session.scalar(
        select(SuggestionModel)
        .where(SuggestionModel.platform_id == platform_id)
        .order_by(SuggestionModel.version.desc())
        .limit(1)
    )


def current_model(session: Session, platform_id: int) -> Model:
    """The tenant's latest refit, else the built-in model."""
    version = latest_version(session, platform_id)
    return Model.from_json(version.model) if version is not None else builtin_model()


def threshold(session: Session, platform_id: int) -> float:
    settings = session.get(SuggestionSettings, platform_id)
    return settings.low_confidence_qwk if settings is not None else DEFAULT_THRESHOLD


def set_threshold(session: Session, platform_id: int, value: float) -> None:
    if not 0 <= value <= 1:
        raise ValueError("the threshold is a kappa between 0 and 1")
    settings = session.get(SuggestionSettings, platform_id)
    if settings is None:
        session.add(SuggestionSettings(platform_id=platform_id, low_confidence_qwk=value))
    else:
        settings.low_confidence_qwk = value
    session.flush()


@dataclass(frozen=True)
class CurrentModel:
    """The model that suggests levels for one tenant now, with how far each skill can be
    trusted: the tenant's latest refit and its out-of-sample kappa with the tenant's own
    graders, else the built-in model and its cross-validated kappa on the labelled corpus
    (the only measure there is before the tenant has grades of its own)."""

    model: Model
    version: int | None  # None: the built-in model
    agreement: dict[str, float]  # skill -> quadratic-weighted kappa
    threshold: float

    @property
    def label(self) -> str:
        return "built-in" if self.version is None else f"version {self.version}"

    def low_confidence(self, skill: str) -> bool:
        # A skill with no measure at all is not flagged: nothing says it is worse.
        kappa = self.agreement.get(skill)
        return kappa is not None and kappa < self.threshold

    def note(self, skill: str) -> str:
        """Why a skill is low confidence, in the grading page's words."""
        kappa = self.agreement.get(skill)
        if kappa is None:
            return ""
        whose = "your graders" if self.version is not None else "the labelled corpus"
        return f"low confidence: agreement with {whose} {kappa:.2f}"


def builtin_agreement(model: Model | None = None) -> dict[str, float]:
    """The built-in model's nested cross-validated kappa per skill, as recorded with it by
    ``flask assessments suggestions train``."""
    about = (model or builtin_model()).about
    return {skill: float(k) for skill, k in about.get("cv_qwk", {}).items()}


def current_suggestion_model(session: Session, platform_id: int) -> CurrentModel:
    """What suggests levels for this tenant now (its latest refit, else the built-in model),
    with the agreement and threshold that decide which skills are low confidence."""
    version = latest_version(session, platform_id)
    floor = threshold(session, platform_id)
    if version is None:
        return CurrentModel(builtin_model(), None, builtin_agreement(), floor)
    kappas = {skill: float(a["qwk"]) for skill, a in version.agreement.items()}
    return CurrentModel(Model.from_json(version.model), version.version, kappas, floor)


def low_confidence(session: Session, platform_id: int) -> set[str]:
    """Skills whose suggestions this tenant's grading page does not pre-select now."""
    current = current_suggestion_model(session, platform_id)
    return {skill for skill in current.agreement if current.low_confidence(skill)}


@dataclass(frozen=True)
class SkillTrust:
    """One skill's row of the results page: how the current model agrees with this tenant's
    graders on grades it was not fitted on."""

    skill: str
    kappa: float | None  # the current model's out-of-sample (tenant) or cross-validated kappa
    n: int  # graded conversations behind ``kappa`` (0: the labelled corpus)
    builtin_kappa: float | None  # the built-in model on the same graded conversations
    low_confidence: bool
    since: Estimate | None  # suggestions this model made, against the final grades given since


@dataclass(frozen=True)
class TrustReport:
    current: CurrentModel
    fitted_on: int  # the tenant's graded conversations the current version was fitted on
    skills: list[SkillTrust]


def trust_report(session: Session, platform_id: int) -> TrustReport:
    """Per skill, how far this tenant's current suggestion model agrees with its graders out
    of sample: the k-fold kappa kept with the version (each graded conversation predicted by
    a refit that did not see it), and the suggestions this very model made against the final
    grades given later, which it was never fitted on. For the built-in model, its
    cross-validated kappa on the corpus and the same later grades."""
    current = current_suggestion_model(session, platform_id)
    version = latest_version(session, platform_id)
    stored = version.agreement if version is not None else {}
    since = suggested_since(session, platform_id, current.label)
    skills = [
        SkillTrust(
            skill,
            current.agreement.get(skill),
            int(stored.get(skill, {}).get("n", 0)),
            stored.get(skill, {}).get("builtin_qwk"),
            current.low_confidence(skill),
            paired_kappa(since.get(skill, [])),
        )
        for skill in current.model.skills
    ]
    return TrustReport(current, version.conversations if version is not None else 0, skills)


def suggested_since(
    session: Session, platform_id: int, label: str
) -> dict[str, list[tuple[int, int]]]:
    """(suggested, final) levels per skill of this tenant's final grades whose suggestion was
    made by the model ``label`` (stored with each suggestion): conversations that model was
    not fitted on, since a version is fitted only on grades given before it existed."""
    pairs: dict[str, list[tuple[int, int]]] = {}
    for suggestions, levels in session.execute(
        select(Assessment.suggestions, Grade.levels)
        .join(Grade, Grade.assessment_id == Assessment.id)
        .where(Assessment.platform_id == platform_id, Grade.final.is_(True))
    ):
        for s in suggestions or []:
            if s.get("model") == label and s["criterion"] in levels:
                pairs.setdefault(s["criterion"], []).append((s["level"], levels[s["criterion"]]))
    return pairs


def retrain(
    session: Session, platform_id: int, *, minimum: int = MINIMUM
) -> SuggestionModel | None:
    """Refit this tenant's model on its own final grades (None below ``minimum``)."""
    from assessments.suggest_training import out_of_sample, refit_on_top

    examples = graded_examples(session, platform_id)
    if len(examples) < minimum:
        return None
    transcripts = [t for t, _ in examples]
    grades = [g for _, g in examples]
    base = builtin_model()
    previous = latest_version(session, platform_id)
    number = previous.version + 1 if previous is not None else 1
    model = refit_on_top(base, transcripts, grades, f"platform {platform_id} v{number}")
    version = SuggestionModel(
        platform_id=platform_id,
        version=number,
        conversations=len(examples),
        model=model.to_json(),
        agreement=out_of_sample(base, transcripts, grades),
    )
    session.add(version)
    session.flush()
    return version


def retrain_due(session: Session, platform_id: int) -> bool:
    """Enough new grades since the last version (or for a first one)."""
    graded = session.scalar(
        select(func.count())
        .select_from(Grade)
        .join(Assessment, Assessment.id == Grade.assessment_id)
        .where(Assessment.platform_id == platform_id, Grade.final.is_(True))
    )
    previous = latest_version(session, platform_id)
    if previous is None:
        return (graded or 0) >= MINIMUM
    return (graded or 0) >= previous.conversations + REFIT_EVERY


RETRAIN_JOB = "suggestions-retrain"


def retrain_job(session: Session, job: Any, progress: Any) -> Any:
    """The worker's job: refit the job's tenant (queued by ``queue_retrain_when_due``)."""
    from core.jobs import Outcome

    version = retrain(session, job.platform_id)
    session.commit()
    if version is None:
        return Outcome("Not enough graded conversations yet.")
    return Outcome(
        f"Suggestion model version {version.version} fitted on "
        f"{version.conversations} graded conversations."
    )


def queue_retrain_when_due(session: Session, *, assessment: Assessment, **_: Any) -> None:
    """On each final grade (the ``assessment_graded`` signal, same transaction): queue a refit
    of that grade's tenant in the worker when enough new grades have come in."""
    from core.jobs import Job, enqueue

    platform_id = assessment.platform_id
    waiting = session.scalar(
        select(func.count())
        .select_from(Job)
        .where(
            Job.kind == RETRAIN_JOB,
            Job.platform_id == platform_id,
            Job.status.in_(("queued", "running")),
        )
    )
    if not waiting and retrain_due(session, platform_id):
        enqueue(session, RETRAIN_JOB, "Refit suggestions", platform_id=platform_id, user_id=None)
