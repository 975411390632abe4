"""Rubrics: the built-in one and each LMS's own, saved as immutable versions; the level of
every criterion a grade gives and the weighted score they make."""

from __future__ import annotations

import uuid
from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from assessments.errors import AssessmentError
from assessments.library import builtin_rubric
from assessments.models import Rubric, RubricVersion
from assessments.suggest import CRITERIA as CORE_CRITERIA
from core.db import utcnow
from people.models import User


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
        if value is None or value not in allowed:
            raise AssessmentError(f"Choose a level for {criterion['name']}.")
        clean[criterion["id"]] = value
    return clean


def score_percent(definition: dict[str, Any], levels: dict[str, int]) -> float:
    """The weighted score in percent: level 1 counts 0, level 4 counts 100."""
    total = sum(c["weight"] for c in definition["criteria"])
    points = sum(c["weight"] * (levels[c["id"]] - 1) / 3 for c in definition["criteria"])
    return round(100 * points / total, 1) if total else 0.0


def criterion_targets(definition: dict[str, Any]) -> dict[str, int]:
    """Each criterion's target level in a rubric version: its own ``target_level`` if it has
    one, else the rubric's."""
    default = int(definition.get("target_level", 3))
    return {c["id"]: int(c.get("target_level", default)) for c in definition["criteria"]}


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
            slug=f"p{platform_id}-{uuid.uuid4().hex[:10]}",
            platform_id=platform_id,
            name=definition["name"],
            current_version=0,
        )
        session.add(rubric)
        session.flush()
    elif rubric.platform_id != platform_id:
        raise AssessmentError("There is no such rubric.")
    rubric.current_version += 1
    rubric.name = definition["name"]
    rubric.updated_at = utcnow()
    version = RubricVersion(
        rubric_id=rubric.id,
        version=rubric.current_version,
        definition=definition,
        created_by_id=editor.id,
    )
    session.add(version)
    session.flush()
    return version
