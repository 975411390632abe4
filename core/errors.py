"""One error page style for every failure a person can see."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from core.db import db

log = logging.getLogger(__name__)


class UserFacingError(Exception):
    """An error whose title and detail are safe and useful to show to the person."""

    status = 400

    def __init__(self, title: str, detail: str, *, status: int | None = None, hint: str = ""):
        super().__init__(f"{title}: {detail}")
        self.title = title
        self.detail = detail
        self.hint = hint
        if status is not None:
            self.status = status


def render_error(status: int, title: str, detail: str, hint: str = "") -> tuple[str, int]:
    return (
        render_template("error.html", status=status, title=title, detail=detail, hint=hint),
        status,
    )


# Seconds a client is asked to wait (``Retry-After``) when the database does not answer.
DATABASE_RETRY_AFTER = 5


# SQLite reports its own mistakes (no such table, a syntax error) as OperationalError too;
# only these mean the database could not be used just now.
SQLITE_UNAVAILABLE = (
    "database is locked",
    "unable to open database file",
    "disk i/o error",
    "database or disk is full",
    "readonly database",
)


def database_unavailable(error: BaseException) -> bool:
    """The database could not be reached or dropped the connection (restart, failover, a full
    connection pool, SQLite's lock or disk): a moment later the same request may work."""
    if isinstance(error, PoolTimeoutError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    if type(error.orig).__module__.startswith("sqlite3"):
        return any(words in str(error.orig).lower() for words in SQLITE_UNAVAILABLE)
    return True


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(UserFacingError)
    def _user_facing(error: UserFacingError) -> tuple[str, int]:
        log.info("refused %s %s: %s", request.method, request.path, error)
        return render_error(error.status, error.title, error.detail, error.hint)

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> tuple[str, int]:
        return render_error(
            400,
            "This form has expired",
            "The page was open too long or your session changed, so we could not accept it.",
            "Go back, reload the page and send the form again.",
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[str, int] | tuple[str, int, dict[str, str]]:
        status = error.code or 500
        page = render_error(status, error.name, error.description or "")
        retry_after = getattr(error, "retry_after", None)
        return (*page, {"Retry-After": str(retry_after)}) if retry_after else page

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[str, int] | tuple[str, int, dict[str, str]]:
        if database_unavailable(error):
            return _database_down(error)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(
            500,
            "Something went wrong on our side",
            "The error has been logged. Nothing you did caused it.",
            "Try again in a moment; if it keeps happening, tell your administrator.",
        )


def _database_down(error: Exception) -> tuple[str, int, dict[str, str]]:
    """503 with the usual error page and a ``Retry-After``; the transaction in progress is
    rolled back. One log line, not a traceback per request, while the database is away."""
    try:
        db.session.rollback()
    except Exception:  # the connection is gone; the session is discarded anyway
        log.debug("rollback after a lost database connection failed", exc_info=True)
    cause = str(getattr(error, "orig", None) or error).strip().splitlines()
    log.warning(
        "database unavailable on %s %s: %s: %s",
        request.method,
        request.path,
        type(error).__name__,
        cause[0] if cause else "",
    )
    page, status = render_error(
        503,
        "The service is briefly unavailable",
        "Its database did not answer, so this page could not be shown.",
        "Try again in a moment. If you had sent a form, check afterwards whether it was saved; "
        "if this lasts, tell your administrator.",
    )
    return page, status, {"Retry-After": str(DATABASE_RETRY_AFTER)}
