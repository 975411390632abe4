"""One error page style for every failure a person can see."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

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
    def _unexpected(error: Exception) -> tuple[str, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(
            500,
            "Something went wrong on our side",
            "The error has been logged. Nothing you did caused it.",
            "Try again in a moment; if it keeps happening, tell your administrator.",
        )
