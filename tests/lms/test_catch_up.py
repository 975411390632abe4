"""No score left behind: a result made outside a graded activity reaches that activity's
gradebook column when the learner launches it; a trainer's grade or a completion reaches every
graded activity that opens it; a score on its way shows on the learner's and trainer's pages.
Each score is followed into the development platform's gradebook over real HTTP."""

from __future__ import annotations

import pytest

from assessments.models import Grade
from core.db import db
from lms.devplatform.models import DevResourceLink, DevScore
from lms.models import GradeDelivery
from tests.assessments.test_flow import GOOD, SCENARIO, grade, place_scenario, take
from tests.assessments.test_quizzes import QUIZ, right_answers, take_quiz
from tests.courses.conftest import packs  # noqa: F401 - shared fixture
from tests.courses.flow import (
    browser,
    finish_basics,
    get,
    join,
    launch_link,
    place_course,
    rows,
    start,
    text,
)
from tests.lms.test_grades import drain


def gradebook(app, link_id: int) -> list[float]:
    """The scores the development platform holds in the column of its activity ``link_id``."""
    (link,) = [link for link in rows(app, DevResourceLink) if link.id == link_id]
    return [s.score_given for s in rows(app, DevScore) if s.lineitem_id == link.lineitem_id]


@pytest.mark.usefixtures("packs")
def test_a_course_finished_from_a_plain_launch_reaches_the_graded_activity(app, lti):
    learner = browser(app, lti)
    learner.launch_and_follow("learner")  # the demo activity: it opens no course
    join(learner)
    start(learner, "basics")
    finish_basics(learner)
    assert rows(app, GradeDelivery) == []  # no graded activity yet: nothing to send it to
    link = place_course(app, "basics")

    assert launch_link(learner, "learner", link).status_code == 303
    (waiting,) = rows(app, GradeDelivery)
    assert (waiting.status, waiting.score_given) == ("pending", 100.0)
    mine = text(get(learner, "/dashboard"))
    assert "Scores on their way to the LMS gradebook Course basics: 100 / 100" in mine.replace(
        " Your result is kept here; the LMS shows it once it has accepted it. "
        "Nothing to do on your side.",
        "",
    )
    trainer = browser(app, lti)
    trainer.launch_and_follow("trainer")
    assert "1 score not in the gradebook yet" in text(get(trainer, "/dashboard"))
    assert "Lena Learner Course basics 100 / 100 Waiting" in text(get(trainer, "/lms/grades"))

    drain(app)
    assert gradebook(app, link) == [100.0]
    assert "on their way" not in text(get(learner, "/dashboard"))
    launch_link(learner, "learner", link)  # launching again sends nothing more
    drain(app)
    assert len(rows(app, GradeDelivery)) == 1 and gradebook(app, link) == [100.0]


@pytest.mark.usefixtures("packs")
def test_a_completion_reaches_every_activity_that_opens_the_course(app, lti):
    first, second = place_course(app, "basics"), place_course(app, "basics")
    learner = browser(app, lti)
    launch_link(learner, "learner", second)
    launch_link(learner, "learner", first)  # finished here
    join(learner)
    start(learner, "basics")
    finish_basics(learner)
    drain(app)
    assert gradebook(app, first) == [100.0] and gradebook(app, second) == [100.0]


def test_a_trainer_graded_conversation_reaches_every_activity_of_its_scenario(app, lti):
    placed = place_scenario(app, SCENARIO)
    learner = browser(app, lti)
    launch_link(learner, "learner", placed)
    learner.launch_and_follow("learner")  # the conversation is taken from the demo activity
    join(learner)
    assessment_id = take(learner, SCENARIO, GOOD)
    assert rows(app, GradeDelivery) == []
    trainer = browser(app, lti)
    trainer.launch_and_follow("trainer")
    levels = {"empathy": 4, "active_listening": 3, "patience": 3}
    levels |= {"positive_language": 4, "adaptability": 3}
    assert grade(trainer, assessment_id, levels, "Warm.").status_code == 302
    (result,) = rows(app, Grade)
    drain(app)
    assert gradebook(app, placed) == [result.score_percent]
    launch_link(learner, "learner", placed)  # already there: nothing is queued again
    assert len(rows(app, GradeDelivery)) == 1


def test_a_quiz_taken_before_its_activity_reaches_it_at_launch(app, lti):
    learner = browser(app, lti)
    learner.launch_and_follow("learner")
    join(learner)
    assert "Your score: 100%" in text(take_quiz(learner, right_answers()))
    placed = place_scenario(app, SCENARIO)  # a graded activity; make it open the quiz:
    with app.app_context():
        db.session.get(DevResourceLink, placed).custom = {"target": f"quiz:{QUIZ}"}
        db.session.commit()
        db.session.remove()
    assert launch_link(learner, "learner", placed).headers["Location"] == (
        f"/assessments/quizzes/{QUIZ}"
    )
    drain(app)
    assert gradebook(app, placed) == [100.0]
