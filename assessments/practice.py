"""Closing the loop: when a skill stays below its target in two assessments in a row, the
module that teaches it is suggested (nobody is enrolled), with the levels graded since."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from assessments.models import Assessment, Grade, RubricVersion
from assessments.rubrics import criterion_targets


@dataclass
class Practice:
    """A skill below target in two assessments in a row, and the page that teaches it."""

    criterion: str
    below: tuple[int, int]  # the two levels that made the suggestion
    since: list[int]  # levels graded after them, oldest first
    teaching: str  # the launch target (``lms.targets``) of the page that teaches the skill
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


def practice_suggestions(
    session: Session, learner_id: int, teaching: Mapping[str, str]
) -> list[Practice]:
    """When a skill stays below its target in two assessments in a row, suggest the page that
    teaches it (``teaching``: skill -> launch target, from ``core.teaching``; a suggestion
    only: nobody is enrolled), and show the levels graded since, so the learner and trainer
    see whether it rose. Each level is compared with the target of the rubric version it was
    graded under. A skill nothing teaches is not suggested."""
    history = skill_history(session, learner_id)
    out = []
    for criterion, page in teaching.items():
        graded = history.get(criterion, [])
        for i in range(1, len(graded)):
            (first, first_target), (second, second_target) = graded[i - 1], graded[i]
            if first < first_target and second < second_target:
                later = graded[i + 1 :]
                out.append(
                    Practice(
                        criterion,
                        (first, second),
                        [level for level, _ in later],
                        page,
                        graded[-1][1],
                        [target for _, target in later],
                    )
                )
                break
    return out
