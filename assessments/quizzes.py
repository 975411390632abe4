"""Quizzes: questions marked automatically (single and multiple choice, numbers with a
tolerance, ordering), and item analysis of the results as Moodle reports it. Plain Python.

Item analysis for ``n`` attempts (their first attempts) of a quiz:

- facility index: the mean score on the item, as a share of its maximum (0 = nobody, 1 = all);
- discrimination index: the correlation between the item's score and the rest of the quiz
  (the total without this item); below 0.2 an item hardly tells strong from weak answerers;
- Cronbach's alpha: the internal consistency of the quiz's items.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from jsonschema import Draft202012Validator

HERE = Path(__file__).parent
DISCRIMINATION_FLOOR = 0.2

QUIZ_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "title", "description", "questions"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z0-9-]{3,60}$"},
        "title": {"type": "string", "minLength": 3},
        "description": {"type": "string"},
        "pass_mark": {"type": "number", "minimum": 0, "maximum": 100},
        "questions": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "prompt", "explanation"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z0-9-]{1,40}$"},
                    "type": {"enum": ["single", "multiple", "numeric", "ordering"]},
                    "prompt": {"type": "string", "minLength": 5},
                    "explanation": {"type": "string", "minLength": 5},
                    "options": {"type": "array", "minItems": 2},
                    "items": {"type": "array", "minItems": 2, "items": {"type": "string"}},
                    "answer": {"type": "number"},
                    "tolerance": {"type": "number", "minimum": 0},
                },
            },
        },
    },
}


@cache
def quizzes() -> dict[str, dict[str, Any]]:
    validator = Draft202012Validator(QUIZ_SCHEMA)
    found = {}
    for path in sorted((HERE / "quizzes").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        errors = list(validator.iter_errors(data))
        if errors or data["id"] != path.stem:
            raise ValueError(
                f"{path.name}: {errors[0].message if errors else 'id must equal the file name'}"
            )
        for question in data["questions"]:
            if question["type"] in ("single", "multiple"):
                for index, option in enumerate(question["options"]):
                    option["id"] = chr(ord("a") + index)
        found[data["id"]] = data
    return found


def _number(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def mark_question(question: dict[str, Any], given: list[str]) -> tuple[float, str | None]:
    """(score from 0 to 1, error) for the values sent for one question."""
    kind = question["type"]
    if kind == "single":
        ids = {o["id"] for o in question["options"]}
        if len(given) != 1 or given[0] not in ids:
            return 0.0, "Choose one answer."
        return float(
            any(o["id"] == given[0] and o.get("correct") for o in question["options"])
        ), None
    if kind == "multiple":
        ids = {o["id"] for o in question["options"]}
        if not given or not set(given) <= ids:
            return 0.0, "Choose at least one answer."
        right = {o["id"] for o in question["options"] if o.get("correct")}
        return float(set(given) == right), None
    if kind == "numeric":
        value = _number(given[0]) if len(given) == 1 else None
        if value is None:
            return 0.0, "Enter a number."
        return float(abs(value - question["answer"]) <= question.get("tolerance", 0) + 1e-9), None
    # ordering: positions given for each item (1..n); partial credit for items in place
    items = question["items"]
    try:
        positions = [int(v) for v in given]
    except ValueError:
        return 0.0, "Give each step a position."
    if sorted(positions) != list(range(1, len(items) + 1)):
        return 0.0, f"Give each step a different position from 1 to {len(items)}."
    return sum(p == i + 1 for i, p in enumerate(positions)) / len(items), None


@dataclass
class QuizResult:
    scores: dict[str, float]
    errors: dict[str, str]

    @property
    def percent(self) -> float:
        return round(100 * sum(self.scores.values()) / len(self.scores), 1) if self.scores else 0.0


def mark_quiz(quiz: dict[str, Any], form: dict[str, list[str]]) -> QuizResult:
    scores, errors = {}, {}
    for question in quiz["questions"]:
        score, error = mark_question(
            question, [str(v)[:20] for v in form.get(question["id"], [])][:12]
        )
        scores[question["id"]] = score
        if error:
            errors[question["id"]] = error
    return QuizResult(scores, errors)


# -- item analysis ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemStat:
    item: str
    facility: float
    discrimination: float | None

    @property
    def weak(self) -> bool:
        return self.discrimination is not None and self.discrimination < DISCRIMINATION_FLOOR


def cronbach_alpha(matrix: np.ndarray | Sequence[Sequence[float]]) -> float | None:
    """Attempts x items scores. None when it cannot be computed (fewer than 2 items or no
    variance in totals)."""
    x = np.asarray(matrix, dtype=float)
    if x.ndim != 2 or x.shape[1] < 2 or x.shape[0] < 2:
        return None
    k = x.shape[1]
    total_variance = x.sum(axis=1).var(ddof=1)
    if total_variance == 0:
        return None
    return float(k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / total_variance))


def item_analysis(
    items: Sequence[str], matrix: np.ndarray | Sequence[Sequence[float]]
) -> list[ItemStat]:
    """Facility and discrimination (item against the rest of the quiz) per item."""
    x = np.asarray(matrix, dtype=float)
    stats = []
    for j, item in enumerate(items):
        column = x[:, j]
        rest = x.sum(axis=1) - column
        discrimination = None
        if len(column) >= 3 and column.std() > 0 and rest.std() > 0:
            discrimination = float(np.corrcoef(column, rest)[0, 1])
        stats.append(ItemStat(item, float(column.mean()) if len(column) else 0.0, discrimination))
    return stats
