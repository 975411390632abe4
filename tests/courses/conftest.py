from __future__ import annotations

import copy
import dataclasses
from functools import cache
from pathlib import Path

import pytest

from core.db import db
from courses.pack import Pack, load_directory
from courses.services import import_packs

PACKS = Path(__file__).parent.parent / "data" / "packs"


@cache
def _loaded(name: str) -> Pack:
    # Reading and validating a pack from disk takes ~0.1 s; the files do not change during a
    # run, and most course, recognition and security tests start from these two packs.
    return load_directory(PACKS / name)


def read_pack(name: str) -> Pack:
    """A test pack as ``load_directory`` reads it, read once per process; its document is a
    copy, so a test that changes what it stored cannot change the next test's pack."""
    loaded = _loaded(name)
    return dataclasses.replace(loaded, document=copy.deepcopy(loaded.document))


@pytest.fixture
def packs(app):
    """The two small test courses: "basics" (checked automatically) and "charter" (graded
    by a trainer)."""
    with app.app_context():
        import_packs(db.session, [read_pack("basics"), read_pack("charter")], "tests")
        db.session.commit()
        db.session.remove()
