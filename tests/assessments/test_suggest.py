"""The suggestion engine: evidence points at the agent's real words, and its levels agree with
the hand-graded set at least as well as recorded in docs/benchmarks.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from assessments.agreement import quadratic_weighted_kappa
from assessments.suggest import CRITERIA, suggest, tone
from assessments.transcripts import Transcript, parse

LABELLED = Path(__file__).parents[1] / "data" / "transcripts" / "labelled"
# Quadratic kappa of the engine against the hand grades (docs/benchmarks.md), less a margin:
# a change that makes suggestions clearly worse fails here.
FLOORS = {"empathy": 0.65, "active_listening": 0.45, "patience": 0.3,
          "positive_language": 0.5, "adaptability": 0.28}  # fmt: skip


def test_evidence_spans_are_the_words_they_cite():
    transcript = parse(
        b"Customer: This is the THIRD time I've called, I'm so frustrated.\n"
        b"Agent: I'm really sorry, I can hear how frustrating that is. So you've called three "
        b"times about the same fault, is that right?\n"
        b"Customer: Yes.\nAgent: What I can do is book an engineer for tomorrow morning.",
        "t.txt",
    )
    for suggestion in suggest(transcript):
        for evidence in suggestion.evidence:
            turn = transcript.turns[evidence.turn].text
            assert turn[evidence.start : evidence.end] == evidence.text
    levels = {s.criterion: s.level for s in suggest(transcript)}
    assert levels["empathy"] >= 3 and levels["positive_language"] >= 3


def test_an_agent_who_never_acknowledges_scores_low_on_empathy():
    transcript = parse(
        b"Customer: My father died and I need to close his account, I'm in pieces.\n"
        b"Agent: Account number?\nCustomer: 445566.\nAgent: You need to send a death certificate.",
        "t.txt",
    )
    empathy = next(s for s in suggest(transcript) if s.criterion == "empathy")
    assert empathy.level == 1 and "Never acknowledges" in empathy.reasons[0]


@pytest.mark.parametrize(
    "sentence",
    [
        "I'm happy to help, that's great news.",
        "This is terrible and I hate it.",
        "It is not good at all.",
        "Thanks so much, wonderful service!",
        "Unfortunately that is a problem and a disappointment.",
    ],
)
def test_tone_has_the_sign_vader_gives(sentence):
    vader = SentimentIntensityAnalyzer().polarity_scores(sentence)["compound"]
    assert (tone(sentence) > 0) == (vader > 0)


def test_agreement_with_hand_grades_stays_above_the_recorded_floor():
    items = [json.loads(p.read_text()) for p in sorted(LABELLED.glob("*.json"))]
    assert len(items) >= 40
    suggested = [{s.criterion: s.level for s in suggest(Transcript.from_json(i))} for i in items]
    for criterion in CRITERIA:
        human = [i["grades"][criterion] for i in items]
        engine = [s[criterion] for s in suggested]
        assert quadratic_weighted_kappa(human, engine, [1, 2, 3, 4]) >= FLOORS[criterion], criterion
