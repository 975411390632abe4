"""The fitted model behind suggested levels: one ordinal logistic model per skill over the
features of ``assessments.features``. A plain module: no Flask, no database, no scikit-learn at
run time (the coefficients are read from JSON; fitting lives in ``assessments.suggest_training``).

Each skill's model is the all-threshold ordinal logistic model (Rennie & Srebro 2005): one
weight per feature, shared by the three cut points between levels 1|2, 2|3 and 3|4, so

    P(level > k) = sigmoid(w · x + b_k),   k = 1, 2, 3

and the suggested level is 1 plus the number of cut points the conversation passes. One weight
per feature keeps the model readable: a positive weight is evidence *for* a higher level, and
the results page and the evidence notes can say so. Features are standardised with the
training set's mean and spread stored beside the weights.

The built-in model (``suggest_model.json``) is fitted on the development part of the labelled
corpus by ``flask assessments suggestions train``; a tenant's model (``SuggestionModel`` rows)
has the same shape, refitted on that tenant's own final grades.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

LEVELS = (1, 2, 3, 4)
BUILTIN_PATH = Path(__file__).with_name("suggest_model.json")


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def three_cuts(cuts: Iterable[float]) -> tuple[float, float, float]:
    """The three cut points between four levels; ValueError if there are not three."""
    first, second, third = cuts
    return first, second, third


@dataclass(frozen=True)
class SkillModel:
    features: tuple[str, ...]
    weights: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    cuts: tuple[float, float, float]  # b_1, b_2, b_3 (decreasing)

    def score(self, values: dict[str, float]) -> float:
        return sum(
            w * (values[f] - m) / s
            for f, w, m, s in zip(self.features, self.weights, self.mean, self.scale, strict=True)
        )

    def probabilities(self, score: float) -> list[float]:
        """P(level = 1..4); the cumulative probabilities are made monotone first, because
        three separately placed cut points may cross far from the training data."""
        above = [_sigmoid(score + b) for b in self.cuts]
        for k in (1, 2):
            above[k] = min(above[k], above[k - 1])
        cumulative = [1.0, *above, 0.0]
        return [cumulative[k] - cumulative[k + 1] for k in range(4)]

    def level(self, score: float) -> int:
        return 1 + sum(1 for b in self.cuts if score + b > 0)

    def contributions(self, values: dict[str, float]) -> dict[str, float]:
        """Each feature's push towards a higher (+) or lower (-) level, in logits."""
        return {
            f: w * (values[f] - m) / s
            for f, w, m, s in zip(self.features, self.weights, self.mean, self.scale, strict=True)
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "weights": [round(w, 6) for w in self.weights],
            "mean": [round(m, 6) for m in self.mean],
            "scale": [round(s, 6) for s in self.scale],
            "cuts": [round(b, 6) for b in self.cuts],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SkillModel:
        return cls(
            tuple(data["features"]),
            tuple(float(w) for w in data["weights"]),
            tuple(float(m) for m in data["mean"]),
            tuple(float(s) for s in data["scale"]),
            three_cuts(float(b) for b in data["cuts"]),
        )


@dataclass(frozen=True)
class Model:
    skills: dict[str, SkillModel]
    name: str = "built-in"
    about: dict[str, Any] = field(default_factory=dict)  # how and on what it was fitted

    @property
    def features(self) -> list[str]:
        """Every feature some skill uses, each once, in a stable order."""
        seen: dict[str, None] = {}
        for skill in self.skills.values():
            seen.update(dict.fromkeys(skill.features))
        return list(seen)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "about": self.about,
            "skills": {k: m.to_json() for k, m in self.skills.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        return cls(
            {k: SkillModel.from_json(v) for k, v in data["skills"].items()},
            data.get("name", "built-in"),
            data.get("about", {}),
        )


@lru_cache(maxsize=1)
def builtin_model() -> Model:
    """The model shipped with the package (``flask assessments suggestions train`` writes it)."""
    return Model.from_json(json.loads(BUILTIN_PATH.read_text(encoding="utf-8")))
