"""The labelled corpus (assessments/corpus/, issue 21): every file is a transcript the product
reads, labelled 1-4 on the five skills; the levels and traps are spread as the README says;
the sealed part is big enough, shares no conversation with the development part and sits where
the seeded plan put it; the skills are not correlated with one another.

This test reads the sealed part's files only to check their shape and labels; tuning and fitting
code must never read them (assessments/corpus/README.md)."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from itertools import combinations
from pathlib import Path

import pytest

from assessments.transcripts import parse

CORPUS = Path(__file__).parents[2] / "assessments" / "corpus"
SKILLS = ("empathy", "active_listening", "patience", "positive_language", "adaptability")
TRAPS = (
    "stock_empathy_then_refusal",
    "ownership_empathy_without_stock_phrases",
    "paraphrase_in_new_words",
    "asks_for_given_information",
    "repeated_question",
    "refusal_with_alternative",
    "refusal_without_alternative",
    "channel_length_register",
    "jargon_with_lay_customer",
)
MIN_PER_LEVEL = 40  # every level of every skill, over both parts
MIN_PER_TRAP = 15
MIN_SEALED = 80
MAX_ABS_R = 0.5  # largest Pearson |r| between two skills' labels
# Which levels a trap may go with: the trap is defined by what the rubric's descriptor says.
TRAP_LEVELS = {
    "stock_empathy_then_refusal": ("empathy", {1, 2}),
    "ownership_empathy_without_stock_phrases": ("empathy", {3, 4}),
    "paraphrase_in_new_words": ("active_listening", {3, 4}),
    "asks_for_given_information": ("active_listening", {1, 2}),
    "refusal_with_alternative": ("positive_language", {2, 3, 4}),
    "refusal_without_alternative": ("positive_language", {1, 2}),
}

FILES = {part: sorted((CORPUS / part).glob("*.json")) for part in ("dev", "sealed")}
ITEMS = {part: [json.loads(f.read_text()) for f in files] for part, files in FILES.items()}
ALL = ITEMS["dev"] + ITEMS["sealed"]


def _plan():
    spec = importlib.util.spec_from_file_location("corpus_plan", CORPUS / "plan.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pearson(xs: list[int], ys: list[int]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / (sxx * syy) ** 0.5


@pytest.mark.parametrize("path", FILES["dev"] + FILES["sealed"], ids=lambda p: p.stem)
def test_every_file_is_a_transcript_the_product_reads(path):
    data = json.loads(path.read_text())
    transcript = parse(path.read_bytes(), path.name)
    assert transcript.channel == data["channel"] in ("chat", "call", "email")
    assert len(transcript.turns) == len(data["turns"]) >= 3
    assert {t.speaker for t in transcript.turns} == {"agent", "customer"}
    assert data["id"] == path.stem and data["scenario"]
    assert set(data["grades"]) == set(SKILLS) == set(data["notes"])
    assert all(data["grades"][s] in (1, 2, 3, 4) for s in SKILLS)
    assert all(data["notes"][s].strip() for s in SKILLS)
    assert set(data["traps"]) <= set(TRAPS)
    for trap, (skill, levels) in TRAP_LEVELS.items():
        if trap in data["traps"]:
            assert data["grades"][skill] in levels, (trap, skill, data["grades"][skill])


def test_every_level_of_every_skill_appears_often_enough():
    for skill in SKILLS:
        counts = Counter(item["grades"][skill] for item in ALL)
        assert all(counts[level] >= MIN_PER_LEVEL for level in (1, 2, 3, 4)), (skill, counts)


def test_every_trap_appears_often_enough():
    counts = Counter(trap for item in ALL for trap in item["traps"])
    assert all(counts[trap] >= MIN_PER_TRAP for trap in TRAPS), counts


def test_the_sealed_part_is_large_disjoint_and_where_the_plan_put_it():
    assert len(ITEMS["sealed"]) >= MIN_SEALED
    dev_ids = {item["id"] for item in ITEMS["dev"]}
    sealed_ids = {item["id"] for item in ITEMS["sealed"]}
    assert not dev_ids & sealed_ids
    old = {p.stem for p in (CORPUS.parents[1] / "tests/data/transcripts/labelled").glob("*.json")}
    assert not (dev_ids | sealed_ids) & old
    plan = _plan()
    assert all(plan.part_of(i) == "dev" for i in dev_ids)
    assert all(plan.part_of(i) == "sealed" for i in sealed_ids)
    # Stratified: every level of every skill is in the sealed part.
    for skill in SKILLS:
        counts = Counter(item["grades"][skill] for item in ITEMS["sealed"])
        assert all(counts[level] >= 10 for level in (1, 2, 3, 4)), (skill, counts)


def test_no_conversation_is_in_both_parts():
    def text(item):
        return "\n".join(t["text"] for t in item["turns"])

    dev = {text(i) for i in ITEMS["dev"]}
    assert not dev & {text(i) for i in ITEMS["sealed"]}
    ids = [item["id"] for item in ALL]
    assert len(ids) == len(set(ids))


def test_the_skills_are_not_correlated():
    for a, b in combinations(SKILLS, 2):
        r = pearson([i["grades"][a] for i in ALL], [i["grades"][b] for i in ALL])
        assert abs(r) < MAX_ABS_R, (a, b, round(r, 2))
