"""What an operator relies on: liveness and readiness probes, request ids in responses and
logs, and `flask doctor` saying what is wrong."""

from __future__ import annotations

import json
import logging

import psycopg
import pytest
from sqlalchemy import text

from core.db import db


@pytest.fixture
def stamped(app, runner):
    """The test database is built from the models; mark it as migrated to the code's head,
    as `flask db upgrade` leaves a real one."""
    assert runner.invoke(args=["db", "stamp", "head"]).exit_code == 0
    yield
    with app.app_context():
        db.session.execute(text("DROP TABLE alembic_version"))
        db.session.commit()


def test_health_and_readiness(app, client, stamped):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["status"] == "ready"
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = 'old'"))
        db.session.commit()
    stale = client.get("/readyz")
    assert stale.status_code == 503
    assert "expects" in stale.json["detail"]


def test_readiness_names_the_check_that_failed(app, client, stamped, make_app):
    """A load balancer's log shows /readyz's detail: it must say which check failed."""
    from core.observability import migration_heads

    with app.app_context():
        head = sorted(migration_heads())[0]
        from alembic.script import ScriptDirectory

        from core import MIGRATIONS_DIR

        earlier = ScriptDirectory(MIGRATIONS_DIR).get_revision(head).down_revision
        db.session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": earlier})
        db.session.commit()
    behind = client.get("/readyz")
    assert behind.status_code == 503
    assert behind.json["detail"] == (
        f"schema behind: database at {earlier}, code expects {head}: run `flask db upgrade`"
    )
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
        db.session.commit()
    ahead = client.get("/readyz").json["detail"]
    assert ahead.startswith("schema ahead: database at f00dfeed, which this code does not know")
    from tests.conftest import free_port

    unreachable = make_app(DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    answer = unreachable.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json["detail"] == "cannot connect to the database (OperationalError)"


def test_every_response_carries_a_request_id_that_the_logs_share(app, client, caplog):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert len(first.headers["X-Request-Id"]) == 32
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]
    kept = client.get("/healthz", headers={"X-Request-Id": "lb-1234.abc"})
    assert kept.headers["X-Request-Id"] == "lb-1234.abc"
    forged = client.get("/healthz", headers={"X-Request-Id": "<script>alert(1)</script>"})
    assert len(forged.headers["X-Request-Id"]) == 32  # replaced, not echoed
    from core.observability import JsonFormatter, RequestIdFilter

    with app.test_request_context(headers={"X-Request-Id": "req-77"}):
        app.preprocess_request()
        record = logging.LogRecord("academy", logging.WARNING, __file__, 1, "hello %s", ("you",),
                                   None)  # fmt: skip
        RequestIdFilter().filter(record)
        line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-77" and line["message"] == "hello you"
    assert line["level"] == "WARNING"


def test_readiness_without_a_migrated_database(client):
    answer = client.get("/readyz")
    assert answer.status_code == 503 and "not migrated" in answer.json["detail"]


def test_doctor_says_what_to_fix(app, runner, stamped):
    done = runner.invoke(args=["doctor"])
    assert "[ok  ] The database schema is up to date." in done.output
    assert "[warn] DEV_PLATFORM_ENABLED is on" in done.output
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = 'old'"))
        db.session.commit()
    broken = runner.invoke(args=["doctor"])
    assert broken.exit_code == 1
    assert "[FAIL] The database schema is at old; this code needs" in broken.output
    assert "Run `flask db upgrade`." in broken.output
    assert "The remaining checks need a working, up-to-date database." in broken.output


def test_a_pooled_connection_the_database_closed_is_replaced_before_a_request_uses_it(
    app, client, stamped
):
    """A PostgreSQL restart (or an idle timeout, or an administrator's kill) closes pooled
    connections under the service; the next request must not be the one that finds out."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite has no server to close a connection")
        db.engine.dispose()  # one pooled connection, whose server process we know
        backend = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        db.session.remove()
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url, autocommit=True) as other:  # outside the pool
            other.execute("SELECT pg_terminate_backend(%s)", (backend,))
    assert client.get("/readyz").status_code == 200  # readiness reads the database
    with app.app_context():
        now = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert now != backend
