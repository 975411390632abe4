"""Automatic award rules: a small, closed vocabulary of JSON objects, never code.

Each rule kind is one object in ``RULE_KINDS`` with its JSON schema, a sentence that explains
it, and a test against a learner's ``Facts`` (the kinds that count one fact are each a
``CountReached``). Plain Python, no Flask, no database: the service builds the facts once per
learner and checks every rule against them.

    {"type": "course_completed", "course": "net-promoter-score"}   # or "course": "*"
    {"type": "courses_completed", "count": 3}
    {"type": "score_at_least", "course": "net-promoter-score", "score": 90}
    {"type": "skill_level", "skill": "empathy", "level": 3, "times": 2, "consecutive": true}
    {"type": "recognitions_received", "count": 5}
    {"type": "calibration_within", "deviation": 0.5, "times": 3}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

SKILLS = ("empathy", "active_listening", "patience", "positive_language", "adaptability")
SKILL_LABELS = {
    "empathy": "Empathy",
    "active_listening": "Active listening",
    "patience": "Patience",
    "positive_language": "Positive language",
    "adaptability": "Adaptability",
}


@dataclass
class Facts:
    """What rules may look at for one learner. Lists are in time order, oldest first."""

    completed_courses: set[str] = field(default_factory=set)
    course_scores: dict[str, float] = field(default_factory=dict)
    skill_levels: dict[str, list[int]] = field(default_factory=dict)
    recognitions_received: int = 0
    calibration_deviations: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Progress:
    """How far a learner is towards a rule, for "next badges" on their profile."""

    done: int
    needed: int

    @property
    def met(self) -> bool:
        return self.done >= self.needed


class RuleKind:
    name: str
    schema: dict[str, Any]

    def explain(self, rule: Mapping[str, Any], titles: Mapping[str, str]) -> str:
        """The rule in a sentence; ``titles`` names courses by their slug."""
        raise NotImplementedError

    def progress(self, rule: Mapping[str, Any], facts: Facts) -> Progress:
        raise NotImplementedError


def _count(value: int, needed: int) -> Progress:
    return Progress(min(value, needed), needed)


def _schema(optional: Mapping[str, Any] | None = None, **required: Any) -> dict[str, Any]:
    """A kind's JSON schema: its ``required`` values and its ``optional`` ones."""
    return {"required": list(required), "properties": {**required, **(optional or {})}}


