from __future__ import annotations

import pytest

from core.db import db
from recognition.services import ensure_builtin_badges
from tests.builders import joined, kudos, launched
from tests.courses.conftest import packs  # noqa: F401 - the courses' fixture, shared


@pytest.fixture
def badges(app):
    with app.app_context():
        ensure_builtin_badges(db.session)
        db.session.commit()
        db.session.remove()


@pytest.fixture
def awarded(app, lti, badges):
    """One award, as a manager gives it to a learner who joined: (award, learner, manager),
    the two as signed-in browsers. Giving it is tested in test_awards.py; here it is data."""
    learner = joined(launched(lti, "learner"))
    manager = launched(lti, "manager")
    award = kudos(
        manager, learner, "kudos-calm-under-pressure", "Stayed calm with a very upset caller."
    )
    return award, learner, manager
