"""Nobody is enrolled against their will: joining is the learner's own, recorded choice."""

from __future__ import annotations

from courses.models import Enrolment, ItemProgress
from people.models import ConsentEvent, User
from tests.courses.flow import as_person, get, join, post, read, rows, start, text
from tests.lti import row_counts


def test_first_launch_explains_the_programme_and_records_nothing(app, lti, packs):
    dashboard = lti.launch_and_follow("learner")
    assert "Nothing is tracked until you choose to join" in text(dashboard)
    assert "Join the programme" in text(dashboard)
    before = row_counts(app)
    for path in ("/courses/", "/courses/basics/", "/programme"):
        assert get(lti, path).status_code == 200
    course = text(get(lti, "/courses/basics/"))
    assert "Join the programme to take this course" in course
    assert "Start this course" not in course
    assert row_counts(app) == before


def test_a_course_cannot_be_started_before_joining(app, lti, packs):
    lti.launch_and_follow("learner")
    response = start(lti, "basics")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/programme?next=")
    assert rows(app, Enrolment) == []
    # Lesson pages and progress need an enrolment, so nothing can be recorded either.
    refused = read(lti, "basics", "scores", "scales")
    assert refused.status_code == 302 and refused.headers["Location"] == "/courses/basics/"
    assert rows(app, ItemProgress) == []


def test_joining_and_leaving_are_recorded_with_time_and_source(app, lti, packs):
    lti.launch_and_follow("learner")
    joined = post(
        lti, "/programme/join", {"next": "/courses/basics/"}, token_from="/courses/basics/"
    )
    assert joined.status_code == 302 and joined.headers["Location"] == "/courses/basics/"
    assert "Start this course" in text(get(lti, "/courses/basics/"))

    left = post(lti, "/programme/leave", token_from="/programme")
    assert left.status_code == 302
    events = sorted(rows(app, ConsentEvent), key=lambda e: e.id)
    assert [(e.opted_in, e.source) for e in events] == [
        (True, "course page"),
        (False, "welcome page"),
    ]
    assert all(e.team_id is not None and e.recorded_at is not None for e in events)
    (user,) = rows(app, User)
    assert user.opted_in_at is None
    history = text(get(lti, "/programme"))
    assert "Joined Course page · Customer Experience Quality (demo course)" in history
    assert "Left Welcome page · Customer Experience Quality (demo course)" in history

    # Joining twice in a row records one event, not two.
    join(lti)
    join(lti)
    assert len(rows(app, ConsentEvent)) == 3


def test_after_leaving_nothing_more_is_tracked(app, lti, packs):
    lti.launch_and_follow("learner")
    join(lti)
    start(lti, "basics")
    assert read(lti, "basics", "scores", "scales").status_code == 302
    post(lti, "/programme/leave", token_from="/programme")
    refused = read(lti, "basics", "scores", "groups")
    assert refused.status_code == 302
    assert "You left the programme" in text(get(lti, "/courses/basics/"))
    assert [p.item for p in rows(app, ItemProgress)] == ["scores/scales"]


def test_a_trainer_sees_who_joined_but_cannot_join_for_them(app, lti, packs):
    keen = as_person(app, lti, "learner", "keen-1", "Kim Keen")
    join(keen)
    as_person(app, lti, "learner", "shy-1", "Sam Shy")
    lti.launch_and_follow("trainer")
    cohort = text(get(lti, "/courses/cohort?course=basics"))
    assert "Kim Keen Yes" in cohort and "Sam Shy No" in cohort
    # The join endpoint acts on the caller only: a trainer posting it joins themselves.
    post(lti, "/programme/join", {"user_id": "1", "sub": "shy-1"}, token_from="/programme")
    shy = next(u for u in rows(app, User) if u.sub == "shy-1")
    assert shy.opted_in_at is None
    assert {e.user_id for e in rows(app, ConsentEvent)} == {
        u.id for u in rows(app, User) if u.sub in ("keen-1", "dev-trainer-1")
    }