def _integer(minimum: int, maximum: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def _number(minimum: float, maximum: float) -> dict[str, Any]:
    return {"type": "number", "minimum": minimum, "maximum": maximum}


COURSE = {"type": "string", "minLength": 1, "maxLength": 60}  # a slug, or "*" for any course


class CourseCompleted(RuleKind):
    name = "course_completed"
    schema = _schema(course=COURSE)

    def explain(self, rule: Mapping[str, Any], titles: Mapping[str, str]) -> str:
        course = rule["course"]
        if course == "*":
            return "Complete any course."
        return f"Complete the course “{titles.get(course, course)}”."

    def progress(self, rule: Mapping[str, Any], facts: Facts) -> Progress:
        course = rule["course"]
        done = bool(facts.completed_courses) if course == "*" else course in facts.completed_courses
        return Progress(int(done), 1)


class CountReached(RuleKind):
    """Met once something the learner's facts count reaches the rule's ``count``."""

    def __init__(
        self, name: str, sentence: str, counted: Callable[[Facts], int], *, maximum: int
    ) -> None:
        self.name = name
        self.schema = _schema(count=_integer(1, maximum))
        self._sentence = sentence  # with {count}
        self._counted = counted

    def explain(self, rule: Mapping[str, Any], titles: Mapping[str, str]) -> str:
        return self._sentence.format(count=rule["count"])

    def progress(self, rule: Mapping[str, Any], facts: Facts) -> Progress:
        return _count(self._counted(facts), rule["count"])


class ScoreAtLeast(RuleKind):
    name = "score_at_least"
    schema = _schema(course=COURSE, score=_number(0, 100))

    def explain(self, rule: Mapping[str, Any], titles: Mapping[str, str]) -> str:
        course = rule["course"]
        where = "any course" if course == "*" else f"the course “{titles.get(course, course)}”"
        return f"Score {rule['score']:g}% or more in {where}."

    def progress(self, rule: Mapping[str, Any], facts: Facts) -> Progress:
        scores = (
            facts.course_scores.values()
            if rule["course"] == "*"
            else [facts.course_scores[rule["course"]]]
            if rule["course"] in facts.course_scores
            else []
        )
        return Progress(int(any(s + 1e-9 >= rule["score"] for s in scores)), 1)


class SkillLevel(RuleKind):
    name = "skill_level"
    schema = _schema(
        skill={"enum": list(SKILLS)},
        level=_integer(1, 4),
        times=_integer(1, 20),
        optional={"consecutive": {"type": "boolean"}},
    )

    def explain(self, rule: Mapping[str, Any], titles: Mapping[str, str]) -> str:
        row = " in a row" if rule.get("consecutive") else ""
        times = "once" if rule["times"] == 1 else f"{rule['times']} times{row}"
        return (
            f"Reach level {rule['level']} or higher in {SKILL_LABELS[rule['skill']]} "
            f"in skill assessments, {times}."
        )

    def progress(self, rule: Mapping[str, Any], facts: Facts) -> Progress:
        levels = facts.skill_levels.get(rule["skill"], [])
        hits = [level >= rule["level"] for level in levels]
        if not rule.get("consecutive"):
            return _count(sum(hits), rule["times"])
        best = run = 0
        for hit in hits:
            run = run + 1 if hit else 0
            best = max(best, run)
        # Progress shows the current streak, the badge needs a long enough one at any time.
        return Progress(
            rule["times"] if best >= rule["times"] else min(run, rule["times"]), rule["times"]
        )


class CalibrationWithin(RuleKind):
    """For graders: score calibration transcripts close to the consensus."""

    name = "calibration_within"
    schema = _schema(deviation=_number(0, 3), times=_integer(1, 50))

    def explain(self, rule: Mapping[str, Any], titles: Mapping[str, str]) -> str:
        return (
            f"Grade {rule['times']} calibration sessions within {rule['deviation']:g} levels "
            "of the consensus on average."
        )

    def progress(self, rule: Mapping[str, Any], facts: Facts) -> Progress:
        close = sum(d <= rule["deviation"] + 1e-9 for d in facts.calibration_deviations)
        return _count(close, rule["times"])


RULE_KINDS: dict[str, RuleKind] = {
    kind.name: kind
    for kind in (
        CourseCompleted(),
        CountReached(
            "courses_completed",
            "Complete {count} courses.",
            lambda facts: len(facts.completed_courses),
            maximum=100,
        ),
        ScoreAtLeast(),
        SkillLevel(),
        CountReached(
            "recognitions_received",
            "Receive {count} recognitions from your managers.",
            lambda facts: facts.recognitions_received,
            maximum=1000,
        ),
        CalibrationWithin(),
    )
}

RULE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": sorted(RULE_KINDS)}},
    "allOf": [
        {
            "if": {"properties": {"type": {"const": name}}},
            "then": {
                **kind.schema,
                "properties": {"type": {}, **kind.schema["properties"]},
                "additionalProperties": False,
            },
        }
        for name, kind in RULE_KINDS.items()
    ],
}
_VALIDATOR = Draft202012Validator(RULE_SCHEMA)


class RuleInvalid(ValueError):
    pass


def validate_rule(rule: Any) -> dict[str, Any]:
    """The rule if it is one of the vocabulary's, else ``RuleInvalid`` saying what is wrong."""
    errors = sorted(_VALIDATOR.iter_errors(rule), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path)
        raise RuleInvalid(f"{where}: {first.message}" if where else first.message)
    return dict(rule)


def explain(rule: Mapping[str, Any], titles: Mapping[str, str] | None = None) -> str:
    return RULE_KINDS[rule["type"]].explain(rule, titles or {})


def progress(rule: Mapping[str, Any], facts: Facts) -> Progress:
    return RULE_KINDS[rule["type"]].progress(rule, facts)


def holds(rule: Mapping[str, Any], facts: Facts) -> bool:
    return progress(rule, facts).met
