"""The corpus plan: written once, before any conversation, so labels, traps and the split are
fixed independently of the text.

``plan()`` returns 280 planned conversations ``c001``-``c280`` in writing order. Each has a target
level 1-4 per skill (every level 70 times per skill, the five skills shuffled independently and
the least correlated of 200 seeded shuffles kept), an industry, a channel, a customer type, the
traps to write into it (each trap only where the target level allows it), and its part:
``sealed`` (96, chosen by a seeded search for the subset whose level counts per skill are
closest to proportional) or ``dev``. Sealed conversations are spread evenly through the writing
order, so any prefix of the corpus already has about a third of its conversations sealed.

The labels in the files are the levels the written conversation shows by the rubric's
descriptors; the targets here only steered the writing. The part is never changed after
writing (tests/assessments/test_corpus.py checks every file sits in its planned part).

    .venv/bin/python assessments/corpus/plan.py            # the plan as a table
"""

from __future__ import annotations

import random
from functools import cache

SEED = 20240521
SIZE = 280
SEALED = 96
SKILLS = ("empathy", "active_listening", "patience", "positive_language", "adaptability")
INDUSTRIES = (
    "telecom",
    "energy",
    "banking",
    "insurance",
    "retail",
    "travel",
    "public_services",
    "software",
    "healthcare_admin",
    "utilities",
)
# Social DMs are read as chat by the product (assessments.transcripts.CHANNELS); the file keeps
# "source": "social_dm" so they can be told apart.
CHANNELS = ("chat",) * 7 + ("call",) * 6 + ("email",) * 4 + ("social_dm",) * 3
CUSTOMER_TYPES = (
    "angry",
    "anxious",
    "confused",
    "terse",
    "elderly",
    "non_native",
    "in_a_hurry",
    "repeat_contact",
    "formal_complaint",
)
# Trap -> (skill it tests, target levels it may go with, share of eligible conversations).
TRAPS = {
    "stock_empathy_then_refusal": ("empathy", (1,), 0.55),
    "ownership_empathy_without_stock_phrases": ("empathy", (3, 4), 0.3),
    "paraphrase_in_new_words": ("active_listening", (3, 4), 0.3),
    "asks_for_given_information": ("active_listening", (1, 2), 0.3),
    "repeated_question": ("patience", (1, 2, 3, 4), 0.15),
    "refusal_with_alternative": ("positive_language", (3, 4), 0.3),
    "refusal_without_alternative": ("positive_language", (1, 2), 0.3),
    "channel_length_register": ("adaptability", (1, 2, 3, 4), 0.15),
    "jargon_with_lay_customer": ("adaptability", (1, 2, 3, 4), 0.15),
}


def pearson(xs: list[int], ys: list[int]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / (sxx * syy) ** 0.5 if sxx and syy else 0.0


def _levels(rng: random.Random) -> dict[str, list[int]]:
    best, best_r = None, 2.0
    for _ in range(200):
        grid = {}
        for skill in SKILLS:
            column = [1, 2, 3, 4] * (SIZE // 4)
            rng.shuffle(column)
            grid[skill] = column
        worst = max(
            abs(pearson(grid[a], grid[b])) for i, a in enumerate(SKILLS) for b in SKILLS[i + 1 :]
        )
        if worst < best_r:
            best, best_r = grid, worst
    assert best is not None
    return best


def _sealed(rng: random.Random, grid: dict[str, list[int]]) -> set[int]:
    share = SEALED / SIZE
    best, best_cost = set(), float("inf")
    for _ in range(3000):
        chosen = set(rng.sample(range(SIZE), SEALED))
        cost = 0.0
        for skill in SKILLS:
            for level in (1, 2, 3, 4):
                count = sum(1 for i in chosen if grid[skill][i] == level)
                cost = max(cost, abs(count - share * SIZE / 4))
        if cost < best_cost:
            best, best_cost = chosen, cost
    return best


@cache
def plan() -> tuple[dict, ...]:
    rng = random.Random(SEED)  # noqa: S311 - a reproducible plan, not a secret
    grid = _levels(rng)
    sealed = _sealed(rng, grid)
    # Writing order: sealed and dev interleaved evenly, each in a seeded random order.
    sealed_order = sorted(sealed, key=lambda _: rng.random())
    dev_order = sorted(set(range(SIZE)) - sealed, key=lambda _: rng.random())
    order, s, d = [], 0, 0
    for position in range(SIZE):
        if s < len(sealed_order) and (s + 1) * SIZE / SEALED <= position + 1 + 1e-9:
            order.append(sealed_order[s])
            s += 1
        elif d < len(dev_order):
            order.append(dev_order[d])
            d += 1
        else:
            order.append(sealed_order[s])
            s += 1
    industries = [INDUSTRIES[i % len(INDUSTRIES)] for i in range(SIZE)]
    channels = [CHANNELS[i % len(CHANNELS)] for i in range(SIZE)]
    customers = [CUSTOMER_TYPES[i % len(CUSTOMER_TYPES)] for i in range(SIZE)]
    for column in (industries, channels, customers):
        rng.shuffle(column)
    items = []
    for number, index in enumerate(order, 1):
        levels = {skill: grid[skill][index] for skill in SKILLS}
        traps = [
            trap
            for trap, (skill, allowed, share) in TRAPS.items()
            if levels[skill] in allowed and rng.random() < share
        ]
        items.append(
            {
                "id": f"c{number:03d}",
                "part": "sealed" if index in sealed else "dev",
                "levels": levels,
                "industry": industries[number - 1],
                "channel": channels[number - 1],
                "customer_type": customers[number - 1],
                "traps": traps,
            }
        )
    return tuple(items)


def part_of(conversation_id: str) -> str | None:
    return next((p["part"] for p in plan() if p["id"] == conversation_id), None)


if __name__ == "__main__":
    for p in plan():
        levels = " ".join(str(p["levels"][s]) for s in SKILLS)
        print(
            f"{p['id']} {p['part']:6} {levels}  {p['industry']:16} {p['channel']:9} "
            f"{p['customer_type']:16} {', '.join(p['traps'])}"
        )
