"""The migration that gave badges public ids and made withdrawal reasons private, on data."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from core import create_app
from core.db import db
from tests.test_migrations import _insert, empty_database_url  # noqa: F401 - fixture

BEFORE = "a23c0a5e0001"
THIS = "a23b0ad9e002"


def test_existing_badges_get_public_ids_and_given_reasons_stay_private(live, empty_database_url):  # noqa: F811
    app = create_app(live.settings(DATABASE_URL=empty_database_url))
    with app.app_context():
        upgrade(revision=BEFORE)
        with db.engine.begin() as c:
            lms = _insert(c, "lti_platforms", issuer="https://a", client_id="a")
            person = _insert(c, "users", platform_id=lms, sub="p")
            badges = [
                _insert(c, "badges", slug=slug, name=slug, kind="custom", image=b"<svg/>")
                for slug in ("one", "two", "three")
            ]
            _insert(
                c,
                "badge_awards",
                public_id=str(uuid.uuid4()),
                badge_id=badges[0],
                user_id=person,
                platform_id=lms,
                salt="s",
                revoked_reason="A private matter.",
            )
        upgrade(revision=THIS)
        with db.engine.connect() as c:
            ids = c.execute(sa.text("SELECT public_id FROM badges ORDER BY id")).scalars().all()
            assert len(set(ids)) == 3 and all(uuid.UUID(value) for value in ids)
            published = c.execute(sa.text("SELECT revoked_reason_public FROM badge_awards"))
            assert [bool(value) for value in published.scalars()] == [False]
        downgrade(revision=BEFORE)
        upgrade()
        db.engine.dispose()
