"""The practical exercise that ends a course. Each kind is one class in ``EXERCISE_KINDS``:
its part of the content-pack schema, the fields a learner fills in, how an answer is checked,
and whether a trainer must grade it.

Plain Python, no Flask: the views and the importer both use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from core.numbers import NumberFormatError, parse_number

MAX_TEXT = 4000
EXPERIENCE_STAGES = ("Connection", "Exposure", "Experience", "Mastery & Activation")
EXPERIENCE_ROWS = (
    "Touch points & channels",
    "Customer actions",
    "Needs & expectations",
    "Thoughts & feelings",
    "Opportunities for improvement",
    "Metrics to track",
)
SENTIMENTS = ("positive", "neutral", "negative")


@dataclass
class Checked:
    """The outcome of checking a submission. ``needs_review`` means a trainer decides."""

    answers: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    score: float = 0.0
    maximum: float = 0.0
    needs_review: bool = False
    feedback: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors


class ExerciseKind:
    name: ClassVar[str]
    label: ClassVar[str]
    schema: ClassVar[dict[str, Any]]  # JSON schema of the kind's own keys in course.yaml

    def field_ids(self, spec: dict[str, Any]) -> list[str]:
        """The ids of the pack's ``fields``, in order; a kind with a fixed form overrides it."""
        return [f["id"] for f in spec["fields"]]

    def check(self, spec: dict[str, Any], form: dict[str, str]) -> Checked:
        raise NotImplementedError

    def pack_problems(self, spec: dict[str, Any]) -> list[tuple[list[str | int], str]]:
        """Consistency rules a schema cannot say: (path inside the exercise, reason)."""
        ids = [f["id"] for f in spec.get("fields", [])]
        return [
            (["fields", i, "id"], f"field id {fid!r} is used twice")
            for i, fid in enumerate(ids)
            if fid in ids[:i]
        ]


_FIELD_ID = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"}
_RUBRIC = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "label", "points"],
        "properties": {
            "id": _FIELD_ID,
            "label": {"type": "string", "minLength": 3, "maxLength": 200},
            "guidance": {"type": "string", "maxLength": 1000},
            "points": {"type": "integer", "minimum": 1, "maximum": 20},
            # What earns each level, so two trainers give the same work the same points.
            "levels": {
                "type": "array",
                "minItems": 2,
                "maxItems": 6,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["points", "descriptor"],
                    "properties": {
                        "points": {"type": "integer", "minimum": 0, "maximum": 20},
                        "descriptor": {"type": "string", "minLength": 10, "maxLength": 600},
                    },
                },
            },
        },
    },
}


def _fields(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    """The schema of a kind's ``fields``: one or more, each with an id and a label, plus the
    kind's own keys."""
    return {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id", "label", *required],
            "properties": {
                "id": _FIELD_ID,
                "label": {"type": "string", "minLength": 3, "maxLength": 200},
                **properties,
            },
        },
    }


def rubric_problems(spec: dict[str, Any]) -> list[tuple[list[str | int], str]]:
    """Level descriptors must run from 0 to the criterion's points, highest first, each
    level once."""
    problems: list[tuple[list[str | int], str]] = []
    for index, criterion in enumerate(spec.get("rubric", [])):
        levels = [level["points"] for level in criterion.get("levels", [])]
        if not levels:
            continue
        where: list[str | int] = ["rubric", index, "levels"]
        if levels != sorted(set(levels), reverse=True):
            problems.append((where, "levels must be listed highest first, each points value once"))
        if max(levels) != criterion["points"] or min(levels) != 0:
            problems.append((where, f"levels must run from {criterion['points']} points down to 0"))
    return problems


