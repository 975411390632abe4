from __future__ import annotations

import pytest

from core.db import db
from recognition.models import Award
from recognition.services import ensure_builtin_badges
from tests.courses.conftest import packs  # noqa: F401 - the courses' fixture, shared
from tests.courses.flow import browser, join, rows
from tests.recognition.test_awards import badge_id, give, user_id


@pytest.fixture
def badges(app):
    with app.app_context():
        ensure_builtin_badges(db.session)
        db.session.commit()
        db.session.remove()


@pytest.fixture
def awarded(app, lti, badges):
    """One award, as a manager gives it to a learner who joined: (award, learner, manager),
    the two as signed-in browsers."""
    learner = browser(app, lti)
    learner.launch_and_follow("learner")
    join(learner)
    manager = browser(app, lti)
    manager.launch_and_follow("manager")
    give(
        manager,
        user_id(app, "dev-learner-1"),
        badge_id(app, "kudos-calm-under-pressure"),
        "Stayed calm with a very upset caller.",
    )
    (award,) = rows(app, Award)
    return award, learner, manager
