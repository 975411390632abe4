"""Quizzes: the assessment side of the one question engine (``core.questions``: every kind a
knowledge check has, marked the same way), and item analysis of the results as Moodle reports
it. Plain Python.

Item analysis for ``n`` attempts (their first attempts) of a quiz:

- facility index: the mean score on the item, as a share of its maximum (0 = nobody, 1 = all);
- discrimination index: the correlation between the item's score and the rest of the quiz
  (the total without this item); below 0.2 an item hardly tells strong from weak answerers;
- Cronbach's alpha: the internal consistency of the quiz's items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from jsonschema import Draft202012Validator

from core.questions import Form, kind_of, mark_all, question_schema

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
            "items": question_schema(id_pattern="^[a-z0-9-]{1,40}$", explanation_at_least=5),
        },
    },
}


@cache
def quizzes() -> dict[str, dict[str, Any]]:
    validator = Draft202012Validator(QUIZ_SCHEMA)
    found = {}
    for path in sorted((HERE / "quizzes").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        errors = [e.message for e in validator.iter_errors(data)]
        if not errors:
            errors = [
                f"question {q['id']}: {reason}"
                for q in data["questions"]
                for _, reason in kind_of(q).pack_problems(q)
            ]
        if errors or data["id"] != path.stem:
            reason = errors[0] if errors else "id must equal the file name"
            raise ValueError(f"{path.name}: {reason}")
        found[data["id"]] = data
    return found


def mark_question(question: dict[str, Any], given: list[str]) -> tuple[float, str | None]:
    """(score from 0 to 1, error) for an answer as given (option keys, positions, text)."""
    return kind_of(question).mark(question, given)


@dataclass
class QuizResult:
    scores: dict[str, float]
    errors: dict[str, str]
    given: dict[str, list[str]]

    @property
    def percent(self) -> float:
        return round(100 * sum(self.scores.values()) / len(self.scores), 1) if self.scores else 0.0


def mark_quiz(quiz: dict[str, Any], form: Form, secret: str | bytes) -> QuizResult:
    """Mark a submitted quiz (the whole form, values as lists) under the seal it was rendered
    with; ordering earns a share for each item in its place."""
    _, marked = mark_all(quiz["questions"], secret, form)
    return QuizResult(
        scores={m.question_id: m.score for m in marked},
        errors={m.question_id: m.error for m in marked if m.error},
        given={m.question_id: m.given for m in marked},
    )


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
