"""Learners dispute a grade and a different trainer reviews it; skills below target twice
suggest the matching module, without enrolling anyone."""

from __future__ import annotations

from assessments.models import Dispute, Grade
from courses.models import Enrolment
from lms.models import GradeDelivery
from tests.assessments.test_flow import GOOD, grade, place_scenario, take
from tests.courses.flow import as_person, browser, get, join, launch_link, post, rows, text

LOW = {
    "empathy": 2,
    "active_listening": 2,
    "patience": 3,
    "positive_language": 3,
    "adaptability": 3,
}


def test_a_dispute_is_reviewed_by_another_trainer_and_both_grades_are_kept(app, lti):
    link = place_scenario(app, "angry-double-charge")
    learner = browser(app, lti)
    launch_link(learner, "learner", link)
    join(learner)
    assessment_id = take(learner)
    lti.launch_and_follow("trainer")
    grade(lti, assessment_id, LOW, "Needs more empathy.")
    short = post(learner, f"/assessments/{assessment_id}/dispute", {"reason": "no"})
    assert short.status_code == 302 and rows(app, Dispute) == []
    post(learner, f"/assessments/{assessment_id}/dispute",
         {"reason": "I named her worry about rent in my second reply."})  # fmt: skip
    (dispute,) = rows(app, Dispute)
    assert "Waiting for a different trainer" in text(get(learner, f"/assessments/{assessment_id}"))

    # The first grader may not review their own grade.
    same = post(lti, f"/assessments/disputes/{dispute.id}", {f"level_{k}": "3" for k in LOW})
    assert same.status_code == 400 and "A different trainer must review" in text(same)
    second = as_person(app, lti, "trainer", "trainer-2", "Tom Second")
    assert "I named her worry about rent" in text(get(second, "/assessments/disputes"))
    review = dict(LOW, empathy=3)
    form = {f"level_{k}": str(v) for k, v in review.items()} | {"note": "Fair point."}
    done = post(second, f"/assessments/disputes/{dispute.id}", form)
    assert done.status_code == 302
    grades = sorted(rows(app, Grade), key=lambda g: g.id)
    assert [(g.levels["empathy"], g.final) for g in grades] == [(2, False), (3, True)]
    (dispute,) = rows(app, Dispute)
    assert dispute.outcome == "changed"
    page = text(get(learner, f"/assessments/{assessment_id}"))
    assert "The grade was changed after review: Fair point." in page
    latest = max(rows(app, GradeDelivery), key=lambda d: d.id)
    assert latest.score_given == grades[1].score_percent
    again = post(learner, f"/assessments/{assessment_id}/dispute", {"reason": "Once more please."})
    assert again.status_code == 302 and len(rows(app, Dispute)) == 1


def test_two_low_levels_suggest_the_module_and_show_later_progress(app, lti):
    learner = browser(app, lti)
    learner.launch_and_follow("learner")
    join(learner)
    trainer = browser(app, lti)
    trainer.launch_and_follow("trainer")
    for levels in (LOW, LOW, dict(LOW, empathy=3)):
        grade(trainer, take(learner, "angry-double-charge", GOOD), levels)
    page = text(get(learner, "/assessments/"))
    assert "Suggested practice" in page
    assert "Empathy (levels 2 and 2): the Empathy module" in page
    assert "Since then: 3 — target reached." in page
    assert "Active listening (levels 2 and 2)" in page and "Patience (levels" not in page
    assert rows(app, Enrolment) == []  # a suggestion, not an enrolment
    assert "Empathy 2, 2, 3 Improving" in page
    assert "Patience 3, 3, 3 Steady" in page
