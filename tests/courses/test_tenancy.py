"""Courses belong to a tenant: the built-in catalogue is shared read-only, and a course an
LMS's trainer uploads exists only in that LMS (issue: a trainer of one LMS rewrote every
LMS's catalogue by uploading a pack with a built-in's slug)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Flask

from core.db import db
from courses.models import Course, CourseVersion
from lms.targets import placeable_targets
from recognition.models import Badge
from tests.courses.flow import browser, get, rows, text
from tests.courses.test_import import _zipped, copy_pack, upload
from tests.lti import LtiBrowser
from tests.tenants import launch_from_lms_b, register_lms_b


def _pack(tmp_path: Path, *, slug: str, title: str, version: str = "1.0", note: str = "") -> bytes:
    """The basics pack under another slug, title and version (and different text)."""
    folder = copy_pack(Path(tempfile.mkdtemp(dir=tmp_path)))
    course_yaml = folder / "course.yaml"
    course_yaml.write_text(
        course_yaml.read_text()
        .replace("slug: basics", f"slug: {slug}")
        .replace('version: "1.0"', f'version: "{version}"')
        .replace("title: Survey basics", f"title: {title}")
    )
    if note:
        lesson = folder / "m1" / "groups.md"
        lesson.write_text(lesson.read_text() + f"\n{note}\n")
    return _zipped(folder)


def _trainer_a(app: Flask, lti: LtiBrowser) -> LtiBrowser:
    trainer = browser(app, lti)
    trainer.launch_and_follow("trainer")
    return trainer


def _trainer_b(app: Flask, lti: LtiBrowser) -> LtiBrowser:
    return launch_from_lms_b(app, browser(app, lti), "trainer")


def _learner_a(app: Flask, lti: LtiBrowser) -> LtiBrowser:
    learner = browser(app, lti)
    learner.launch_and_follow("learner")
    return learner


def test_an_lms_cannot_publish_over_a_built_in_course(app, lti, packs, tmp_path):
    hijack = _pack(tmp_path, slug="basics", title="HIJACKED by tenant B", version="9.9.9")
    trainer_b = _trainer_b(app, lti)
    refused = upload(app, trainer_b, hijack)
    assert refused.status_code == 302
    message = text(get(trainer_b, "/courses/"))
    assert "“basics” is the slug of the built-in course “Survey basics”" in message
    assert "HIJACKED" not in message

    learner = _learner_a(app, lti)
    assert "Survey basics" in text(get(learner, "/courses/basics/"))
    assert "HIJACKED" not in text(get(learner, "/courses/"))
    (course,) = rows(app, Course, Course.slug == "basics")
    assert (course.version, course.platform_id) == ("1.0", None)
    assert [v.version for v in rows(app, CourseVersion, CourseVersion.course_id == course.id)] == [
        "1.0"
    ]


def test_a_course_uploaded_in_one_lms_exists_only_there(app, lti, packs, tmp_path):
    b_only = _pack(tmp_path, slug="b-only", title="Only for LMS B")
    trainer_b = _trainer_b(app, lti)
    assert upload(app, trainer_b, b_only).status_code == 302
    assert "Only for LMS B" in text(get(trainer_b, "/courses/"))
    assert get(trainer_b, "/courses/b-only/").status_code == 200

    learner = _learner_a(app, lti)
    assert "Only for LMS B" not in text(get(learner, "/courses/"))
    assert get(learner, "/courses/b-only/").status_code == 404
    trainer_a = _trainer_a(app, lti)
    assert "Only for LMS B" not in text(get(trainer_a, "/courses/cohort"))

    lms_b = register_lms_b(app)
    with app.test_request_context():
        a_platform = rows(app, Course, Course.slug == "basics")[0].platform_id  # None: built in
        assert a_platform is None
        dev_platform = _platform_of(app, trainer_a)
        assert "Only for LMS B" not in {t.title for t in placeable_targets(dev_platform)}
        assert "Only for LMS B" in {t.title for t in placeable_targets(lms_b)}
    # Its completion badge is LMS B's own, not a built-in every LMS's people would see.
    (badge,) = rows(app, Badge, Badge.name == "Only for LMS B")
    assert badge.platform_id == lms_b
    assert "Only for LMS B" not in text(get(learner, "/recognition/badges"))


def test_two_lmss_each_have_their_own_course_under_one_slug(app, lti, packs, tmp_path):
    ours = _pack(tmp_path, slug="escalations", title="Escalations the A way", note="A's way.")
    theirs = _pack(tmp_path, slug="escalations", title="Escalations the B way", note="B's way.")
    assert upload(app, _trainer_a(app, lti), ours).status_code == 302
    trainer_b = _trainer_b(app, lti)
    assert upload(app, trainer_b, theirs).status_code == 302
    assert "Added the course Escalations the B way (1.0)." in text(get(trainer_b, "/courses/"))

    learner = _learner_a(app, lti)
    page = text(get(learner, "/courses/escalations/"))
    assert "Escalations the A way" in page and "the B way" not in page
    assert "Escalations the A way" not in text(get(trainer_b, "/courses/escalations/"))

    # Version rules are each LMS's own: B changing its text under 1.0 is refused, and A's
    # course is untouched by B publishing 1.1.
    changed = _pack(tmp_path, slug="escalations", title="Escalations the B way", note="Other.")
    assert upload(app, trainer_b, changed).status_code == 302
    assert "Bump `version`" in text(get(trainer_b, "/courses/"))
    newer = _pack(
        tmp_path, slug="escalations", title="Escalations B 1.1", version="1.1", note="Other."
    )
    assert upload(app, trainer_b, newer).status_code == 302
    courses = {c.platform_id: c for c in rows(app, Course, Course.slug == "escalations")}
    assert len(courses) == 2 and None not in courses
    assert sorted((c.title, c.version) for c in courses.values()) == [
        ("Escalations B 1.1", "1.1"),
        ("Escalations the A way", "1.0"),
    ]
    assert "Escalations the A way" in text(get(learner, "/courses/escalations/"))


def _platform_of(app: Flask, person: LtiBrowser) -> int:
    from core.auth import VIEWER_KEY

    with person.client.session_transaction(base_url=person.tool_base) as stored:
        return int(stored[VIEWER_KEY]["platform_id"])


def test_the_operator_imports_built_ins_or_an_lms_s_own(app, runner, tmp_path):
    lms_b = register_lms_b(app)
    shared = runner.invoke(args=["courses", "import", str(copy_pack(tmp_path))])
    assert shared.exit_code == 0, shared.output
    own = copy_pack(tmp_path, "charter")
    added = runner.invoke(args=["courses", "import", "--platform-id", str(lms_b), str(own)])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(args=["courses", "list", "--platform-id", str(lms_b)])
    assert "basics" in listed.output and "built-in" in listed.output
    assert f"LMS {lms_b}" in listed.output
    assert "charter" not in runner.invoke(args=["courses", "list"]).output
    unknown = runner.invoke(args=["courses", "import", "--platform-id", "999", str(own)])
    assert unknown.exit_code != 0 and "No LMS platform has the id 999" in unknown.output
    with app.app_context():
        db.session.remove()
