"""A learner takes a course: lessons, checks with feedback, the exercise, completion, the grade
in the LMS gradebook and a certificate anyone can verify."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from courses.models import CheckAttempt, CourseResult, Enrolment, ExerciseSubmission, ItemProgress
from lms.devplatform.models import DevScore
from lms.models import GradeDelivery
from tests.courses.flow import (
    BASICS_RIGHT,
    NPS_RIGHT,
    answer,
    exercise,
    finish_basics,
    get,
    join,
    launch_link,
    place_course,
    read,
    rows,
    start,
    text,
)
from tests.lms.test_grades import drain


@pytest.fixture
def learner(app, lti, packs):
    lti.launch_and_follow("learner")
    join(lti)
    return lti


def test_a_course_page_shows_modules_and_renders_content_safely(learner):
    start(learner, "basics")
    page = text(get(learner, "/courses/basics/"))
    assert "1. Reading scores" in page and "2. Computing NPS" in page
    assert "Final exercise: Compute NPS" in page
    lesson = get(learner, "/courses/basics/m/scores/scales")
    assert "<table>" in lesson.text and 'class="table-scroll"' in lesson.text
    assert (
        '<img src="/courses/assets/' in lesson.text
        and 'alt="The scale coloured by group"' in lesson.text
    )
    # Raw HTML in a pack is shown as text, never run.
    assert "<script>alert" not in lesson.text and "&lt;script&gt;alert" in lesson.text
    image = get(learner, lesson.text.split('<img src="')[1].split('"')[0])
    assert image.status_code == 200 and image.mimetype == "image/svg+xml"
    assert image.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_progress_and_resume_where_they_left_off(app, learner):
    start(learner, "basics")
    assert read(learner, "basics", "scores", "scales").headers["Location"] == (
        "/courses/basics/m/scores/groups"
    )
    read(learner, "basics", "scores", "groups")
    # Reading the same lesson twice counts once.
    read(learner, "basics", "scores", "groups")
    assert sorted(p.item for p in rows(app, ItemProgress)) == ["scores/groups", "scores/scales"]
    course = text(get(learner, "/courses/basics/"))
    assert "25% done" in course  # 2 of 8 parts
    assert "Continue: A week at the help desk" in course
    resume = get(learner, "/courses/basics/continue")
    assert resume.headers["Location"] == "/courses/basics/m/scores/example"


def test_a_check_gives_feedback_and_counts_once(app, learner):
    start(learner, "basics")
    wrong = answer(learner, "basics", "scores", {"promoter": ["b"], "passives": ["a"]})
    assert wrong.status_code == 302
    feedback = text(get(learner, wrong.headers["Location"]))
    assert "Not yet: 0 of 2 (0%)" in feedback
    # What was chosen and that it was wrong; the right answer waits for a pass (the default
    # policy, tests/courses/test_check_policy.py).
    assert "Your answer 7" in feedback and "Correct answer" not in feedback
    assert "Try again" in feedback

    right = answer(learner, "basics", "scores", BASICS_RIGHT)
    assert "Passed: 2 of 2 (100%)" in text(get(learner, right.headers["Location"]))
    again = answer(learner, "basics", "scores", {"promoter": ["b"], "passives": ["c"]})
    assert "You already passed this check" in text(get(learner, again.headers["Location"]))
    attempts = rows(app, CheckAttempt)
    assert [(a.score, a.passed) for a in attempts] == [(0.0, False), (2.0, True)]


def test_a_crafted_answer_cannot_pass_or_score_above_the_maximum(app, learner):
    start(learner, "basics")
    crafted = answer(
        learner,
        "basics",
        "scores",
        # Every option ticked, unknown options, a question that does not exist, repeats.
        {"promoter": ["a", "a"], "passives": ["a", "b", "c", "zz"], "bonus": ["a"]},
    )
    assert crafted.status_code == 400
    assert "Choose one answer." in text(crafted)
    ticked_all = answer(
        learner, "basics", "scores", {"promoter": ["a"], "passives": ["a", "b", "c"]}
    )
    assert ticked_all.status_code == 302
    (attempt,) = rows(app, CheckAttempt)
    assert (attempt.score, attempt.maximum, attempt.passed) == (1.0, 2.0, False)
    missing = answer(learner, "basics", "nps", {"range": ["a"]})
    assert missing.status_code == 400 and "Enter a number." in text(missing)
    # Said where it happens: a summary linking to the question's control, which is marked
    # invalid and described by the message.
    assert re.search(
        r'role="alert"[^>]*>.*<a href="#[^"]+">Question \d: Enter a number\.</a>',
        missing.text,
        re.S,
    )
    assert re.search(r'<input[^>]*aria-invalid="true" aria-describedby="[^"]+-error"', missing.text)
    assert len(rows(app, CheckAttempt)) == 1


def test_finishing_a_course_records_the_result_sends_the_grade_and_issues_a_certificate(
    app, lti, packs
):
    link = place_course(app, "basics")
    launch = launch_link(lti, "learner", link)
    assert launch.headers["Location"] == "/courses/basics/"
    join(lti)
    start(lti, "basics")
    wrong = finish_basics(lti, exercise_values={"nps": "25", "promoters": "40 %"})
    assert wrong.status_code == 302
    page = text(get(lti, "/courses/basics/exercise"))
    assert "Not yet" in page and rows(app, CourseResult) == []

    passed = exercise(lti, "basics", {"nps": "20", "promoters": "40,0"})
    assert passed.status_code == 302
    (result,) = rows(app, CourseResult)
    # Checks 100% and 100%, exercise first failed then 100%: the passing submission counts.
    assert result.score_percent == 100.0
    assert result.learner_name == "Lena Learner" and result.course_title == "Survey basics"
    (enrolment,) = rows(app, Enrolment)
    assert enrolment.completed_at is not None

    (delivery,) = rows(app, GradeDelivery)
    assert (delivery.score_given, delivery.score_maximum) == (100.0, 100.0)
    assert (delivery.activity_progress, delivery.grading_progress) == ("Completed", "FullyGraded")
    drain(app)
    (score,) = rows(app, DevScore)
    assert score.score_given == 100.0 and score.user_id == "dev-learner-1"

    course = text(get(lti, "/courses/basics/"))
    assert "You completed this course" in course
    pdf = get(lti, "/courses/basics/certificate.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    printed = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert len(PdfReader(io.BytesIO(pdf.data)).pages) == 1
    assert "Lena Learner" in printed and "Survey basics" in printed
    assert f"/certificates/{result.certificate_code}" in printed.replace("\n", "")

    # Anyone can verify it, without a launch, and sees nothing but what it states.
    stranger = app.test_client()
    check = stranger.get(lti.tool_base + f"/certificates/{result.certificate_code}")
    assert check.status_code == 200
    shown = text(check)
    assert "This certificate is genuine" in shown and "Lena Learner" in shown
    assert "Survey basics" in shown and "100" not in shown and "@" not in shown
    assert stranger.get(lti.tool_base + "/certificates/not-a-code").status_code == 404


def test_no_certificate_before_completion(learner):
    start(learner, "basics")
    response = get(learner, "/courses/basics/certificate.pdf")
    assert response.status_code == 302
    assert "The certificate is ready once you finish the course." in text(
        get(learner, "/courses/basics/")
    )


def test_without_a_gradebook_nothing_is_queued(app, learner):
    # The plain demo link has no course target, so this course's grade has nowhere to go.
    start(learner, "basics")
    finish_basics(learner)
    assert len(rows(app, CourseResult)) == 1
    assert rows(app, GradeDelivery) == []


def test_the_exercise_cannot_be_sent_again_once_passed(app, learner):
    start(learner, "basics")
    finish_basics(learner)
    again = exercise(learner, "basics", {"nps": "0", "promoters": "0"})
    assert again.status_code == 302
    assert "Your exercise has already passed." in text(get(learner, "/courses/basics/"))
    assert [s.status for s in rows(app, ExerciseSubmission)] == ["passed"]
    assert len(rows(app, CourseResult)) == 1


def test_numbers_are_read_as_people_type_them(app, learner):
    start(learner, "basics")
    bad = exercise(learner, "basics", {"nps": "twenty", "promoters": ""})
    assert bad.status_code == 400
    assert "Enter a number, for example 42 or 42.5." in text(bad)
    assert rows(app, ExerciseSubmission) == []
    # In the summary as a link to the field, and under the field it is about.
    assert '<a href="#f-promoters">Enter a number, for example 42 or 42.5.</a>' in bad.text
    assert 'aria-invalid="true" aria-describedby="f-nps-error"' in bad.text
    assert 'id="f-nps-error"' in bad.text and 'value="twenty"' in bad.text
    ok = answer(learner, "basics", "nps", {"compute": ["+30"], "range": ["a"]})
    assert ok.status_code == 302
    assert NPS_RIGHT  # the flow's right answers, used by finish_basics
