"""Exercises a trainer grades: the queue, the marks, PendingManual until graded, and who may
see what."""

from __future__ import annotations

import pytest

from courses.models import CourseResult, ExerciseSubmission
from lms.models import GradeDelivery
from tests.courses.flow import (
    answer,
    as_person,
    browser,
    exercise,
    get,
    join,
    launch_link,
    place_course,
    post,
    rows,
    start,
    text,
)
from tests.lti import csrf_token_for

CHARTER = {
    "problem": "Repeat billing contacts rose from 12% to 18% in Q3.",
    "goal": "Bring repeat billing contacts back to 12% by the end of Q1.",
}


@pytest.fixture
def submitted(app, lti, packs):
    """Lena launched the charter activity, passed its check and sent her exercise."""
    link = place_course(app, "charter")
    learner = browser(app, lti)
    launch_link(learner, "learner", link)
    join(learner)
    start(learner, "charter")
    answer(learner, "charter", "only", {"parts": ["a"]})
    sent = exercise(learner, "charter", CHARTER)
    assert sent.status_code == 302
    return learner


def grade(trainer, submission_id, problem, goal, comment="", *, token_from=None):
    path = f"/courses/reviews/{submission_id}"
    return post(
        trainer,
        path,
        {"mark_problem": str(problem), "mark_goal": str(goal), "comment": comment},
        token_from=token_from,
    )


def test_awaiting_review_then_returned_then_passed(app, lti, submitted):
    learner = submitted
    page = text(get(learner, "/courses/charter/exercise"))
    assert "Awaiting review" in page and "Repeat billing contacts rose" in page
    (pending,) = rows(app, GradeDelivery)
    assert (pending.grading_progress, pending.activity_progress) == ("PendingManual", "Submitted")
    # Sending again while it waits is refused and changes nothing.
    exercise(learner, "charter", {"problem": "x" * 30, "goal": "y" * 30})
    assert len(rows(app, ExerciseSubmission)) == 1

    trainer = browser(app, lti)
    trainer.launch_and_follow("trainer")
    queue = text(get(trainer, "/courses/reviews"))
    assert "Lena Learner Write a charter" in queue
    (submission,) = rows(app, ExerciseSubmission)
    form = get(trainer, f"/courses/reviews/{submission.id}")
    assert "The problem is specific and measured (0–4)" in text(form)  # noqa: RUF001

    out_of_range = grade(trainer, submission.id, 9, 2)
    assert out_of_range.status_code == 400 and "Between 0 and 4." in text(out_of_range)
    returned = grade(trainer, submission.id, 2, 2, "Name the baseline period.")
    assert returned.status_code == 302
    (submission,) = rows(app, ExerciseSubmission)
    assert (submission.status, submission.score, submission.maximum) == ("returned", 4.0, 8.0)
    mine = text(get(learner, "/courses/charter/exercise"))
    assert "Returned for improvement (50%)" in mine and "Name the baseline period." in mine

    exercise(learner, "charter", {**CHARTER, "problem": CHARTER["problem"] + " Baseline: Q2."})
    latest = max(rows(app, ExerciseSubmission), key=lambda s: s.id)
    assert latest.status == "awaiting_review"
    assert grade(trainer, latest.id, 4, 3, "Clear and measurable.").status_code == 302
    (result,) = rows(app, CourseResult)
    # Check 100%, exercise 7 of 8 = 87.5%: the course score is their mean.
    assert result.score_percent == pytest.approx(93.8, abs=0.05)
    final = max(rows(app, GradeDelivery), key=lambda d: d.id)
    assert (final.grading_progress, final.activity_progress) == ("FullyGraded", "Completed")
    assert final.score_given == result.score_percent
    assert "Nothing is waiting" in text(get(trainer, "/courses/reviews"))
    # A graded submission cannot be graded again.
    assert "Already graded: passed." in text(get(trainer, f"/courses/reviews/{latest.id}"))
    again = grade(trainer, latest.id, 0, 0)
    assert again.status_code == 302
    assert max(rows(app, ExerciseSubmission), key=lambda s: s.id).score == 7.0


