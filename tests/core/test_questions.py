"""The one question engine: knowledge checks and quizzes mark the same way, with the same
messages, read numbers with the one number reader, and a course pack may use every kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from assessments.quizzes import mark_quiz
from core.questions import NONCE_FIELD, Seal, present_all
from courses.checks import mark_check
from courses.pack import files_from_directory, load_pack

SECRET = "test-secret"
BASICS = Path(__file__).parents[1] / "data" / "packs" / "basics"
ORDERING = {
    "id": "steps",
    "type": "ordering",
    "prompt": "Put the steps in order.",
    "explanation": "Listen, then restate, then act.",
    "items": ["Listen", "Restate", "Act"],
}
NUMBER = {
    "id": "mean",
    "type": "numeric",
    "prompt": "220 over 40?",
    "explanation": "220 / 40 = 5.5",
    "answer": 5.5,
    "tolerance": 0.05,
}


def typed(question: dict, text: str) -> dict[str, list[str]]:
    """The form a person sends after typing ``text`` into the question's box."""
    presented = present_all([question], SECRET)
    return {NONCE_FIELD: [presented.nonce], presented.shown[question["id"]].name: [text]}


@pytest.mark.parametrize(
    ("text", "right", "message"),
    [
        ("5.5", True, None),
        ("5,5", True, None),  # a decimal comma
        (" 5,50 ", True, None),
        ("12 000", False, None),  # read as twelve thousand, and wrong
        ("1e3", False, "uses an exponent"),  # float() took it as 1000
        ("1e309", False, "uses an exponent"),  # float() took it as infinity
        ("five", False, "is not a number"),
    ],
)
def test_checks_and_quizzes_read_a_typed_number_alike(text, right, message):
    check = mark_check([NUMBER], typed(NUMBER, text), SECRET)
    quiz = mark_quiz({"questions": [NUMBER]}, typed(NUMBER, text), SECRET)
    assert check.questions[0].correct is right and (quiz.scores["mean"] == 1.0) is right
    assert check.errors.get("mean") == quiz.errors.get("mean")
    if message:
        assert message in check.errors["mean"]
    else:
        assert "mean" not in check.errors


def test_an_ordering_is_marked_by_item_whatever_order_it_was_shown_in():
    seal = Seal.new(SECRET)
    shown = present_all([ORDERING], SECRET, seal=seal).shown["steps"]
    positions = {"Listen": "1", "Restate": "3", "Act": "2"}  # two of three out of place
    form = {NONCE_FIELD: [seal.nonce]} | {c.name: [positions[c.text]] for c in shown.choices}
    result = mark_quiz({"questions": [ORDERING]}, form, SECRET)
    assert result.scores == {"steps": pytest.approx(1 / 3)}
    assert result.given == {"steps": ["1", "3", "2"]}  # positions of the authored items
    check = mark_check([ORDERING], form, SECRET)
    assert check.score == pytest.approx(1 / 3) and not check.questions[0].correct


def test_a_form_without_its_render_reads_as_unanswered():
    form = {"steps__0": ["1"], "steps__1": ["2"], "steps__2": ["3"]}  # the old, telling names
    result = mark_quiz({"questions": [ORDERING]}, form, SECRET)
    assert result.scores == {"steps": 0.0}
    assert result.errors == {"steps": "Give each step a different position from 1 to 3."}


def test_a_course_pack_may_put_an_ordering_question_in_a_check():
    files = files_from_directory(BASICS)
    files["m2/check.yaml"] = (
        files["m2/check.yaml"].decode()
        + """  - id: steps
    type: ordering
    prompt: Put the steps of computing NPS in order.
    items: [Count the answers, Take the shares, Subtract detractors from promoters]
    explanation: Count, then take each group's share, then subtract.
"""
    ).encode()
    pack = load_pack(files, origin="basics")
    questions = pack.document["modules"][1]["check"]["questions"]
    assert questions[-1]["items"][0] == "Count the answers"
