from __future__ import annotations

from pathlib import Path

import pytest

from core.db import db
from courses.pack import load_directory
from courses.services import import_packs

PACKS = Path(__file__).parent.parent / "data" / "packs"


@pytest.fixture
def packs(app):
    """The two small test courses: "basics" (checked automatically) and "charter" (graded
    by a trainer)."""
    with app.app_context():
        import_packs(
            db.session,
            [load_directory(PACKS / "basics"), load_directory(PACKS / "charter")],
            "tests",
        )
        db.session.commit()
        db.session.remove()
