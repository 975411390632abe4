"""Trainers see the cohort across their LMS: the funnel, how scores are spread and each team's
skill profile; learners and managers do not."""

from __future__ import annotations

from tests.assessments.test_flow import grade, take
from tests.courses.flow import as_person, browser, finish_basics, get, join, start, text

LEVELS = {
    "empathy": 4,
    "active_listening": 3,
    "patience": 3,
    "positive_language": 2,
    "adaptability": 3,
}


def test_the_cohort_page_shows_funnel_scores_and_skills(app, lti, packs):
    done = as_person(app, lti, "learner", "done-1", "Dana Done")
    join(done)
    start(done, "basics")
    finish_basics(done)
    assessment_id = take(done)
    started = as_person(app, lti, "learner", "started-1", "Sam Started")
    join(started)
    start(started, "basics")
    join(as_person(app, lti, "learner", "joined-1", "Jo Joined"))
    as_person(app, lti, "learner", "never-1", "Nat Never")  # launched, never joined

    trainer = browser(app, lti)
    trainer.launch_and_follow("trainer")
    assert grade(trainer, assessment_id, LEVELS).status_code == 302
    response = get(trainer, "/insights/cohort")
    page = text(response)
    # The charts' text alternatives carry the numbers.
    assert (
        'aria-label="Joined the programme: 3; Started a course: 2; Completed a course: 1"'
        in response.text
    )
    assert 'aria-label="Course scores: 1 scores, mean ' in response.text
    assert 'aria-label="Assessment scores: 1 scores, mean ' in response.text
    assert "Skill profile by team" in page and "4.0 (n = 1)" in page and "2.0 (n = 1)" in page

    funnel = get(trainer, "/insights/cohort/funnel.csv")
    assert funnel.mimetype == "text/csv"
    assert funnel.text.splitlines() == [
        "stage,people",
        "Joined the programme,3",
        "Started a course,2",
        "Completed a course,1",
    ]
    skills = get(trainer, "/insights/cohort/skills.csv").text.splitlines()
    assert skills[0].startswith("team,empathy (mean level),")
    assert skills[1].split(",")[1] == "4.00"
    assert get(trainer, "/insights/cohort/nothing.csv").status_code == 404
    for persona in ("learner", "manager"):
        other = browser(app, lti)
        other.launch_and_follow(persona)
        assert get(other, "/insights/cohort").status_code == 403
        assert get(other, "/insights/cohort/funnel.csv").status_code == 403
