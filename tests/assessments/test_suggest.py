"""The suggestion engine: evidence quotes are the transcript's exact words, the features read
what was said (the traps of issue 21), and the fitted model behaves like a model of the
rubric. How far its levels agree with human graders is a bench figure (docs/benchmarks.md),
not a pass/fail test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from assessments.features import (
    DESCRIPTIONS,
    FEATURES,
    PHRASE_FEATURES,
    Conversation,
    measure_all,
)
from assessments.suggest import CRITERIA, suggest, tone
from assessments.suggest_model import builtin_model
from assessments.transcripts import Transcript, Turn, parse

ROOT = Path(__file__).parents[2]
LABELLED = sorted(
    [
        *(ROOT / "tests" / "data" / "transcripts" / "labelled").glob("*.json"),
        *(ROOT / "assessments" / "corpus").glob("*/*.json"),
    ]
)


def chat(*turns: str, channel: str = "chat") -> Transcript:
    """Alternating customer and agent turns, the customer first."""
    speakers = ("customer", "agent")
    return Transcript([Turn(speakers[i % 2], t) for i, t in enumerate(turns)], channel)


def levels(transcript: Transcript) -> dict[str, int]:
    return {s.criterion: s.level for s in suggest(transcript)}


def notes(transcript: Transcript, name: str) -> list[str]:
    return [e.text for e in FEATURES[name](Conversation.of(transcript)).evidence]


@pytest.mark.parametrize("path", LABELLED, ids=lambda p: p.stem)
def test_every_evidence_quote_is_the_transcripts_exact_text(path):
    transcript = Transcript.from_json(json.loads(path.read_text()))
    for measure in measure_all(transcript).values():
        for e in measure.evidence:
            assert transcript.turns[e.turn].text[e.start : e.end] == e.text
    for suggestion in suggest(transcript):
        assert 1 <= suggestion.level <= 4 and 0 < suggestion.confidence <= 1
        for e in suggestion.evidence:
            assert transcript.turns[e.turn].text[e.start : e.end] == e.text


def test_quotes_keep_the_customers_capitals():
    """A quote cut from lower-cased text once read "domain" for "Domain"."""
    transcript = chat(
        "My Domain renewal failed and the Domain Transfer page shows an error.",
        "So your Domain renewal did not go through and the Transfer page gives an error, right?",
    )
    for measure in measure_all(transcript).values():
        for e in measure.evidence:
            assert transcript.turns[e.turn].text[e.start : e.end] == e.text
    assert any("Domain" in text for text in notes(transcript, "paraphrase"))


def test_quotes_survive_letters_whose_lower_case_is_longer():
    transcript = chat("İstanbul office charged me twice!", "I'm so sorry, that must be stressful.")
    for measure in measure_all(transcript).values():
        for e in measure.evidence:
            assert transcript.turns[e.turn].text[e.start : e.end] == e.text


def test_stock_empathy_followed_by_the_system_is_hollow_not_empathy():
    dismissive = chat(
        "I've been charged a late fee but I paid on time, I'm really upset.",
        "I understand your frustration. Unfortunately it's the way the system works, the fee "
        "can't be removed.",
        "So you won't do anything?",
        "I'm sorry you feel that way. You can fill in the complaints form on the website.",
    )
    caring = chat(
        "I've been charged a late fee but I paid on time, I'm really upset.",
        "A late fee when you paid on time isn't right, and it's our job to put it straight. "
        "I've removed the fee now and I'll email you confirmation today.",
        "Oh, thank you.",
        "You're welcome. I've also added a note so the late fee won't come back next month.",
    )
    assert notes(dismissive, "empathy_hollow")
    assert not notes(dismissive, "empathy_genuine")
    assert levels(dismissive)["empathy"] <= 2
    assert levels(caring)["empathy"] > levels(dismissive)["empathy"]


def test_ownership_and_the_customers_own_situation_count_as_care():
    transcript = chat(
        "My fridge broke on Monday and I've got insulin that has to stay cold.",
        "Insulin that needs to stay cold can't wait. I've booked an engineer for tomorrow "
        "morning and I'll call you at 8 to confirm the time.",
    )
    assert notes(transcript, "ownership_timed")
    assert notes(transcript, "specific_care")


def test_a_paraphrase_in_new_words_is_listening_and_reading_the_account_is_not_empathy():
    transcript = chat(
        "You've taken £42.99 twice this month and payday isn't until Friday, I need it back.",
        "I can see the duplicate payment. So the payment was taken twice and you need it "
        "back before Friday, is that right?",
    )
    assert any(
        t.startswith("So the payment was taken twice") for t in notes(transcript, "paraphrase")
    )
    assert not any("I can see" in t for t in notes(transcript, "empathy_genuine"))


def test_asking_again_for_what_the_customer_gave_counts_against_listening():
    transcript = chat(
        "My order W-55120-8 never arrived.",
        "Sorry about that. What's the order number?",
    )
    assert notes(transcript, "asks_again") == ["What's the order number?"]


def test_a_repeated_question_and_an_unchanged_reply():
    transcript = chat(
        "When will my refund arrive?",
        "Refunds are processed within 14 days.",
        "But when will my refund actually arrive?",
        "Refunds are processed within 14 days.",
    )
    assert notes(transcript, "repeated_question")
    assert notes(transcript, "same_reply")


def test_a_refusal_with_an_alternative_is_not_a_bare_refusal():
    bare = chat("Can I get a morning slot?", "No, timed slots aren't available. That's the policy.")
    offered = chat(
        "Can I get a morning slot?",
        "Timed slots aren't available on redeliveries, but what I can do is book the first "
        "drop of the day and text you when the driver is on the way.",
    )
    assert notes(bare, "refusal_bare") and not notes(bare, "refusal_with_alternative")
    assert notes(offered, "refusal_with_alternative") and not notes(offered, "refusal_bare")
    assert levels(offered)["positive_language"] >= levels(bare)["positive_language"]


def test_jargon_the_customer_did_not_use_and_length_against_the_channel():
    transcript = chat(
        "my internet isnt working, im not techy at all",
        "Please check the DNS settings and flush the browser cache, then power-cycle the ONT.",
    )
    assert {t.lower() for t in notes(transcript, "jargon")} >= {"dns", "ont"}
    assert notes(transcript, "jargon_to_confused")


def test_care_named_in_the_customers_situation_is_not_hollow_even_beside_a_refusal():
    """The rubric's level 1 is a stock phrase then dismissal; naming how this customer's own
    situation feels is care, even when the answer is still no."""
    stock = chat(
        "My passport won't arrive before our flight to Spain with the children.",
        "I understand your frustration. Unfortunately we can't move the flight.",
    )
    named = chat(
        "My passport won't arrive before our flight to Spain with the children.",
        "That's a horrible feeling, with the children so excited about Spain. Unfortunately "
        "we can't move the flight.",
    )
    assert notes(stock, "empathy_hollow") and not notes(stock, "feeling_in_situation")
    assert not notes(named, "empathy_hollow")
    assert notes(named, "feeling_in_situation")


def test_abbreviations_count_as_jargon_unless_the_customer_used_them_or_everyone_knows_them():
    transcript = chat(
        "Is my PIN the problem? I'm not good with this stuff.",
        "No, your PIN is fine. The PSR flag and the DNO notice are on your account, and your "
        "PIN stays the same.",
    )
    assert notes(transcript, "abbreviations") == ["PSR", "DNO"]
    assert notes(transcript, "jargon_unexplained")
    explained = chat(
        "Why was the power off?",
        "The DNO, that means the company that runs the local cables, did planned work.",
    )
    assert notes(explained, "abbreviations") == ["DNO"]
    assert not notes(explained, "jargon_unexplained")


def test_a_customer_correcting_the_agent_counts_against_listening():
    transcript = chat(
        "I can't get to the branch in town, the bus stopped running.",
        "So you need a way to bank from home, is that right? Our app is easy to use.",
        "No, I don't use online banking. I asked about getting to a branch.",
    )
    assert notes(transcript, "customer_corrects")


def test_hurrying_the_customer_counts_as_impatience_and_slowing_down_as_patience():
    hurried = chat(
        "I just wanted to say that the last time I rang, the person said",
        "I need to stop you there. Moving on, what's the account number?",
    )
    slowed = chat(
        "I'm sorry, I'm getting myself in a muddle with all this.",
        "Don't apologise, take a breath. Are you all right with going through it together?",
    )
    assert len(notes(hurried, "impatient")) == 2
    assert notes(slowed, "patient_phrases")


def test_each_phrase_feature_is_declared_once_and_registered():
    names = [f.name for f in PHRASE_FEATURES]
    assert len(names) == len(set(names))
    for phrase in PHRASE_FEATURES:
        assert FEATURES[phrase.name] is phrase and DESCRIPTIONS[phrase.name]


def test_the_model_file_uses_registered_features_and_a_weight_per_feature():
    model = builtin_model()
    assert set(model.skills) == set(CRITERIA)
    for skill in model.skills.values():
        assert set(skill.features) <= set(FEATURES)
        assert len(skill.weights) == len(skill.features)
        assert list(skill.cuts) == sorted(skill.cuts, reverse=True)
    assert model.about["conversations"] >= 48


def test_suggestions_spread_over_the_levels():
    """A model that puts nearly everything on one level is useless to a grader (issue 21:
    30 of 40 adaptability suggestions were 3)."""
    paths = sorted((ROOT / "tests" / "data" / "transcripts" / "labelled").glob("*.json"))
    suggested = [levels(Transcript.from_json(json.loads(p.read_text()))) for p in paths]
    for criterion in CRITERIA:
        counts = [sum(1 for s in suggested if s[criterion] == level) for level in (1, 2, 3, 4)]
        assert max(counts) <= 0.7 * len(paths), (criterion, counts)


def test_evidence_spans_are_the_words_they_cite_in_a_parsed_transcript():
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
