"""Counts and correlations of the labelled corpus (assessments/corpus/): conversations per part,
levels per skill (overall and per part), traps, channels, industries, customer types, and the
Pearson correlation between every pair of skills, and how often a few stock phrases occur at
each level of the skill they are usually taken as evidence for (a phrase that occurs at one level
only would let a model score the phrase instead of the behaviour). It counts; it fits nothing, so
running it over the sealed part is not tuning.

    .venv/bin/python bench/corpus_stats.py
"""

from __future__ import annotations

import json
import re
from collections import Counter

from common import ROOT

from assessments.corpus.plan import SKILLS, pearson

CORPUS = ROOT / "assessments" / "corpus"
SHORT = {
    "empathy": "EMP",
    "active_listening": "LIS",
    "patience": "PAT",
    "positive_language": "POS",
    "adaptability": "ADA",
}


# Skill -> stock phrases that look like evidence for it, matched in the agent's turns.
CUES = {
    "empathy": {
        "I understand / we appreciate": (
            r"\b(i|we) (completely |totally )?(understand|appreciate|get) (your|how|this)"
        ),
        "sorry for the inconvenience / about that": (
            r"sorry (for (the|any) inconvenience|about that|to hear)"
        ),
    },
    "active_listening": {"is that right? / right?": r"is that (right|correct)|right\?"},
    "patience": {
        "take your time / no rush": r"take your time|no rush",
        "in other words / put another way": r"in other words|put (it )?another way|put differently",
        "as I said / as stated": r"as (i )?(said|stated)|already (said|stated|explained|told)",
    },
    "positive_language": {
        "what I can do / good news": r"what i can do|here's what|good news|great news",
    },
    "adaptability": {"call / text / link offered": r"(call|ring|text) you|link"},
}


def load() -> dict[str, list[dict]]:
    parts = {}
    for part in ("dev", "sealed"):
        parts[part] = [json.loads(p.read_text()) for p in sorted((CORPUS / part).glob("*.json"))]
    return parts


def agent_text(item: dict) -> str:
    return "\n".join(t["text"] for t in item["turns"] if t["speaker"] == "agent")


def correlations(items: list[dict]) -> dict[tuple[str, str], float]:
    columns = {s: [i["grades"][s] for i in items] for s in SKILLS}
    return {
        (a, b): pearson(columns[a], columns[b])
        for i, a in enumerate(SKILLS)
        for b in SKILLS[i + 1 :]
    }


def main() -> None:
    parts = load()
    everything = parts["dev"] + parts["sealed"]
    print(
        f"conversations: {len(everything)} (dev {len(parts['dev'])}, sealed {len(parts['sealed'])})"
    )
    print("\nlevels per skill: all (dev / sealed)")
    print(f"{'skill':18}" + "".join(f"{'level ' + str(v):>16}" for v in (1, 2, 3, 4)))
    for skill in SKILLS:
        cells = []
        for level in (1, 2, 3, 4):
            d = sum(i["grades"][skill] == level for i in parts["dev"])
            s = sum(i["grades"][skill] == level for i in parts["sealed"])
            cells.append(f"{d + s:>4} ({d:>3} /{s:>3})")
        print(f"{skill:18}" + "".join(f"{c:>16}" for c in cells))
    print("\ntraps: all (dev / sealed)")
    traps = sorted({t for i in everything for t in i.get("traps", [])})
    for trap in traps:
        d = sum(trap in i.get("traps", []) for i in parts["dev"])
        s = sum(trap in i.get("traps", []) for i in parts["sealed"])
        print(f"  {trap:42}{d + s:>4} ({d:>3} /{s:>3})")
    for key in ("source", "industry", "customer_type"):
        counts = Counter(i.get(key, "?") for i in everything)
        print(f"\n{key}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print("\nPearson r between skills (all conversations)")
    table = correlations(everything)
    print("     " + "".join(f"{SHORT[s]:>7}" for s in SKILLS))
    for a in SKILLS:
        row = []
        for b in SKILLS:
            r = 1.0 if a == b else table.get((a, b), table.get((b, a)))
            row.append(f"{r:>7.2f}")
        print(f"{SHORT[a]:5}" + "".join(row))
    worst = max(table, key=lambda k: abs(table[k]))
    print(f"\nlargest |r|: {abs(table[worst]):.2f} ({worst[0]} / {worst[1]})")
    print("\nconversations whose agent uses a stock phrase, by the level of the skill it suggests")
    print(f"{'skill':18}{'phrase':42}" + "".join(f"{'L' + str(v):>5}" for v in (1, 2, 3, 4)))
    for skill, phrases in CUES.items():
        for name, pattern in phrases.items():
            found = [i for i in everything if re.search(pattern, agent_text(i), re.IGNORECASE)]
            counts = Counter(i["grades"][skill] for i in found)
            print(f"{skill:18}{name:42}" + "".join(f"{counts[v]:>5}" for v in (1, 2, 3, 4)))


if __name__ == "__main__":
    main()
