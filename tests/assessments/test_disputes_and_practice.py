"""Learners dispute a grade and a different trainer reviews it; skills below target twice
suggest the matching module, without enrolling anyone."""

from __future__ import annotations

from assessments.models import AssessmentEvent, Dispute, Grade, Rubric, RubricVersion
from courses.models import Enrolment
from lms.models import GradeDelivery
from tests.assessments.test_flow import GOOD, grade, place_scenario, take
from tests.assessments.test_rubrics_and_calibration import edit_form
from tests.courses.flow import as_person, browser, get, join, launch_link, post, rows, text
from tests.recognition.test_awards import user_id

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
    post(
        learner,
        f"/assessments/{assessment_id}/dispute",
        {"reason": "I named her worry about rent in my second reply."},
    )
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


def test_only_a_different_trainer_decides_a_dispute_and_the_audit_says_who(app, lti):
    """The rule (docs/architecture.md, Assessments): a trainer of the course context other
    than the first grader decides; an administrator can read the dispute but not decide it."""
    learner = browser(app, lti)
    learner.launch_and_follow("learner")
    join(learner)
    assessment_id = take(learner)
    lti.launch_and_follow("trainer")
    grade(lti, assessment_id, LOW)
    post(
        learner,
        f"/assessments/{assessment_id}/dispute",
        {"reason": "I named her worry about rent in my second reply."},
    )
    (dispute,) = rows(app, Dispute)
    form = {f"level_{k}": str(v) for k, v in dict(LOW, empathy=3).items()} | {"note": "Fair."}

    admin = as_person(app, lti, "administrator", "admin-2", "Ada Second")
    assert "you cannot decide it" in text(get(admin, f"/assessments/disputes/{dispute.id}"))
    refused = post(admin, f"/assessments/disputes/{dispute.id}", form)
    assert refused.status_code == 403
    (dispute,) = rows(app, Dispute)
    assert dispute.resolved_at is None and len(rows(app, Grade)) == 1

    second = as_person(app, lti, "trainer", "trainer-2", "Tom Second")
    assert post(second, f"/assessments/disputes/{dispute.id}", form).status_code == 302
    (event,) = rows(app, AssessmentEvent)
    assert (event.action, event.actor_id, event.actor_role, event.detail["outcome"]) == (
        "dispute_decided",
        user_id(app, "trainer-2"),
        "trainer",
        "changed",
    )
    assert event.subject_id == user_id(app, "dev-trainer-1")  # whose grade was disputed


def test_the_remedial_rule_uses_the_target_of_the_rubric_version_graded_under(app, lti):
    learner = browser(app, lti)
    learner.launch_and_follow("learner")
    join(learner)
    trainer = browser(app, lti)
    trainer.launch_and_follow("trainer")
    threes = dict.fromkeys(LOW, 3)
    # Under the built-in rubric (target 3) two grades of 3 are on target.
    for _ in range(2):
        grade(trainer, take(learner, "angry-double-charge", GOOD), threes)
    assert "Suggested practice" not in text(get(learner, "/assessments/"))

    get(trainer, "/assessments/rubrics")
    builtin = next(r for r in rows(app, Rubric) if r.platform_id is None)
    definition = next(v for v in rows(app, RubricVersion) if v.rubric_id == builtin.id).definition
    saved = post(
        trainer,
        f"/assessments/rubrics/{builtin.id}/edit",
        edit_form(definition, name="Stricter rubric", target_level="4"),
    )
    assert saved.status_code == 302
    # Under a rubric whose target is 4, two grades of 3 in a row suggest the module.
    for _ in range(2):
        grade(trainer, take(learner, "angry-double-charge", GOOD), threes)
    page = text(get(learner, "/assessments/"))
    assert "Suggested practice" in page
    assert "Empathy (levels 3 and 3): the Empathy module" in page
    assert "Adaptability (levels 3 and 3): the Adaptability module" in page