class NumericExercise(ExerciseKind):
    """Numbers the learner computes from the brief; checked at once against a tolerance."""

    name = "numeric"
    label = "Checked automatically"
    schema: ClassVar[dict[str, Any]] = {
        "required": ["fields"],
        "properties": {
            "fields": _fields(
                required=["answer", "explanation"],
                properties={
                    "unit": {"type": "string", "maxLength": 20},
                    "answer": {"type": "number"},
                    "tolerance": {"type": "number", "minimum": 0},
                    "explanation": {"type": "string", "minLength": 10},
                },
            ),
        },
    }

    def check(self, spec: dict[str, Any], form: dict[str, str]) -> Checked:
        answers = {f["id"]: str(form.get(f["id"], "")).strip()[:50] for f in spec["fields"]}
        result = Checked(answers=answers, maximum=float(len(spec["fields"])))
        for f in spec["fields"]:
            if not answers[f["id"]]:
                result.errors[f["id"]] = "Enter a number, for example 42 or 42.5."
                continue
            # The one reader for typed numbers: it used to read "1,500" as 1.5 without a word;
            # now that is refused as ambiguous, like "1e3", with a sentence saying how to write it.
            try:
                value = parse_number(answers[f["id"]]).value
            except NumberFormatError as refused:
                result.errors[f["id"]] = str(refused)
                continue
            if abs(value - float(f["answer"])) <= float(f.get("tolerance", 0)) + 1e-9:
                result.score += 1
                result.feedback[f["id"]] = "correct"
            else:
                result.feedback[f["id"]] = "incorrect"
        return result


class ReviewExercise(ExerciseKind):
    """Written work a trainer grades against the pack's rubric (e.g. a DMAIC charter)."""

    name = "review"
    label = "Graded by a trainer"
    schema: ClassVar[dict[str, Any]] = {
        "required": ["fields", "rubric"],
        "properties": {
            "fields": _fields(
                required=[],
                properties={
                    "help": {"type": "string", "maxLength": 500},
                    "min_length": {"type": "integer", "minimum": 0, "maximum": 2000},
                },
            ),
            "rubric": _RUBRIC,
        },
    }

    def pack_problems(self, spec: dict[str, Any]) -> list[tuple[list[str | int], str]]:
        return super().pack_problems(spec) + rubric_problems(spec)

    def check(self, spec: dict[str, Any], form: dict[str, str]) -> Checked:
        answers = {f["id"]: str(form.get(f["id"], "")).strip() for f in spec["fields"]}
        result = Checked(answers=answers, needs_review=True)
        for f in spec["fields"]:
            text = answers[f["id"]]
            least = int(f.get("min_length", 20))
            if len(text) < least:
                result.errors[f["id"]] = f"Write at least {least} characters."
            elif len(text) > MAX_TEXT:
                result.errors[f["id"]] = f"Keep this under {MAX_TEXT} characters."
        return result


class ExperienceMapExercise(ExerciseKind):
    """The experience map grid: four stages by six rows, plus the feeling at each stage."""

    name = "experience-map"
    label = "Graded by a trainer"
    schema: ClassVar[dict[str, Any]] = {
        "required": ["rubric"],
        "properties": {"rubric": _RUBRIC},
    }

    @staticmethod
    def cell_id(stage: int, row: int) -> str:
        return f"s{stage}_r{row}"

    @staticmethod
    def feeling_id(stage: int) -> str:
        return f"s{stage}_feeling"

    def field_ids(self, spec: dict[str, Any]) -> list[str]:
        cells = [
            self.cell_id(s, r)
            for r in range(len(EXPERIENCE_ROWS))
            for s in range(len(EXPERIENCE_STAGES))
        ]
        return cells + [self.feeling_id(s) for s in range(len(EXPERIENCE_STAGES))]

    def check(self, spec: dict[str, Any], form: dict[str, str]) -> Checked:
        answers = {fid: str(form.get(fid, "")).strip() for fid in self.field_ids(spec)}
        result = Checked(answers=answers, needs_review=True)
        for fid, text in answers.items():
            if fid.endswith("_feeling"):
                if text not in SENTIMENTS:
                    result.errors[fid] = "Choose positive, neutral or negative."
            elif len(text) < 3:
                result.errors[fid] = "Fill in this cell."
            elif len(text) > 1000:
                result.errors[fid] = "Keep each cell under 1000 characters."
        return result

    def pack_problems(self, spec: dict[str, Any]) -> list[tuple[list[str | int], str]]:
        return rubric_problems(spec)


EXERCISE_KINDS: dict[str, ExerciseKind] = {
    kind.name: kind for kind in (NumericExercise(), ReviewExercise(), ExperienceMapExercise())
}


def exercise_kind(name: str) -> ExerciseKind:
    return EXERCISE_KINDS[name]
