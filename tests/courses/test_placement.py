"""A trainer places a course (or one module) in the LMS course with the deep-linking picker;
launching the created activity opens it, and its grade goes to the column it created."""

from __future__ import annotations

from core.db import db
from courses.models import CourseResult
from lms.devplatform.models import DevLineItem, DevResourceLink, DevScore
from tests.courses.flow import browser, finish_basics, get, join, launch_link, rows, start, text
from tests.lms.test_deep_linking import open_picker
from tests.lms.test_grades import drain
from tests.lti import csrf_token_for, form_fields


def test_a_placed_course_launches_and_reports_its_grade(app, lti, packs):
    picker = text(open_picker(lti))
    assert "Survey basics" in picker and "Survey basics: Computing NPS" in picker
    answer = lti.client.post(
        lti.tool_base + "/lms/deep-link",
        data={
            "csrf_token": csrf_token_for(app, lti.client),
            "target": ["course:basics", "course:basics/nps"],
        },
    )
    action, fields = form_fields(answer.text)
    assert "Added 2 activities" in text(lti.client.post(action, data=fields))
    links = sorted(rows(app, DevResourceLink), key=lambda link: link.id)
    assert [link.custom["target"] for link in links] == ["course:basics", "course:basics/nps"]
    with app.app_context():
        column = db.session.get(DevLineItem, links[0].lineitem_id)
        assert (column.label, column.score_maximum) == ("Survey basics", 100)
        db.session.remove()
    assert links[1].lineitem_id is None  # a module is not graded on its own

    learner = browser(app, lti)
    assert launch_link(learner, "learner", links[1].id).headers["Location"] == (
        "/courses/basics/m/nps/"
    )
    # Not started yet: the module sends them to the course page to join and start.
    assert "Join the programme to take this course" in text(
        learner.client.get(learner.tool_base + "/courses/basics/", follow_redirects=True)
    )
    assert launch_link(learner, "learner", links[0].id).headers["Location"] == "/courses/basics/"
    join(learner)
    start(learner, "basics")
    finish_basics(learner)
    assert len(rows(app, CourseResult)) == 1
    drain(app)
    (score,) = rows(app, DevScore)
    assert (score.lineitem_id, score.score_given) == (links[0].lineitem_id, 100.0)
    assert "You completed this course" in text(get(learner, "/courses/basics/"))
