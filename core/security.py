"""Cookies that work inside an LMS iframe, and security headers that allow exactly that framing."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterable

from flask import Flask, Response, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.exc import SQLAlchemyError

from core.db import db

FrameAncestorSource = Callable[[], Iterable[str]]


def signing_secrets(app: Flask) -> tuple[str | bytes, ...]:
    """The secrets that sign sessions and login nonces, oldest first: the newest
    (``SECRET_KEY``) signs, and the fallbacks of a rotation still verify."""
    return (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.config["SECRET_KEY"])


HOST_PREFIX = "__Host-"


class IframeSessionInterface(SecureCookieSessionInterface):
    """Session cookie with ``SameSite=None; Secure; Partitioned`` over HTTPS, so it survives a
    cross-site iframe even where third-party cookies are blocked (CHIPS: the browser keeps it
    in a jar of the LMS's site, apart from the tool's own); ``Lax`` over plain HTTP, where
    browsers refuse ``SameSite=None`` without ``Secure``."""

    _serializer: tuple[tuple[object, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        # Flask builds a new serializer for every request (and checks it by serializing an
        # empty dict): kept here until the secret or its fallbacks change.
        keys = signing_secrets(app)
        if self._serializer is None or self._serializer[0] != keys:
            self._serializer = (keys, super().get_signing_serializer(app))
        return self._serializer[1]

    def get_cookie_samesite(self, app: Flask) -> str | None:
        return "None" if request.is_secure else "Lax"

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure

    def get_cookie_partitioned(self, app: Flask) -> bool:
        return request.is_secure

    def get_cookie_name(self, app: Flask) -> str:
        # Over HTTPS the partitioned cookie has a name of its own: an unpartitioned cookie
        # of the old name, left from before, would otherwise be sent beside it, first, and
        # win, bringing back an older session. ``__Host-`` also pins it to this host and
        # path "/" (both Flask's defaults here).
        name = super().get_cookie_name(app)
        return HOST_PREFIX + name if request.is_secure else name


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def allow_frames_from(*origins: str) -> None:
    """Let this response's page embed the given origins in iframes (CSP ``frame-src``)."""
    g.setdefault("csp_frame_src", set()).update(origins)


def allow_framing_by(*origins: str) -> None:
    """Let these origins frame this response only (CSP ``frame-ancestors``), beside the
    registered platforms: e.g. an LMS that is registering the tool and is not registered yet."""
    g.setdefault("csp_frame_ancestors", set()).update(origins)


def register_frame_ancestor_source(app: Flask, source: FrameAncestorSource) -> None:
    """Packages that know which sites may frame us (the registered LMS platforms) add a source."""
    app.extensions.setdefault("frame_ancestor_sources", []).append(source)


FRAME_ANCESTORS_TTL = 30.0


def _frame_ancestors() -> str:
    """The sites that may frame us, kept per process for a few seconds: they change only
    when a platform is registered, and reading them costs a query on every page."""
    cached = current_app.extensions.get("frame_ancestors_cache")
    now = time.monotonic()
    if cached is None or now - cached[0] > FRAME_ANCESTORS_TTL:
        origins: set[str] = set()
        try:
            for source in current_app.extensions.get("frame_ancestor_sources", []):
                origins.update(source())
        except SQLAlchemyError:
            # The database is away (this is probably the page saying so): the last list
            # known, else only ourselves; asked again with the next page.
            with contextlib.suppress(SQLAlchemyError):
                db.session.rollback()
            return cached[1] if cached is not None else "'self'"
        cached = (now, " ".join(["'self'", *sorted(origins)]))
        current_app.extensions["frame_ancestors_cache"] = cached
    return cached[1]


def _set_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    # Redirects carry no page to frame or script; their (empty) body needs no policy.
    if response.mimetype == "text/html" and not 300 <= response.status_code < 400:
        nonce = g.get("csp_nonce")
        script_src = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
        frame_src = " ".join(["'self'", *sorted(g.get("csp_frame_src", ()))])
        ancestors = _frame_ancestors()
        if extra := g.get("csp_frame_ancestors"):
            ancestors = " ".join([ancestors, *sorted(extra - set(ancestors.split()))])
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            f"script-src {script_src}; frame-src {frame_src}; object-src 'none'; "
            "base-uri 'none'; "
            # Forms post to the LMS (OIDC, deep-linking return) on other origins.
            "form-action 'self' https: http:; "
            f"frame-ancestors {ancestors}",
        )
    if current_app.config["APP_ENV"] == "production":
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def init_security(app: Flask) -> None:
    app.session_interface = IframeSessionInterface()
    app.after_request(_set_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
