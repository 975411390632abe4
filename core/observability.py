"""Request ids in every log line (and in the ``X-Request-Id`` response header), optional JSON
logs for a log collector, and the readiness check behind ``/readyz``."""

from __future__ import annotations

import functools
import json
import logging
import re
import tempfile
import time
import uuid
from pathlib import Path

from flask import Flask, Response, current_app, g, has_request_context, request, session
from sqlalchemy import text

from core.auth import VIEWER_KEY
from core.db import db

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")  # a proxy's id is kept only if it is sane
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# The per-request line's logger; a deployment can lower or raise its level on its own.
ACCESS_LOG = logging.getLogger("academy.access")
# Fields of the per-request line, each its own key in JSON logs.
REQUEST_FIELDS = ("method", "path", "status", "duration_ms", "platform_id", "user_id")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id (and the error)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for name in REQUEST_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, log_format: str) -> None:
    logging.basicConfig(level=level, format=TEXT_FORMAT)
    for handler in logging.root.handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
        if log_format == "json":
            handler.setFormatter(JsonFormatter())


def init_request_ids(app: Flask) -> None:
    @app.before_request
    def assign_request_id() -> None:
        g.request_started = time.perf_counter()
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
        log_request(response)
        return response


def log_request(response: Response) -> None:
    """The one line per request, written by the app so every server (gunicorn, ``flask run``,
    a container's) gives the same access log. The path goes without its query string, which
    may carry a login hint or a registration token; no header, cookie or body is read."""
    started = g.get("request_started")
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
    fields: dict[str, object] = {
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": duration_ms,
    }
    # dict.get, not session.get: reading the session through its own methods marks it
    # accessed, which adds "Vary: Cookie" to every response, the probes' included.
    current = session._get_current_object()
    viewer = dict.get(current, VIEWER_KEY) if isinstance(current, dict) else None
    if isinstance(viewer, dict):
        fields["platform_id"] = viewer.get("platform_id")
        fields["user_id"] = viewer.get("user_id")
    known = " ".join(
        f"{k.removesuffix('_id')}={fields[k]}"
        for k in ("platform_id", "user_id")
        if fields.get(k) is not None
    )
    ACCESS_LOG.info(
        "%s %s %s %s ms%s",
        fields["method"],
        fields["path"],
        fields["status"],
        duration_ms,
        f" {known}" if known else "",
        extra=fields,
    )


def migration_heads() -> set[str]:
    """The newest revision(s) of the code's migrations."""
    return set(_revisions_of(_migrations_directory())[0])


def _migrations_directory() -> str:
    return str(Path(current_app.extensions["migrate"].directory).resolve())


@functools.cache
def _revisions_of(directory: str) -> tuple[frozenset[str], frozenset[str]]:
    """(head revisions, every revision) of the migration scripts. Read once per process:
    reading them takes 30 ms of CPU, and they change only with a new release, which starts
    new processes."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", directory)
    scripts = ScriptDirectory.from_config(config)
    known = frozenset(script.revision for script in scripts.walk_revisions())
    return frozenset(scripts.get_heads()), known


def schema_revisions() -> tuple[set[str], set[str]]:
    """(the database's migration revision(s), the code's head revision(s)); raises when the
    database does not answer."""
    try:
        current = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    except Exception:
        db.session.rollback()
        raise
    return current, migration_heads()


def readiness() -> tuple[bool, str]:
    """Whether this process can serve, and if not which check failed, in words a load
    balancer's log shows an operator: the database cannot be reached, its schema is behind (or
    ahead of) the code, or the SQLite database's folder cannot be written. Details that could
    help an attacker (host names, paths) stay out: `flask doctor` gives them."""
    try:
        return _readiness()
    finally:
        db.session.remove()


def _readiness() -> tuple[bool, str]:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as error:
        db.session.rollback()
        return False, f"cannot connect to the database ({type(error).__name__})"
    try:
        current, heads = schema_revisions()
    except Exception:
        return False, "database not migrated (no schema version): run `flask db upgrade`"
    if current != heads:
        known = _revisions_of(_migrations_directory())[1]
        at = ", ".join(sorted(current)) or "no revision"
        expects = ", ".join(sorted(heads))
        if current - known:
            return False, (
                f"schema ahead: database at {at}, which this code does not know (it expects "
                f"{expects}): deploy the newer code here"
            )
        return (
            False,
            f"schema behind: database at {at}, code expects {expects}: run `flask db upgrade`",
        )
    folder = _unwritable_sqlite_folder()
    if folder:
        return False, (
            "instance folder not writable (read-only or full): the SQLite database cannot be "
            "written"
        )
    return True, "ready"


def _unwritable_sqlite_folder() -> str:
    """The SQLite database's folder if this process cannot write there (a folder made
    read-only after start, or a full disk). Other databases need no folder."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return ""
    folder = Path(url.database).absolute().parent
    try:
        # One byte written through: creating an empty file still works on a full disk.
        with tempfile.NamedTemporaryFile(dir=folder, buffering=0) as probe:
            probe.write(b"\0")
    except OSError:
        return str(folder)
    return ""
