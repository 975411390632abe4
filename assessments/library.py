"""The built-in rubric and scenario library, read from ``assessments/rubrics`` and
``assessments/scenarios`` (YAML, validated when first read)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from assessments.suggest import CRITERIA

HERE = Path(__file__).parent
SKILLS = list(CRITERIA)

SCENARIO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "title", "channel", "focus", "difficulty", "customer", "turns", "guidance"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z0-9-]{3,60}$"},
        "title": {"type": "string", "minLength": 3, "maxLength": 120},
        "channel": {"enum": ["chat", "call", "email"]},
        "focus": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"enum": SKILLS}},
        "difficulty": {"type": "integer", "minimum": 1, "maximum": 3},
        "customer": {"type": "string", "minLength": 10},
        "turns": {
            "type": "array",
            "minItems": 1,
            "maxItems": 6,
            "items": {
                "type": "object",
                "required": ["text"],
                "additionalProperties": False,
                "properties": {"text": {"type": "string", "minLength": 2}},
            },
        },
        "guidance": {"type": "string", "minLength": 20},
    },
}


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    channel: str
    focus: tuple[str, ...]
    difficulty: int
    customer: str
    turns: tuple[str, ...]
    guidance: str


class LibraryInvalid(ValueError):
    pass


def _unwrap(text: str) -> str:
    """Join the lines a YAML author wrapped; keep blank-line paragraph breaks."""
    return re.sub(r"(?<!\n)\n(?!\n)", " ", text.strip())


@cache
def scenarios() -> dict[str, Scenario]:
    validator = Draft202012Validator(SCENARIO_SCHEMA)
    found: dict[str, Scenario] = {}
    for path in sorted((HERE / "scenarios").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        errors = list(validator.iter_errors(data))
        if errors or data["id"] != path.stem:
            reason = errors[0].message if errors else "id must equal the file name"
            raise LibraryInvalid(f"{path.name}: {reason}")
        found[data["id"]] = Scenario(
            id=data["id"],
            title=data["title"],
            channel=data["channel"],
            focus=tuple(data["focus"]),
            difficulty=data["difficulty"],
            customer=_unwrap(data["customer"]),
            turns=tuple(_unwrap(t["text"]) for t in data["turns"]),
            guidance=_unwrap(data["guidance"]),
        )
    return found


@cache
def builtin_rubric() -> dict[str, Any]:
    """The built-in rubric as a version definition (see ``RubricVersion.definition``)."""
    data = yaml.safe_load((HERE / "rubrics" / "default.yaml").read_text(encoding="utf-8"))
    return {
        "slug": data["slug"],
        "name": data["name"],
        "target_level": int(data["target_level"]),
        "levels": {str(k): v for k, v in data["levels"].items()},
        "criteria": [
            {
                "id": c["id"],
                "name": c["name"],
                "weight": float(c["weight"]),
                "levels": {str(k): v for k, v in c["levels"].items()},
            }
            for c in data["criteria"]
        ],
    }
