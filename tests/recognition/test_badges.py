"""Trainers add badges: a validated image and a rule from the vocabulary, or nothing is added."""

from __future__ import annotations

import io

import pytest

from recognition.images import medal_png
from recognition.models import Badge
from tests.builders import launched, sign_in
from tests.courses.flow import get, rows, text
from tests.lti import csrf_token_for

SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
    b'<circle cx="5" cy="5" r="4"/></svg>'
)


def add(app, who, image=SVG, filename="star.svg", **fields):
    data = {
        "csrf_token": csrf_token_for(app, who.client),
        "name": "Night-shift star",
        "description": "Kept the night queue short.",
        "criteria": "Complete the NPS course with 90% or more.",
        "rule_type": "score_at_least",
        "course": "*",
        "score": "90",
        "image": (io.BytesIO(image), filename),
        **fields,
    }
    return who.client.post(
        who.tool_base + "/recognition/badges", data=data, content_type="multipart/form-data"
    )


def custom_badges(app):
    return [b for b in rows(app, Badge) if b.platform_id is not None]


def test_a_trainer_adds_a_badge_with_a_rule(app, lti, badges):
    sign_in(lti, "trainer")
    response = add(app, lti)
    assert response.status_code == 302
    (badge,) = custom_badges(app)
    assert badge.rule == {"type": "score_at_least", "course": "*", "score": 90.0}
    catalogue = text(get(lti, "/recognition/badges"))
    assert "Night-shift star" in catalogue and "Score 90% or more in any course." in catalogue
    png = add(app, lti, image=medal_png("custom", 32), filename="star.png", name="PNG star")
    assert png.status_code == 302 and len(custom_badges(app)) == 2


@pytest.mark.parametrize(
    ("image", "filename", "error"),
    [
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "x.svg",
            "contains script",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><image href="https://evil.example/x.png"/></svg>',
            "x.svg",
            "links to other files",
        ),
        (b'<svg onload="alert(1)" xmlns="http://www.w3.org/2000/svg"/>', "x.svg", "event handlers"),
        (b"\x89PNG\r\n\x1a\nnot really", "x.png", "The PNG file"),
        (b"GIF89a", "x.gif", "Upload an SVG or PNG image."),
        (b"<svg>" + b" " * 300_000 + b"</svg>", "big.svg", "larger than 256 kB"),
    ],
)
def test_bad_images_are_refused_and_nothing_is_added(app, lti, badges, image, filename, error):
    sign_in(lti, "trainer")
    response = add(app, lti, image=image, filename=filename)
    assert response.status_code == 400
    assert error in text(response)
    assert custom_badges(app) == []


def test_a_rule_needs_its_values(app, lti, badges):
    sign_in(lti, "trainer")
    response = add(app, lti, rule_type="skill_level", level="", times="")
    assert response.status_code == 400 and "is a required property" in text(response)
    assert custom_badges(app) == []


def test_learners_and_managers_cannot_add_badges(app, lti, badges):
    for persona in ("learner", "manager"):
        person = launched(lti, persona)
        assert "Add a badge" not in text(get(person, "/recognition/badges"))
        assert add(app, person).status_code == 403
    assert custom_badges(app) == []


def test_a_platforms_own_badge_is_invisible_to_other_platforms(app, lti, badges):
    from core.db import db
    from recognition.services import visible_badges

    sign_in(lti, "trainer")
    add(app, lti, manager_awardable="y", rule_type="")
    (badge,) = custom_badges(app)
    with app.app_context():
        assert badge.id in {b.id for b in visible_badges(db.session, badge.platform_id)}
        assert badge.id not in {b.id for b in visible_badges(db.session, badge.platform_id + 1)}
        db.session.remove()


def test_a_refused_badge_says_so_at_the_field_it_is_about(app, lti, badges):
    sign_in(lti, "trainer")
    image = add(app, lti, image=b"GIF89a", filename="x.gif", name="Kept name")
    page = image.text
    assert 'role="alert"' in page and '<a href="#image">Upload an SVG or PNG image.</a>' in page
    assert 'aria-invalid="true"' in page and 'aria-describedby="image-error"' in page
    assert 'value="Kept name"' in page  # what was typed stays
    rule = add(app, lti, rule_type="skill_level", skill="empathy", level="", times="2")
    assert '<a href="#level">' in rule.text and "is a required property" in rule.text
