"""Request ids in every log line (and in the ``X-Request-Id`` response header), optional JSON
logs for a log collector, and the readiness check behind ``/readyz``."""

from __future__ import annotations

import functools
import json
import logging
import re
import uuid
from pathlib import Path

from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy import text

from core.db import db

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")  # a proxy's id is kept only if it is sane
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


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
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
        return response


def migration_heads() -> set[str]:
    """The newest revision(s) of the code's migrations."""
    return set(_heads_of(str(Path(current_app.extensions["migrate"].directory).resolve())))


@functools.cache
def _heads_of(directory: str) -> frozenset[str]:
    """Read once per process: reading the migration scripts takes 30 ms of CPU, and they
    change only with a new release, which starts new processes."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", directory)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


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
    """Whether this process can serve: the database answers and its schema is the code's."""
    try:
        current, heads = schema_revisions()
    except Exception as error:
        return False, f"database unavailable or not migrated: {type(error).__name__}"
    finally:
        db.session.remove()
    if current != heads:
        return False, (
            f"database at {', '.join(sorted(current)) or 'no revision'}, code expects "
            f"{', '.join(sorted(heads))}: run `flask db upgrade`"
        )
    return True, "ready"
