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


def _insert(connection, table_name: str, **values) -> int:
    """A row with ``values``, and a plain value in every other required column."""
    import datetime

    import sqlalchemy as sa

    table = sa.Table(table_name, sa.MetaData(), autoload_with=connection)
    for column in table.columns:
        if column.name in values or column.nullable or column.primary_key:
            continue
        python_type = getattr(column.type, "python_type", str)
        values[column.name] = {
            int: 0,
            bool: False,
            datetime.datetime: datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC),
            dict: {},
        }.get(python_type, "")
    return connection.execute(sa.insert(table).values(**values).returning(table.c.id)).scalar_one()


def test_courses_uploaded_by_an_lms_become_that_lms_s_own(live, empty_database_url):
    """Before courses had tenants, an upload changed every LMS's catalogue. The migration
    gives each upload back to its uploader's LMS and restores the built-in it overwrote."""
    import sqlalchemy as sa

    app = create_app(live.settings(DATABASE_URL=empty_database_url))
    with app.app_context():
        upgrade(revision="f8acafcd18d9")
        with db.engine.begin() as c:
            lms_a = _insert(c, "lti_platforms", issuer="https://a", client_id="a")
            lms_b = _insert(c, "lti_platforms", issuer="https://b", client_id="b")
            trainer_b = _insert(c, "users", platform_id=lms_b, sub="tb")
            trainer_a = _insert(c, "users", platform_id=lms_a, sub="ta")
            nps = _insert(
                c, "courses", slug="net-promoter-score", title="HIJACKED", version="9.9.9"
            )
            own = _insert(c, "courses", slug="b-course", title="B's course", version="1.0")
            for course, version, source, title in (
                (nps, "1.0", "flask courses import", "Net Promoter Score"),
                (nps, "9.9.9", f"upload by user {trainer_b}", "HIJACKED"),
                (own, "1.0", f"upload by user {trainer_b}", "B's course"),
            ):
                document = {"title": title, "summary": "", "order": 1}
                _insert(
                    c,
                    "course_versions",
                    course_id=course,
                    version=version,
                    source=source,
                    content_hash=version,
                    document=document,
                )
            for slug, name in (
                ("course-net-promoter-score", "Net Promoter Score"),
                ("course-b-course", "B's course"),
            ):
                _insert(c, "badges", slug=slug, name=name, kind="course", image=b"<svg/>")
            assert trainer_a
        upgrade(revision="a23c0a5e0001")
        with db.engine.connect() as c:
            courses = c.execute(
                sa.text("SELECT slug, platform_id, title, version FROM courses ORDER BY id")
            ).all()
            assert [tuple(row) for row in courses] == [
                ("net-promoter-score", None, "Net Promoter Score", "1.0"),
                ("b-course", lms_b, "B's course", "1.0"),
                ("net-promoter-score", lms_b, "HIJACKED", "9.9.9"),
            ]
            badges = c.execute(sa.text("SELECT slug, platform_id FROM badges ORDER BY id")).all()
            assert [tuple(row) for row in badges] == [
                ("course-net-promoter-score", None),
                (f"p{lms_b}-course-b-course", lms_b),
            ]
        upgrade()
        db.engine.dispose()


def test_roll_ups_and_past_trainings_follow_removals_without_their_foreign_keys(
    live, empty_database_url
):
    """The migration that dropped the roll-ups' team key and past trainings' course key puts
    triggers in their place: a team removed (here through its deployment's cascade) takes its
    roll-ups, a course removed leaves its past trainings without it."""
    import datetime

    import sqlalchemy as sa

    app = create_app(live.settings(DATABASE_URL=empty_database_url))
    with app.app_context():
        upgrade()
        with db.engine.begin() as c:
            lms = _insert(c, "lti_platforms", issuer="https://a", client_id="a")
            deployment = _insert(c, "lti_deployments", platform_id=lms, deployment_id="d")
            team = _insert(c, "teams", platform_id=lms, deployment_id=deployment)
            person = _insert(c, "users", platform_id=lms, sub="p")
            course = _insert(c, "courses", slug="c", title="C", version="1.0")
            _insert(
                c,
                "past_trainings",
                platform_id=lms,
                user_id=person,
                course_id=course,
                completed_on=datetime.date(2026, 11, 2),
            )
            counts = dict.fromkeys(
                ("responses", "score_sum", "top_two_box", "promoters", "passives", "detractors"), 1
            )
            for table, period in (("survey_team_daily", "day"), ("survey_team_weekly", "week")):
                c.execute(
                    sa.Table(table, sa.MetaData(), autoload_with=c)
                    .insert()
                    .values(
                        team_id=team,
                        metric="csat",
                        platform_id=lms,
                        **{period: datetime.date(2026, 11, 2)},
                        **counts,
                    )
                )
        with db.engine.begin() as c:
            c.execute(sa.text("DELETE FROM courses"))
            c.execute(sa.text("DELETE FROM lti_deployments"))
        with db.engine.connect() as c:
            for table in ("survey_team_daily", "survey_team_weekly"):
                assert c.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == 0  # noqa: S608
            kept = c.execute(sa.text("SELECT course_id FROM past_trainings")).all()
            assert [tuple(row) for row in kept] == [(None,)]
        downgrade(revision="base")
        db.engine.dispose()
