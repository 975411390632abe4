"""Fitting the suggestion model: the built-in one on the development part of the labelled
corpus, and a tenant's on top of it from that tenant's own final grades. Plain functions (no
Flask, no database); scikit-learn's ``LogisticRegression`` does the fitting.

The all-threshold ordinal model of ``assessments.suggest_model`` is fitted as one binary
logistic regression over the data repeated three times: row (conversation i, cut k) has the
conversation's standardised features plus an indicator of k, and answers "is the level above
k?". The shared feature weights are the model's weights, the indicators' weights its cut points
(Rennie & Srebro's all-threshold loss with the logistic function). The indicator columns are
multiplied by ``CUT_SCALE`` so that the L2 penalty, meant for the feature weights, barely
touches the cut points.

**The sealed part of the corpus is never read here**: ``development_items`` reads the
development part and the 48 older hand-graded conversations only. ``bench/suggest_sealed.py``
alone reads the sealed part.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assessments.agreement import Estimate, kappa_with_ci, quadratic_weighted_kappa
from assessments.features import measure_all
from assessments.suggest_model import LEVELS, Model, SkillModel, three_cuts
from assessments.transcripts import Transcript

ROOT = Path(__file__).resolve().parents[1]
DEVELOPMENT_DIRS = (
    ROOT / "assessments" / "corpus" / "dev",
    ROOT / "tests" / "data" / "transcripts" / "labelled",
)
CUT_SCALE = 10.0
C_GRID = (0.03, 0.1, 0.3, 1.0)
# Which features feed which skill: the rubric's descriptors for that skill, plus how the
# customer sounds at the end (a customer who feels heard says so).
SKILL_FEATURES: dict[str, tuple[str, ...]] = {
    "empathy": (
        "empathy_genuine",
        "empathy_hollow",
        "empathy_sustained",
        "accountable",
        "blame",
        "feeling_in_situation",
        "generic_acknowledgement",
        "ownership",
        "ownership_timed",
        "specific_care",
        "customer_upset",
        "scripted",
        "tone_mean",
        "customer_end_tone",
    ),
    "active_listening": (
        "paraphrase",
        "restate_marker",
        "confirming",
        "checks_resolution",
        "clarifying",
        "picks_up_detail",
        "asks_again",
        "customer_repeats",
        "customer_corrects",
        "repeated_question",
        "same_reply",
        "customer_end_tone",
    ),
    "patience": (
        "impatient",
        "cut_off",
        "patient_phrases",
        "clipped",
        "customer_confused",
        "reexplains",
        "short_to_repeat",
        "rushed_reply",
        "same_reply",
        "repeated_question",
        "tone_min",
        "customer_end_tone",
    ),
    "positive_language": (
        "refusal_with_alternative",
        "refusal_bare",
        "alternatives",
        "negative_words",
        "tone_mean",
        "tone_min",
        "positive_close",
        "blame",
        "ownership",
        "customer_end_tone",
    ),
    "adaptability": (
        "length_fit",
        "walls_of_text",
        "jargon",
        "jargon_to_confused",
        "abbreviations",
        "jargon_unexplained",
        "long_words_gap",
        "register_mismatch",
        "scripted",
        "adapts_method",
        "adapts_after_confusion",
        "agent_repeats_itself",
        "clarifying",
        "customer_end_tone",
    ),
}
SKILLS = tuple(SKILL_FEATURES)


@dataclass
class Example:
    id: str
    transcript: Transcript
    grades: dict[str, int]


def development_items(directories: Sequence[Path] = DEVELOPMENT_DIRS) -> list[Example]:
    """The labelled development conversations (never the sealed part)."""
    items = []
    for directory in directories:
        if "sealed" in directory.parts:
            raise ValueError("the sealed part is for bench/suggest_sealed.py only")
        for path in sorted(directory.glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            items.append(Example(data["id"], Transcript.from_json(data), data["grades"]))
    return items


def feature_table(transcripts: Sequence[Transcript], names: Sequence[str]) -> np.ndarray:
    rows = []
    for transcript in transcripts:
        measures = measure_all(transcript, list(names))
        rows.append([measures[n].value for n in names])
    return np.array(rows, dtype=float).reshape(len(rows), len(names))


def _expand(x: np.ndarray, y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Each conversation three times, once per cut point, with the cut's indicator."""
    n = len(x)
    cuts = np.repeat(np.eye(3) * CUT_SCALE, n, axis=0)
    expanded = np.hstack([np.tile(x, (3, 1)), cuts])
    if y is None:
        return expanded, None
    above = np.concatenate([(y > k).astype(int) for k in (1, 2, 3)])
    return expanded, above


