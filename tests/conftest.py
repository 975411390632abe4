"""Fixtures: every test runs on SQLite and, when it answers, on PostgreSQL.

A real HTTP server (a thread) serves the app for the duration of a database's tests, because
the tool fetches the development platform's JWKS over HTTP. The browser side of each flow goes
through Flask's test client. The tool is addressed as ``127.0.0.1`` and the development
platform as ``localhost``: different sites, so cookies are not shared between them.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from werkzeug.serving import make_server

from core import create_app
from core.config import Settings
from core.db import db
from lms import keys
from lms.devplatform import service as devplatform
from tests.lti import LtiBrowser

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
# Kept between tests: generating RSA keys is slow, and any key left behind is a valid key.
KEPT_TABLES = {"signing_keys"}


def _postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if url is not None:
        return url or None
    try:
        psycopg.connect(DEFAULT_PG, connect_timeout=2).close()
    except psycopg.Error:
        return None
    return DEFAULT_PG


PG_URL = _postgres_url()
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Backends:
    """Each backend's database and served app, made when a test first needs it and kept to
    the end of the session.

    pytest tears a parametrised session fixture down whenever the next test wants its other
    parameter. In one process that is once (tests run grouped by backend); with whole test
    files shared out between processes (scripts/test) it is at every file, and a new schema,
    tables and app per file cost more than most files' tests."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, stack: ExitStack) -> None:
        self._tmp = tmp_path_factory
        self._stack = stack
        self._made: dict[str, Live] = {}

    def live(self, backend: str) -> Live:
        if backend not in self._made:
            if backend == "sqlite":
                url = f"sqlite:///{self._tmp.mktemp('db') / 'test.sqlite3'}"
            else:
                url = self._stack.enter_context(postgres_schema("t"))
            served = serve(url, self._tmp.mktemp("instance"))
            self._made[backend] = self._stack.enter_context(served)
        return self._made[backend]

    def by_url(self, database_url: str) -> Live:
        return next(live for live in self._made.values() if live.database_url == database_url)


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    with ExitStack() as stack:
        yield Backends(tmp_path_factory, stack)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, backends: Backends) -> str:
    return backends.live(request.param).database_url


@contextmanager
def postgres_schema(prefix: str) -> Iterator[str]:
    """A database URL whose search path is a new, empty schema, dropped afterwards.

    A schema per run keeps concurrent runs on the shared ``test`` database apart."""
    assert PG_URL
    schema = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@dataclass
class Live:
    app: Flask
    port: int
    database_url: str
    instance_path: Path
    # Every row the development platform's registration wrote, by table (see ``register``).
    registered_rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def tool_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def platform_base(self) -> str:
        return f"http://localhost:{self.port}"

    def settings(self, **overrides: object) -> Settings:
        base = Settings(
            APP_ENV="testing",
            SECRET_KEY="test-secret-" + "x" * 32,
            DATABASE_URL=self.database_url,
            INSTANCE_PATH=str(self.instance_path),
            DEV_PLATFORM_ENABLED=True,
            PUBLIC_BASE_URL=self.tool_base,
            LTI_JWKS_MIN_REFETCH_SECONDS=0,
        )
        return base.with_overrides(**overrides)


@contextmanager
def serve(database_url: str, instance_path: Path) -> Iterator[Live]:
    """The app on ``database_url``, its tables made, served over HTTP on a free port."""
    port = free_port()
    live = Live(
        app=None,  # type: ignore[arg-type]
        port=port,
        database_url=database_url,
        instance_path=instance_path,
    )
    app = create_app(live.settings())
    live.app = app
    with app.app_context():
        db.create_all()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield live
    finally:
        server.shutdown()
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


@pytest.fixture(scope="session")
def live(database_url: str, backends: Backends) -> Live:
    return backends.by_url(database_url)


def empty_tables(app: Flask) -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in KEPT_TABLES]
    with app.app_context():
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            # One round trip instead of one per table: on a busy machine each costs a switch
            # to the server and back, and every test pays this.
            script = "; ".join(str(delete(t).compile(dialect=connection.dialect)) for t in tables)
            connection.exec_driver_sql(script)
        else:
            for table in tables:
                connection.execute(delete(table))
        db.session.commit()


def register(live: Live) -> None:
    """The development platform registered with the tool, as every test starts.

    The first time through ``devplatform.register`` itself; after that its rows are put back
    as that registration wrote them (same ids, values and order), one insert per table, so a
    test does not pay for the registration's dozen queries before it starts."""
    with live.app.app_context():
        # Kept between tests, but a test may have rotated or retired it.
        keys.active_key(db.session, keys.DEV_PLATFORM)
        if not live.registered_rows:
            devplatform.register(db.session, live.platform_base, live.tool_base)
            db.session.commit()
            live.registered_rows = {
                table.name: [dict(row) for row in db.session.execute(select(table)).mappings()]
                for table in db.metadata.sorted_tables
                if table.name not in KEPT_TABLES
            }
        else:
            for table in db.metadata.sorted_tables:
                if rows := live.registered_rows.get(table.name):
                    db.session.execute(table.insert(), rows)
        db.session.commit()


@pytest.fixture
def app(live: Live) -> Iterator[Flask]:
    # Platforms change between tests (and ids may be reused once the tables are emptied).
    live.app.extensions.pop("frame_ancestors_cache", None)
    live.app.extensions.pop("process_cache", None)
    register(live)
    yield live.app
    with live.app.app_context():
        db.session.remove()
    empty_tables(live.app)


@pytest.fixture
def make_app(live: Live, app: Flask) -> Iterator[object]:
    """Another app on the same database with different settings (the factory is side-effect
    free, so this is cheap)."""
    made: list[Flask] = []

    def factory(**overrides: object) -> Flask:
        other = create_app(live.settings(**overrides))
        made.append(other)
        return other

    yield factory
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


@pytest.fixture
def lti(app: Flask, client: FlaskClient, live: Live) -> LtiBrowser:
    """A person's browser between the development platform and the tool."""
    return LtiBrowser(app, client, tool_base=live.tool_base, platform_base=live.platform_base)
