"""Quizzes are marked on the server; item analysis is checked against scipy and a textbook
Cronbach's alpha."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from assessments.models import QuizAttempt
from assessments.quizzes import cronbach_alpha, item_analysis, mark_question, quizzes
from tests.courses.flow import as_person, browser, csrf, get, join, rows, text
from tests.question_forms import fill, read_form
from tests.question_forms import right_answers as key_answers

QUIZ = "service-skills-basics"
ORDERING = "order-of-a-good-reply"


def right_answers():
    return key_answers(quizzes()[QUIZ]["questions"])


def take_quiz(person, answers):
    """Open the quiz and send ``answers`` (the key's terms) through the controls it shows."""
    path = f"/assessments/quizzes/{QUIZ}"
    page = get(person, path)
    form = fill(read_form(page.text), quizzes()[QUIZ]["questions"], answers)
    return person.client.post(person.tool_base + path, data={"csrf_token": csrf(page), **form})


def test_ordering_gives_partial_credit_and_refuses_duplicates():
    question = next(q for q in quizzes()[QUIZ]["questions"] if q["id"] == ORDERING)
    assert mark_question(question, ["1", "2", "3", "4"]) == (1.0, None)
    assert mark_question(question, ["2", "1", "3", "4"]) == (0.5, None)
    assert (
        mark_question(question, ["1", "1", "3", "4"])[1]
        == "Give each step a different position from 1 to 4."
    )


def test_a_quiz_is_marked_and_recorded(app, lti):
    learner = browser(app, lti)
    learner.launch_and_follow("learner")
    join(learner)
    page = take_quiz(learner, right_answers())
    assert page.status_code == 200 and "Your score: 100%" in text(page)
    incomplete = take_quiz(learner, {"name-the-feeling": ["b"]})
    assert incomplete.status_code == 400 and "Answer every question" in text(incomplete)
    crafted = right_answers() | {"positive-phrases": ["a", "b", "c", "d"]}
    assert "Your score: 88%" in text(take_quiz(learner, crafted))
    assert [a.percent for a in rows(app, QuizAttempt)] == [100.0, 87.5]


def test_item_analysis_matches_scipy():
    rng = np.random.default_rng(11)
    ability = rng.normal(size=60)
    matrix = (ability[:, None] + rng.normal(size=(60, 5)) > 0).astype(float)
    result = item_analysis(["a", "b", "c", "d", "e"], matrix)
    for j, item in enumerate(result):
        rest = matrix.sum(axis=1) - matrix[:, j]
        assert item.facility == pytest.approx(matrix[:, j].mean())
        assert item.discrimination == pytest.approx(stats.pearsonr(matrix[:, j], rest).statistic)


def test_cronbach_alpha_equals_kr20_for_right_wrong_items():
    # For 0/1 items alpha is Kuder-Richardson 20: k/(k-1) * (1 - sum(p*q) / var(total)).
    # Here p = .6, .6, .4 (sum p*q = .72), totals 3,2,1,2,0 (variance 1.04): 1.5 * .32/1.04 = 6/13.
    scores = [[1, 1, 1], [1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0]]
    assert cronbach_alpha(scores) == pytest.approx(6 / 13)
    assert cronbach_alpha([[1, 1], [1, 1]]) is None  # no variance: not computable


def test_trainers_see_item_analysis_of_first_attempts(app, lti):
    answers = right_answers()
    for n in range(4):
        person = as_person(app, lti, "learner", f"quiz-{n}", f"Quinn {n}")
        join(person)
        form = dict(answers)
        if n % 2:
            form["jargon"] = ["a"]  # half the people miss this one
        take_quiz(person, form)
    lti.launch_and_follow("trainer")
    page = text(get(lti, f"/assessments/quizzes/{QUIZ}/analysis"))
    assert "4 people's first attempts" in page
    assert "Which reply adapts best? 50%" in page  # the jargon question: half missed it
    assert (
        get(browser_learner(app, lti), f"/assessments/quizzes/{QUIZ}/analysis").status_code == 403
    )


def browser_learner(app, lti):
    person = browser(app, lti)
    person.launch_and_follow("learner")
    return person
