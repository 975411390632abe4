"""Guards for pages that need a person, not only a launch."""

from __future__ import annotations

from core.auth import Forbidden, Role, Viewer, require_viewer
from core.db import db
from people.models import User

FOR_PEOPLE = "This page is for people launched from a course in the learning platform."


def require_person(detail: str = FOR_PEOPLE) -> tuple[Viewer, User]:
    """The launched viewer and their user row; 401 without a launch, 403 for an anonymous
    (guest) launch, which has no person to record anything for."""
    viewer = require_viewer()
    user = db.session.get(User, viewer.user_id) if viewer.user_id else None
    if user is None or viewer.role == Role.GUEST:
        raise Forbidden(detail)
    return viewer, user