def fit_skill(x: np.ndarray, y: np.ndarray, names: Sequence[str], c: float) -> SkillModel:
    """One skill's ordinal model from raw feature values ``x`` and levels ``y``."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0  # a feature constant in the data gets weight 0 anyway
    z = (x - mean) / scale
    expanded, above = _expand(z, y)
    if above is not None and len(set(above.tolist())) < 2:
        raise ValueError("every conversation is at one level: nothing to fit")
    fitted = LogisticRegression(C=c, fit_intercept=False, max_iter=2000).fit(expanded, above)
    coef = fitted.coef_[0]
    weights = coef[: len(names)]
    cuts = sorted((coef[len(names) :] * CUT_SCALE).tolist(), reverse=True)
    return SkillModel(
        tuple(names),
        tuple(weights.tolist()),
        tuple(mean.tolist()),
        tuple(scale.tolist()),
        three_cuts(cuts),
    )


def predict(model: SkillModel, x: np.ndarray) -> np.ndarray:
    return np.array(
        [model.level(model.score(dict(zip(model.features, row, strict=True)))) for row in x]
    )


def _folds(n: int, k: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = rng.permutation(n)
    return [order[i::k] for i in range(k)]


def choose_c(x: np.ndarray, y: np.ndarray, names: Sequence[str], seed: int = 11) -> float:
    """The penalty with the best quadratic kappa in an inner 5-fold cross-validation."""
    rng = np.random.default_rng(seed)
    folds = _folds(len(y), 5, rng)
    best, best_score = C_GRID[0], -np.inf
    for c in C_GRID:
        predicted = np.zeros_like(y)
        for held in folds:
            train = np.setdiff1d(np.arange(len(y)), held)
            predicted[held] = predict(fit_skill(x[train], y[train], names, c), x[held])
        score = quadratic_weighted_kappa(y.tolist(), predicted.tolist(), LEVELS)
        if score > best_score:
            best, best_score = c, score
    return best


def fit_model(items: Sequence[Example], about: dict[str, Any] | None = None) -> Model:
    """The built-in model: each skill's penalty chosen by inner cross-validation, then
    fitted on all of ``items``."""
    skills = {}
    chosen = {}
    for skill, names in SKILL_FEATURES.items():
        x = feature_table([i.transcript for i in items], names)
        y = np.array([i.grades[skill] for i in items])
        chosen[skill] = choose_c(x, y, names)
        skills[skill] = fit_skill(x, y, names, chosen[skill])
    info = {"conversations": len(items), "penalty_c": chosen, **(about or {})}
    return Model(skills, "built-in", info)


@dataclass
class SkillAgreement:
    skill: str
    n: int
    exact: float
    within_one: float
    kappa: Estimate
    kappa_repeats: list[float]
    top_share: float  # the share of suggestions on the most suggested level


def agreement(
    skill: str, human: Sequence[int], suggested: Sequence[int], repeats: Sequence[float] = ()
) -> SkillAgreement:
    n = len(human)
    exact = sum(h == s for h, s in zip(human, suggested, strict=True)) / n
    within = sum(abs(h - s) <= 1 for h, s in zip(human, suggested, strict=True)) / n
    top = max(list(suggested).count(level) for level in LEVELS) / n
    kappa = kappa_with_ci(list(human), list(suggested), list(LEVELS), resamples=1000)
    return SkillAgreement(skill, n, exact, within, kappa, list(repeats), top)


def cross_validate(
    items: Sequence[Example], folds: int = 5, repeats: int = 5, seed: int = 3
) -> list[SkillAgreement]:
    """Nested cross-validation on the development part: in each outer fold the penalty is
    chosen on the training folds only, and the held-out fold is predicted. The interval is
    a bootstrap over conversations of the first repeat's out-of-fold suggestions; the other
    repeats show how much the figure moves with the split."""
    rng = np.random.default_rng(seed)
    transcripts = [i.transcript for i in items]
    out = []
    for skill, names in SKILL_FEATURES.items():
        x = feature_table(transcripts, names)
        y = np.array([i.grades[skill] for i in items])
        runs = []
        for _ in range(repeats):
            predicted = np.zeros_like(y)
            for held in _folds(len(y), folds, rng):
                train = np.setdiff1d(np.arange(len(y)), held)
                c = choose_c(x[train], y[train], names)
                predicted[held] = predict(fit_skill(x[train], y[train], names, c), x[held])
            runs.append(predicted)
        kappas = [quadratic_weighted_kappa(y.tolist(), r.tolist(), LEVELS) for r in runs]
        out.append(agreement(skill, y.tolist(), runs[0].tolist(), kappas))
    return out


# -- a tenant's model on top of the built-in one ---------------------------------------------

TENANT_C = 0.3
# A tenant's own features are shrunk ten times harder than the built-in score: with 50
# conversations the refit mostly moves the cut points (a stricter or more lenient
# organisation) and the weight of the built-in score, and changes single features only when
# the tenant's grades say so clearly.
FEATURE_SHRINK = 0.1


def refit_on_top(
    base: Model, transcripts: Sequence[Transcript], grades: Sequence[dict[str, int]], name: str
) -> Model:
    """A tenant's model: for each skill, a new ordinal fit over the built-in model's score and
    (shrunk) the skill's own features, folded back into one weight per feature. Skills with
    grades at a single level keep the built-in model."""
    from sklearn.linear_model import LogisticRegression

    skills = {}
    for skill, model in base.skills.items():
        pairs = [(t, g[skill]) for t, g in zip(transcripts, grades, strict=True) if skill in g]
        y = np.array([g for _, g in pairs])
        if len(set(y.tolist())) < 2:
            skills[skill] = model
            continue
        x = feature_table([t for t, _ in pairs], model.features)
        z = (x - np.array(model.mean)) / np.array(model.scale)
        base_score = z @ np.array(model.weights)
        design = np.hstack([base_score[:, None], z * FEATURE_SHRINK])
        expanded, above = _expand(design, y)
        fitted = LogisticRegression(C=TENANT_C, fit_intercept=False, max_iter=2000)
        coef = fitted.fit(expanded, above).coef_[0]
        slope, own = coef[0], coef[1 : 1 + len(model.features)] * FEATURE_SHRINK
        weights = slope * np.array(model.weights) + own
        cuts = sorted((coef[1 + len(model.features) :] * CUT_SCALE).tolist(), reverse=True)
        skills[skill] = SkillModel(
            model.features, tuple(weights.tolist()), model.mean, model.scale, three_cuts(cuts)
        )
    return Model(skills, name, {"conversations": len(transcripts), "on_top_of": base.name})


def out_of_sample(
    base: Model,
    transcripts: Sequence[Transcript],
    grades: Sequence[dict[str, int]],
    folds: int = 5,
    seed: int = 5,
) -> dict[str, dict[str, Any]]:
    """Per skill, how the tenant refit agrees with the tenant's graders on grades it was not
    fitted on (k-fold: each conversation predicted by a refit without it), beside the
    built-in model on the same conversations."""
    rng = np.random.default_rng(seed)
    n = len(transcripts)
    refit: dict[str, list[int]] = {s: [0] * n for s in base.skills}
    for held in _folds(n, folds, rng):
        train = [i for i in range(n) if i not in set(held.tolist())]
        model = refit_on_top(
            base, [transcripts[i] for i in train], [grades[i] for i in train], "fold"
        )
        for i in held.tolist():
            for skill, level in levels_of(model, transcripts[i]).items():
                refit[skill][i] = level
    builtin = [levels_of(base, t) for t in transcripts]
    out = {}
    for skill in base.skills:
        human = [g[skill] for g in grades]
        out[skill] = {
            "n": n,
            "qwk": quadratic_weighted_kappa(human, refit[skill], LEVELS),
            "builtin_qwk": quadratic_weighted_kappa(human, [b[skill] for b in builtin], LEVELS),
        }
    return out


def levels_of(model: Model, transcript: Transcript) -> dict[str, int]:
    measures = measure_all(transcript, model.features)
    values = {name: m.value for name, m in measures.items()}
    return {skill: m.level(m.score(values)) for skill, m in model.skills.items()}


def cv_table(rows: Sequence[SkillAgreement]) -> Iterator[str]:
    yield "| skill | QWK [95% CI] | QWK over splits | exact | within one | most frequent level |"
    yield "| --- | --- | --- | ---: | ---: | ---: |"
    for r in rows:
        spread = (
            f"{min(r.kappa_repeats):.2f} to {max(r.kappa_repeats):.2f}" if r.kappa_repeats else ""
        )
        yield (
            f"| {r.skill} | {r.kappa.value:.2f} [{r.kappa.low:.2f}, {r.kappa.high:.2f}] | "
            f"{spread} | {r.exact:.0%} | {r.within_one:.0%} | {r.top_share:.0%} |"
        )


def train(*, cv: bool = True, repeats: int = 5, path: Path | None = None) -> Iterator[str]:
    """Fit the built-in model on the development part, write it, and (``cv``) report the
    nested cross-validation: what ``flask assessments suggestions train`` and
    ``bench/train_suggest.py`` print."""
    from assessments.suggest_model import BUILTIN_PATH

    items = development_items()
    yield f"{len(items)} development conversations"
    # The cross-validation runs first so that its kappa is written with the model: before a
    # tenant has grades of its own, it is what says how far each skill can be trusted
    # (``tenant_models.builtin_agreement``).
    rows = cross_validate(items, repeats=repeats) if cv else []
    about = {
        "cv_qwk": {r.skill: round(r.kappa.value, 3) for r in rows},
        "cv": f"nested 5-fold cross-validation on the development part, first of {repeats} splits",
    }
    model = fit_model(items, about if rows else None)
    target = path or BUILTIN_PATH
    target.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
    yield f"wrote {target}"
    if cv:
        yield ""
        yield (
            f"Nested 5-fold cross-validation ({repeats} repeats) on {len(items)} development "
            "conversations; interval: bootstrap over conversations, first split"
        )
        yield ""
        yield from cv_table(rows)