def test_learners_and_managers_cannot_review(app, lti, submitted):
    (submission,) = rows(app, ExerciseSubmission)
    for persona in ("learner", "manager"):
        other = browser(app, lti)
        other.launch_and_follow(persona)
        for path in ("/courses/reviews", f"/courses/reviews/{submission.id}", "/courses/cohort"):
            assert get(other, path).status_code == 403, (persona, path)
        refused = other.client.post(
            other.tool_base + f"/courses/reviews/{submission.id}",
            data={
                "csrf_token": csrf_token_for(app, other.client),
                "mark_problem": "4",
                "mark_goal": "4",
            },
        )
        assert refused.status_code == 403
    assert rows(app, ExerciseSubmission)[0].status == "awaiting_review"


def test_a_trainer_of_another_course_context_sees_nothing(app, lti, submitted):
    (submission,) = rows(app, ExerciseSubmission)
    elsewhere = browser(app, lti)
    pending = elsewhere.resign(
        elsewhere.pending("trainer"),
        lambda c: {
            **c,
            "https://purl.imsglobal.org/spec/lti/claim/context": {
                "id": "other-course",
                "title": "Another course",
            },
        },
    )
    assert elsewhere.post_launch(pending).status_code == 303
    assert "Nothing is waiting" in text(get(elsewhere, "/courses/reviews"))
    assert get(elsewhere, f"/courses/reviews/{submission.id}").status_code == 404
    refused = elsewhere.client.post(
        elsewhere.tool_base + f"/courses/reviews/{submission.id}",
        data={
            "csrf_token": csrf_token_for(app, elsewhere.client),
            "mark_problem": "4",
            "mark_goal": "4",
        },
    )
    assert refused.status_code == 404
    cohort = text(get(elsewhere, "/courses/cohort?course=charter"))
    assert "Lena Learner" not in cohort


def test_cohort_shows_progress_funnel_questions_and_exports_csv(app, lti, packs):
    ada = as_person(app, lti, "learner", "ada", "Ada Agent")
    join(ada)
    start(ada, "basics")
    answer(ada, "basics", "scores", {"promoter": ["b"], "passives": ["a", "b"]})
    answer(ada, "basics", "scores", {"promoter": ["a"], "passives": ["a", "b"]})
    bo = as_person(app, lti, "learner", "bo", "Bo Agent")
    join(bo)
    start(bo, "basics")
    answer(bo, "basics", "scores", {"promoter": ["a"], "passives": ["a"]})
    as_person(app, lti, "learner", "cy", "Cy Agent")

    lti.launch_and_follow("trainer")
    page = text(get(lti, "/courses/cohort?course=basics"))
    assert "People 3 Joined the programme 2 Started this course 2 Completed 0" in page
    # Ada passed the first check (1 of 8 parts; 1 of the module's 4), Bo failed it.
    assert "Ada Agent Yes 12% 25% ✓ 0%" in page
    assert "Bo Agent Yes 0% 0% 0%" in page and "Cy Agent No Not started" in page
    assert "Started the course: 2. Passed “Reading scores”: 1. Passed “Computing NPS”: 0." in page
    # First attempts only: Ada missed "promoter" and Bo "passives", so each is 1 of 2.
    assert "Reading scores Which score makes a promoter? 2 50%" in page
    assert "Reading scores Which scores are passive? 2 50%" in page
    assert "Computing NPS 50 promoters, 30 passives, 20 detractors. What is the NPS? 0 —" in page
    csv_text = get(lti, "/courses/cohort.csv?course=basics").text
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("name,email,joined programme,started,progress %,scores %,nps %")
    assert any(line.startswith("Cy Agent,") and ",no," in line for line in lines)
