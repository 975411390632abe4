"""The two courses issue 29 added to the built-in curriculum, taken end to end: each appears in
every LMS's catalogue as a built-in with its completion badge, and a learner reads every page,
passes every check from the pack's own answer key and sends the exercise to a trainer."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import db
from courses.models import CheckAttempt, Course, ExerciseSubmission
from courses.pack import load_directory, pack_directories
from courses.services import import_packs
from recognition.models import Badge
from tests.courses.flow import (
    answer,
    browser,
    check_questions,
    exercise,
    get,
    join,
    read,
    rows,
    start,
    text,
)
from tests.question_forms import right_answers
from tests.tenants import launch_from_lms_b

CONTENT = Path(__file__).parents[2] / "courses" / "content"
NEW_COURSES = ("complaint-handling", "running-a-quality-programme")


@pytest.fixture
def curriculum(app):
    """Every built-in pack, imported as `flask courses import` does (shared by every LMS)."""
    with app.app_context():
        import_packs(db.session, [load_directory(d) for d in pack_directories(CONTENT)], "tests")
        db.session.commit()
        db.session.remove()


def _answer_for(field: dict) -> str:
    """Text long enough for the field, as a learner's draft would be."""
    sentence = f"My answer on {field['label'].lower()}, with the working shown. "
    least = int(field.get("min_length", 20))
    return (sentence * (least // len(sentence) + 1)).strip()


def test_the_new_courses_are_built_ins_in_every_lms_catalogue(app, lti, curriculum):
    for slug in NEW_COURSES:
        (course,) = rows(app, Course, Course.slug == slug)
        assert course.built_in and course.platform_id is None
        (badge,) = rows(app, Badge, Badge.slug == f"course-{slug}")
        assert badge.platform_id is None and badge.kind == "course"
    lti.launch_and_follow("learner")
    from_b = launch_from_lms_b(app, browser(app, lti), "learner")
    for learner in (lti, from_b):
        catalogue = text(get(learner, "/courses/"))
        assert "Complaint handling and service recovery" in catalogue
        assert "Running a quality programme" in catalogue


@pytest.mark.parametrize("slug", NEW_COURSES)
def test_a_learner_takes_the_new_course_end_to_end(app, lti, curriculum, slug):
    pack = load_directory(CONTENT / slug).document
    lti.launch_and_follow("learner")
    join(lti)
    assert start(lti, slug).status_code == 302
    for module in pack["modules"]:
        for lesson in [*(lesson["slug"] for lesson in module["lessons"]), "example"]:
            page = get(lti, f"/courses/{slug}/m/{module['slug']}/{lesson}")
            assert page.status_code == 200, (module["slug"], lesson)
            assert read(lti, slug, module["slug"], lesson).status_code == 302
        questions = check_questions(app, slug, module["slug"])
        sent = answer(lti, slug, module["slug"], right_answers(questions))
        assert sent.status_code == 302, (module["slug"], text(sent))

    attempts = rows(app, CheckAttempt)
    assert len(attempts) == len(pack["modules"])
    assert all(a.passed and a.score == a.maximum for a in attempts)

    brief = get(lti, f"/courses/{slug}/exercise")
    assert brief.status_code == 200 and "How a trainer grades this" in text(brief)
    values = {f["id"]: _answer_for(f) for f in pack["exercise"]["fields"]}
    assert exercise(lti, slug, values).status_code == 302
    (submission,) = rows(app, ExerciseSubmission)
    assert submission.status == "awaiting_review"
    assert "Awaiting review" in text(get(lti, f"/courses/{slug}/exercise"))
    with app.app_context():
        title = db.session.scalar(select(Course.title).where(Course.slug == slug))
        db.session.remove()
    assert title in text(get(lti, f"/courses/{slug}/"))
