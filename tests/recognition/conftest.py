from __future__ import annotations

import pytest

from core.db import db
from recognition.services import ensure_builtin_badges
from tests.courses.conftest import packs  # noqa: F401 - the courses' fixture, shared


@pytest.fixture
def badges(app):
    with app.app_context():
        ensure_builtin_badges(db.session)
        db.session.commit()
        db.session.remove()
