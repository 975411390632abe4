"""Rules award badges once: when a course is completed, when recognitions add up, and when
`flask recognition evaluate` back-fills."""

from __future__ import annotations

from core.db import db
from recognition.models import Award, Badge
from tests.builders import joined, kudos, launched
from tests.courses.flow import finish_basics, get, rows, start, text
from tests.recognition.test_awards import badge_id, give, user_id


def held(app, sub):
    uid = user_id(app, sub)
    slugs = {b.id: b.slug for b in rows(app, Badge)}
    return sorted(slugs[a.badge_id] for a in rows(app, Award) if a.user_id == uid)


def test_completing_a_course_awards_its_badge_once(app, lti, packs, runner):
    learner = joined(launched(lti, "learner"))
    start(learner, "basics")
    finish_basics(learner)
    assert held(app, "dev-learner-1") == ["course-basics"]
    assert "Survey basics" in text(get(learner, "/recognition/"))
    for _ in range(2):
        result = runner.invoke(args=["recognition", "evaluate"])
        assert result.exit_code == 0, result.output
    assert "0 badges awarded to 1 people" in result.output
    assert held(app, "dev-learner-1") == ["course-basics"]


def test_back_filling_awards_what_people_already_earned(app, lti, packs, runner):
    learner = joined(launched(lti, "learner"))
    start(learner, "basics")
    finish_basics(learner)
    with app.app_context():
        db.session.query(Award).delete()  # as if the badge had been added after the fact
        db.session.commit()
    result = runner.invoke(args=["recognition", "evaluate"])
    assert "1 badges awarded to 1 people" in result.output
    assert held(app, "dev-learner-1") == ["course-basics"]


def test_five_recognitions_earn_recognised_by_the_team(app, lti, badges):
    learner = joined(launched(lti, "learner"))
    manager = launched(lti, "manager")
    for n in range(5):
        kudos(manager, learner, "kudos-customer-hero", f"Great call number {n + 1}.")
    assert held(app, "dev-learner-1").count("recognised-five") == 1
    kudos(manager, learner, "kudos-customer-hero", "And another.")
    assert held(app, "dev-learner-1").count("recognised-five") == 1
    page = text(get(learner, "/recognition/"))
    assert "Recognised by the team" in page


def test_people_who_did_not_join_get_no_badges(app, lti, packs, runner):
    shy = launched(lti, "learner", sub="shy-1", name="Sam Shy")  # never joins
    manager = launched(lti, "manager")
    assert "Sam Shy" not in text(get(manager, "/recognition/award"))
    refused = give(manager, user_id(app, "shy-1"), badge_id(app, "kudos-team-player"), "Thanks.")
    # Refused on the form itself, next to the person chosen.
    assert refused.status_code == 400
    assert "Sam Shy has not joined the training programme" in text(refused)
    runner.invoke(args=["recognition", "evaluate"])
    assert held(app, "shy-1") == []
    assert "join it" in text(get(shy, "/recognition/"))
