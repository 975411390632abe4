"""Migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from core import create_app
from core.db import db
from tests.conftest import postgres_schema


@pytest.fixture
def empty_database_url(live, tmp_path):
    if live.database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
        return
    with postgres_schema("m") as url:
        yield url


def test_upgrade_from_empty_matches_the_models(live, empty_database_url):
    app = create_app(live.settings(DATABASE_URL=empty_database_url))
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "render_as_batch": True}
            )
            differences = compare_metadata(context, db.metadata)
        assert differences == []
        downgrade(revision="base")
        upgrade()
        db.engine.dispose()
