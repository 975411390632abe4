"""What an operator relies on: liveness and readiness probes, request ids in responses and
logs, and `flask doctor` saying what is wrong."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

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
        record = logging.LogRecord(
            "academy", logging.WARNING, __file__, 1, "hello %s", ("you",), None
        )
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


def test_one_line_per_request_with_what_an_operator_needs_and_no_secrets(app, client, lti, caplog):
    from core.observability import JsonFormatter, RequestIdFilter

    caplog.set_level(logging.INFO, logger="academy.access")
    client.get("/healthz", headers={"X-Request-Id": "probe-1"})
    login_url = lti.start("learner")  # carries login_hint and lti_message_hint in its query
    landed = lti.launch_and_follow("learner")
    assert landed.status_code == 200
    lines = [r for r in caplog.records if r.name == "academy.access"]

    probe = lines[0]
    assert (probe.method, probe.path, probe.status) == ("GET", "/healthz", 200)
    assert isinstance(probe.duration_ms, float) and probe.duration_ms >= 0
    assert not hasattr(probe, "user_id")  # nobody is signed in
    assert probe.getMessage() == f"GET /healthz 200 {probe.duration_ms} ms"

    launch = next(r for r in lines if r.path == "/lms/launch")
    assert (launch.method, launch.status) == ("POST", 303)
    after = lines[-1]
    assert after.method == "GET" and after.status == 200
    assert after.platform_id == launch.platform_id and after.user_id == launch.user_id
    assert isinstance(after.user_id, int) and isinstance(after.platform_id, int)
    assert after.getMessage().endswith(f"platform={after.platform_id} user={after.user_id}")

    login = next(r for r in lines if r.path == "/lms/login")
    assert "?" not in login.getMessage() and "hint" not in login.getMessage()
    assert urlsplit(login_url).query  # the query it came with is not logged

    with app.test_request_context(headers={"X-Request-Id": "probe-1"}):
        app.preprocess_request()
        RequestIdFilter().filter(probe)
    entry = json.loads(JsonFormatter().format(probe))
    assert entry["request_id"] == "probe-1"
    assert {k: entry[k] for k in ("method", "path", "status", "logger")} == {
        "method": "GET",
        "path": "/healthz",
        "status": 200,
        "logger": "academy.access",
    }
    secret = app.config["SECRET_KEY"]
    cookies = client.get_cookie("academy_session", domain="127.0.0.1")
    for record in lines:
        text_line = json.dumps(JsonFormatter().format(record)) + record.getMessage()
        assert secret not in text_line and "id_token" not in text_line
        if cookies is not None:
            assert cookies.value not in text_line
