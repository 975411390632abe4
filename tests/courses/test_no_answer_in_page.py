"""No answer in the page: every question of every built-in course's knowledge checks and of
every built-in quiz, read from its rendered HTML as a browser gets it, cannot be answered from
that HTML.

Each page is rendered afresh several times. From each render the test derives an answer by
every simple strategy a script could use (document order, either end of it, names, values or
ids sorted), and submits it. A strategy that reads the key off the page would be right on
every render; by chance it is right about as often as a guess. The quiz is marked by the
server over HTTP (where the ordering question's field names once gave the right positions);
the checks are marked by the same function the check page calls, to keep the many renders
quick.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from assessments.models import QuizAttempt
from assessments.quizzes import quizzes
from core.db import db
from core.questions import mark_all
from courses.pack import load_directory, pack_directories
from courses.services import catalogue, import_packs, outline_of
from tests.courses.flow import check_questions, csrf, get, join, rows, text
from tests.question_forms import ShownForm, ShownQuestion, fill, read_form, right_answers

CONTENT = Path(__file__).parents[2] / "courses" / "content"
RENDERS = 12
Strategy = Callable[[ShownQuestion], dict[str, list[str]]]


def _pick(choose: Callable[[list], object]) -> Strategy:
    """Choice questions: the one option ``choose`` picks. Orderings: positions 1..n given in
    the order ``choose`` puts the items (it is handed the list and returns it reordered)."""

    def strategy(shown: ShownQuestion) -> dict[str, list[str]]:
        controls = shown.controls
        if controls[0].type == "select":
            return {c.name: [str(i + 1)] for i, c in enumerate(choose(list(controls)))}
        if controls[0].type in ("radio", "checkbox"):
            picked = choose(list(controls))
            picked = picked[0] if isinstance(picked, list) else picked
            return {picked.name: [picked.value]}
        return {}

    return strategy


STRATEGIES: dict[str, Strategy] = {
    "document order": _pick(lambda cs: cs),
    "reverse document order": _pick(lambda cs: cs[::-1]),
    "sorted by name, then value": _pick(lambda cs: sorted(cs, key=lambda c: (c.name, c.value))),
    "sorted by value, descending": _pick(
        lambda cs: sorted(cs, key=lambda c: (c.value, c.name), reverse=True)
    ),
    "sorted by id": _pick(lambda cs: sorted(cs, key=lambda c: c.id)),
}


def chance(question: dict) -> float:
    """How often a fixed pick is right when the page tells nothing."""
    if question["type"] == "single":
        return 1 / len(question["options"])
    if question["type"] == "multiple":  # one option picked: right only if it alone is right
        correct = sum(bool(o.get("correct")) for o in question["options"])
        return 1 / len(question["options"]) if correct == 1 else 0.0
    if question["type"] == "ordering":
        return 1 / math.factorial(len(question["items"]))
    return 0.0


def strategy_forms(shown: ShownForm) -> dict[str, dict[str, list[str]]]:
    forms = {}
    for name, strategy in STRATEGIES.items():
        form = {key: [value] for key, value in shown.hidden.items()}
        for question in shown.questions:
            form.update(strategy(question))
        forms[name] = form
    return forms


def attributes_of(shown: ShownForm) -> set[str]:
    return {
        value
        for question in shown.questions
        for control in question.controls
        for key, value in control.attrs.items()
        if key in ("name", "value", "id") and value
    }


class Tally:
    """Hits per (page, question, strategy) over the renders, and the chance of each."""

    def __init__(self) -> None:
        self.hits: Counter[tuple[str, str, str]] = Counter()
        self.expected = Counter[str]()
        self.observed = Counter[str]()

    def add(self, page: str, question: dict, strategy: str, right: bool) -> None:
        self.hits[(page, question["id"], strategy)] += right
        self.expected[strategy] += chance(question)
        self.observed[strategy] += right

    def assert_no_better_than_chance(self) -> None:
        reliable = [key for key, hits in self.hits.items() if hits >= RENDERS]
        assert reliable == [], f"answered from the HTML on every render: {reliable}"
        for strategy, expected in self.expected.items():
            # A leak makes a strategy right nearly every time; chance stays within a few
            # standard deviations of its expectation (a Poisson bound, generous on purpose).
            bound = expected + 5 * math.sqrt(expected) + 3
            assert self.observed[strategy] <= bound, (strategy, self.observed[strategy], expected)


def check_shown(shown: ShownForm, questions: list[dict]) -> None:
    """What a single render must hold: a nonce, every question shown, and nothing typed in."""
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", shown.nonce)
    assert len(shown.questions) == len(questions)
    for question, fieldset in zip(questions, shown.questions, strict=True):
        assert fieldset.legend  # every question has its legend
        for control in fieldset.controls:
            assert control.label, f"unlabelled control in {fieldset.legend!r}"
            if control.type == "text":
                assert control.value == ""  # a numeric question arrives empty
        if question["type"] == "numeric":
            answer = f"{question['answer']:g}"
            assert answer not in attributes_of(ShownForm({}, [fieldset]))


@pytest.fixture
def built_ins(app):
    with app.app_context():
        import_packs(db.session, [load_directory(d) for d in pack_directories(CONTENT)], "tests")
        db.session.commit()
        pages = [
            (course.slug, module["slug"])
            for course in catalogue(db.session, None)
            for module in outline_of(db.session, course).modules
        ]
        db.session.remove()
    return pages


def test_no_check_question_can_be_answered_from_its_page(app, lti, built_ins):
    assert len(built_ins) >= 30  # eight courses, every module
    lti.launch_and_follow("trainer")  # staff preview the checks: the same form learners get
    secret = app.config["SECRET_KEY"]
    tally = Tally()
    for slug, module in built_ins:
        questions = check_questions(app, slug, module)
        path = f"/courses/{slug}/m/{module}/check"
        seen: list[set[str]] = []
        for _ in range(RENDERS):
            shown = read_form(get(lti, path).text)
            check_shown(shown, questions)
            seen.append(attributes_of(shown))
            for strategy, form in strategy_forms(shown).items():
                _, marked = mark_all(questions, secret, form)
                for question, mark in zip(questions, marked, strict=True):
                    if question["type"] != "numeric":
                        tally.add(path, question, strategy, mark.correct)
            # The key itself, sent through this render's controls, is right: the page is usable.
            _, marked = mark_all(
                questions, secret, fill(shown, questions, right_answers(questions))
            )
            assert all(m.correct for m in marked)
        # Two renders share no name, value or id.
        assert all(a.isdisjoint(b) for a, b in itertools.pairwise(seen))
    tally.assert_no_better_than_chance()


QUIZ_RESULT = re.compile(r'<li class="card feedback (right|wrong)">')


def test_no_quiz_question_can_be_answered_from_its_page(app, lti):
    lti.launch_and_follow("learner")
    join(lti)
    tally = Tally()
    for quiz_id, quiz in quizzes().items():
        questions = quiz["questions"]
        path = f"/assessments/quizzes/{quiz_id}"
        for _ in range(RENDERS):
            page = get(lti, path)
            shown = read_form(page.text)
            check_shown(shown, questions)
            for strategy, form in strategy_forms(shown).items():
                # Numeric questions answered with a number nobody's key holds, so the form is
                # complete and the server marks it.
                for question, fieldset in zip(questions, shown.questions, strict=True):
                    if question["type"] == "numeric":
                        form[fieldset.controls[0].name] = ["-987654"]
                marked = lti.client.post(
                    lti.tool_base + path, data={"csrf_token": csrf(page), **form}
                )
                assert marked.status_code == 200, text(marked)
                results = QUIZ_RESULT.findall(marked.text)
                assert len(results) == len(questions)
                for question, result in zip(questions, results, strict=True):
                    if question["type"] != "numeric":
                        tally.add(path, question, strategy, result == "right")
    tally.assert_no_better_than_chance()


def test_an_answer_from_one_render_is_refused_in_another(app, lti):
    lti.launch_and_follow("learner")
    join(lti)
    quiz_id, quiz = next(iter(quizzes().items()))
    path = f"/assessments/quizzes/{quiz_id}"
    first, second = get(lti, path), get(lti, path)
    first_form, second_form = read_form(first.text), read_form(second.text)
    assert first_form.nonce != second_form.nonce
    assert attributes_of(first_form).isdisjoint(attributes_of(second_form))
    right = fill(first_form, quiz["questions"], right_answers(quiz["questions"]))

    # The first render's answers sent as the second render's: no option or item is known.
    crossed = {**right, "attempt": [second_form.nonce]}
    refused = lti.client.post(lti.tool_base + path, data={"csrf_token": csrf(second), **crossed})
    assert refused.status_code == 400
    page = text(refused)
    assert "Choose among the answers shown." in page or "Choose one answer." in page
    assert "Give each step a different position" in page or "Give each step a position" in page
    assert rows(app, QuizAttempt) == []

    # Under its own render, the same answers are all right.
    accepted = lti.client.post(lti.tool_base + path, data={"csrf_token": csrf(first), **right})
    assert "Your score: 100%" in text(accepted)
    assert [a.percent for a in rows(app, QuizAttempt)] == [100.0]
