"""Suggested rubric levels for an agent's conversation, each with the spans that justify it.

A plain module: no Flask, no database. ``suggest(transcript)`` returns one ``Suggestion`` per
criterion of the built-in rubric (empathy, active listening, patience, positive language,
adaptability): a level 1 to 4, a confidence (the model's probability of that level), the
reasons in words, and the exact spans (turn, start, end) of the words behind each reason.
Suggestions are explained, never final: a grader confirms or changes every level.

The features (``assessments.features``) follow the rubric's descriptors; a fitted ordinal
model per skill (``assessments.suggest_model``, built-in coefficients in
``suggest_model.json``, a tenant's own refit when it has one) weighs them. There are no
hand-set thresholds: ``flask assessments suggestions train`` fits the built-in model on the
development part of the labelled corpus; ``docs/benchmarks.md`` reports its agreement with
human graders on conversations it never saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assessments.features import DESCRIPTIONS, Evidence, Measure, measure_all, tone
from assessments.suggest_model import Model, builtin_model
from assessments.transcripts import Transcript

__all__ = ["CRITERIA", "Evidence", "Suggestion", "suggest", "tone"]

CRITERIA = ("empathy", "active_listening", "patience", "positive_language", "adaptability")
# A feature whose push on a conversation is smaller than this (in logits) is not worth a
# reason or a highlight: it did not move the level.
NOTABLE = 0.25
MAX_EVIDENCE = 8


@dataclass
class Suggestion:
    criterion: str
    level: int
    reasons: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    confidence: float = 0.0  # the model's probability of ``level``
    probabilities: list[float] = field(default_factory=list)  # P(level 1..4)


def _explain(criterion: str, values: dict[str, Measure], model: Model) -> Suggestion:
    skill = model.skills[criterion]
    plain = {name: m.value for name, m in values.items()}
    score = skill.score(plain)
    probabilities = skill.probabilities(score)
    level = skill.level(score)
    pushes = skill.contributions(plain)
    ranked = sorted(pushes.items(), key=lambda item: -abs(item[1]))
    reasons, evidence = [], []
    for name, push in ranked:
        if abs(push) < NOTABLE:
            continue
        direction = "for a higher level" if push > 0 else "for a lower level"
        reasons.append(f"{DESCRIPTIONS[name].capitalize()} ({direction}).")
        # The feature's sign in the model says whether its spans support a higher level: a
        # span of "refuses without an alternative" is evidence against, whatever its note.
        weight = skill.weights[skill.features.index(name)]
        for e in values[name].evidence:
            evidence.append(Evidence(e.turn, e.start, e.end, e.text, e.note, weight > 0))
    if not reasons:
        reasons.append("Nothing in the conversation moves this skill far from the usual level.")
    unique = list({(e.turn, e.start, e.end): e for e in evidence}.values())
    confidence = round(probabilities[level - 1], 3)
    return Suggestion(
        criterion,
        level,
        reasons[:3],
        unique[:MAX_EVIDENCE],
        confidence,
        [round(p, 3) for p in probabilities],
    )


def suggest(transcript: Transcript, model: Model | None = None) -> list[Suggestion]:
    """Suggested levels for the five criteria of the built-in rubric (``model``: a tenant's
    refit, else the built-in model)."""
    model = model or builtin_model()
    values = measure_all(transcript, model.features)
    return [_explain(criterion, values, model) for criterion in CRITERIA]
