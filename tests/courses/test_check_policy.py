"""The trainer's knowledge check policy: whether a failed check shows the right answers, and
an attempt limit with a waiting time. Chosen per LMS for each course; the default holds the
answers back until the check is passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.db import db
from courses.checks import FINAL, CheckPolicy, Reveal, next_attempt_at
from courses.models import CheckAttempt, CheckPolicySetting
from tests.courses.flow import (
    BASICS_RIGHT,
    answer,
    as_person,
    check_questions,
    csrf,
    get,
    join,
    post,
    rows,
    start,
    text,
)
from tests.question_forms import fill, read_form

WRONG = {"promoter": ["b"], "passives": ["a"]}  # 0 of 2: "7" chosen, where 9 is right
EXPLANATION = "Promoters answer 9 or 10."
SETTINGS = "/courses/basics/check-settings"
CHECK = "/courses/basics/m/scores/check"


@pytest.fixture
def learner(app, lti, packs):
    lti.launch_and_follow("learner")
    join(lti)
    start(lti, "basics")
    return lti


def choose(app, lti, **form: str):
    """The LMS's trainer opens the check settings from the course page and saves them."""
    trainer = as_person(app, lti, "trainer", "policy-trainer", "Tess Trainer")
    course = get(trainer, "/courses/basics/")
    assert f'<a href="{SETTINGS}">Knowledge check settings</a>' in course.text
    settings = text(get(trainer, SETTINGS))
    assert "Once the check is passed" in settings and "Attempts in a row" in settings
    return post(trainer, SETTINGS, form, token_from=SETTINGS)


def feedback_after(learner, answers):
    sent = answer(learner, "basics", "scores", answers)
    assert sent.status_code == 302
    return text(get(learner, sent.headers["Location"]))


def test_by_default_a_failed_check_holds_the_answers_back_until_it_is_passed(app, learner):
    failed = feedback_after(learner, WRONG)
    assert "Not yet: 0 of 2 (0%)" in failed
    assert "Not quite" in failed and "Your answer 7" in failed  # what they chose, and that it
    assert "Correct answer" not in failed and EXPLANATION not in failed  # was wrong: no more
    assert "The right answers and explanations are shown once you pass" in failed
    passed = feedback_after(learner, BASICS_RIGHT)
    assert "Passed: 2 of 2 (100%)" in passed and EXPLANATION in passed


def test_a_trainer_may_show_the_answers_after_every_attempt(app, lti, learner):
    saved = choose(app, lti, reveal="after_attempt")
    assert saved.status_code == 302
    (setting,) = rows(app, CheckPolicySetting)
    assert setting.reveal == "after_attempt" and setting.max_attempts is None
    failed = feedback_after(learner, WRONG)
    assert "Your answer 7 Correct answer 9" in failed and EXPLANATION in failed


def test_never_keeps_the_answers_back_even_after_a_pass(app, lti, learner):
    choose(app, lti, reveal="never")
    answer(learner, "basics", "scores", {"promoter": ["a"], "passives": ["a"]})  # 1 of 2
    assert "Correct answer" not in text(get(learner, CHECK))


def test_the_attempt_limit_refuses_the_fourth_attempt_until_the_wait_is_over(app, lti, learner):
    assert (
        choose(app, lti, reveal="after_passing", max_attempts="3", wait_minutes="60").status_code
        == 302
    )
    for _ in range(2):
        feedback_after(learner, WRONG)
    # The check open in a second tab before the third attempt is sent after it.
    tab = get(learner, CHECK)
    form = fill(read_form(tab.text), check_questions(app, "basics", "scores"), BASICS_RIGHT)
    feedback_after(learner, WRONG)
    fourth = learner.client.post(learner.tool_base + CHECK, data={"csrf_token": csrf(tab), **form})
    assert fourth.status_code == 302
    page = text(get(learner, fourth.headers["Location"]))
    assert "No attempts left for now" in page
    last = max(a.submitted_at for a in rows(app, CheckAttempt))
    opens = (last + timedelta(minutes=60)).strftime("%d %B %Y, %H:%M")
    assert f"You can try again from {opens} UTC" in page
    assert "Check my answers" not in page  # no form to send
    assert len(rows(app, CheckAttempt)) == 3

    # An hour later (the stored attempts moved back, rather than the test sleeping).
    with app.app_context():
        for attempt in db.session.scalars(select(CheckAttempt)):
            attempt.submitted_at -= timedelta(minutes=61)
        db.session.commit()
        db.session.remove()
    assert "Check my answers" in text(get(learner, CHECK))
    passed = feedback_after(learner, BASICS_RIGHT)
    assert "Passed: 2 of 2 (100%)" in passed
    assert [a.passed for a in rows(app, CheckAttempt)] == [False, False, False, True]


def test_settings_are_checked_and_apply_to_one_lms(app, lti, learner):
    refused = choose(app, lti, reveal="after_attempt", wait_minutes="30")
    assert refused.status_code == 400
    assert "Set a number of attempts: the wait comes after they are used." in text(refused)
    assert rows(app, CheckPolicySetting) == []
    odd = choose(app, lti, reveal="everything", max_attempts="0")
    assert odd.status_code == 400 and "Between 1 and 20" in text(odd)
    half = choose(app, lti, reveal="never", max_attempts="2,5")
    assert half.status_code == 400 and "Enter a whole number" in text(half)
    assert rows(app, CheckPolicySetting) == []


T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def at(*minutes: int) -> list[datetime]:
    return [T0 + timedelta(minutes=m) for m in minutes]


def test_attempts_come_in_runs_separated_by_the_wait():
    limit = CheckPolicy(max_attempts=3, wait=timedelta(minutes=60))
    assert next_attempt_at(limit, at(0, 5), T0 + timedelta(minutes=6)) is None
    assert next_attempt_at(limit, at(0, 5, 10), T0 + timedelta(minutes=11)) == T0 + timedelta(
        minutes=70
    )
    assert next_attempt_at(limit, at(0, 5, 10), T0 + timedelta(minutes=70)) is None
    # After the wait a new run starts: three more.
    assert next_attempt_at(limit, at(0, 5, 10, 80, 81), T0 + timedelta(minutes=82)) is None
    assert next_attempt_at(limit, at(0, 5, 10, 80, 81, 82), T0 + timedelta(minutes=83)) == (
        T0 + timedelta(minutes=142)
    )
    final = CheckPolicy(max_attempts=2)
    assert next_attempt_at(final, at(0, 500), T0 + timedelta(days=30)) == FINAL
    assert next_attempt_at(CheckPolicy(), at(*range(50)), T0) is None
    assert CheckPolicy().reveal is Reveal.AFTER_PASSING
    assert not CheckPolicy().reveals(passed=False) and CheckPolicy().reveals(passed=True)
