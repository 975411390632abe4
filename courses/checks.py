"""Knowledge checks: question kinds and marking. Plain Python, no Flask.

Marking happens only here, on the server, from the pack's answer key: a crafted form can name
unknown options or leave questions out, and still scores only what it got right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from courses.exercises import parse_number


@dataclass
class QuestionResult:
    question_id: str
    correct: bool
    points: float
    maximum: float
    given: list[str]


@dataclass
class CheckResult:
    questions: list[QuestionResult]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return sum(q.points for q in self.questions)

    @property
    def maximum(self) -> float:
        return sum(q.maximum for q in self.questions)

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.maximum if self.maximum else 0.0

    def passed(self, pass_mark: float) -> bool:
        return not self.errors and self.percent + 1e-9 >= pass_mark


class QuestionKind:
    name: ClassVar[str]
    schema: ClassVar[dict[str, Any]]

    def mark(self, question: dict[str, Any], given: list[str]) -> tuple[bool, str | None]:
        """(correct, error) for the values the form sent for this question."""
        raise NotImplementedError

    def pack_problems(self, question: dict[str, Any]) -> list[tuple[list[str | int], str]]:
        return []


_OPTIONS = {
    "type": "array",
    "minItems": 2,
    "maxItems": 8,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["text"],
        "properties": {
            "text": {"type": "string", "minLength": 1, "maxLength": 500},
            "correct": {"type": "boolean"},
        },
    },
}


def option_ids(question: dict[str, Any]) -> list[str]:
    return [chr(ord("a") + i) for i in range(len(question["options"]))]


def correct_ids(question: dict[str, Any]) -> set[str]:
    return {
        oid
        for oid, option in zip(option_ids(question), question["options"], strict=True)
        if option.get("correct")
    }


class SingleChoice(QuestionKind):
    name = "single"
    schema: ClassVar[dict[str, Any]] = {
        "required": ["options"],
        "properties": {"options": _OPTIONS},
    }

    def mark(self, question: dict[str, Any], given: list[str]) -> tuple[bool, str | None]:
        if len(given) != 1 or given[0] not in option_ids(question):
            return False, "Choose one answer."
        return given[0] in correct_ids(question), None

    def pack_problems(self, question: dict[str, Any]) -> list[tuple[list[str | int], str]]:
        count = len(correct_ids(question))
        if count != 1:
            return [
                (
                    ["options"],
                    f"a single-choice question needs exactly one correct option, found {count}",
                )
            ]
        return []


class MultipleChoice(QuestionKind):
    """All correct options and none of the others: partial answers earn nothing, so guessing
    every box never passes."""

    name = "multiple"
    schema = SingleChoice.schema

    def mark(self, question: dict[str, Any], given: list[str]) -> tuple[bool, str | None]:
        chosen = set(given)
        if not chosen:
            return False, "Choose at least one answer."
        if not chosen <= set(option_ids(question)):
            return False, "Choose among the answers shown."
        return chosen == correct_ids(question), None

    def pack_problems(self, question: dict[str, Any]) -> list[tuple[list[str | int], str]]:
        if not correct_ids(question):
            return [(["options"], "a multiple-choice question needs at least one correct option")]
        return []


class NumericAnswer(QuestionKind):
    name = "numeric"
    schema: ClassVar[dict[str, Any]] = {
        "required": ["answer"],
        "properties": {
            "answer": {"type": "number"},
            "tolerance": {"type": "number", "minimum": 0},
            "unit": {"type": "string", "maxLength": 20},
        },
    }

    def mark(self, question: dict[str, Any], given: list[str]) -> tuple[bool, str | None]:
        value = parse_number(given[0]) if len(given) == 1 else None
        if value is None:
            return False, "Enter a number."
        tolerance = float(question.get("tolerance", 0))
        return abs(value - float(question["answer"])) <= tolerance + 1e-9, None


QUESTION_KINDS: dict[str, QuestionKind] = {
    kind.name: kind for kind in (SingleChoice(), MultipleChoice(), NumericAnswer())
}


def mark_check(questions: list[dict[str, Any]], form: dict[str, list[str]]) -> CheckResult:
    """Mark a submitted check. ``form`` maps question ids to the values sent."""
    result = CheckResult(questions=[])
    for question in questions:
        given = [str(v)[:50] for v in form.get(question["id"], [])][:10]
        correct, error = QUESTION_KINDS[question["type"]].mark(question, given)
        if error:
            result.errors[question["id"]] = error
        points = float(question.get("points", 1))
        result.questions.append(
            QuestionResult(
                question_id=question["id"],
                correct=correct,
                points=points if correct else 0.0,
                maximum=points,
                given=given,
            )
        )
    return result
