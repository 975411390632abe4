"""Prototype fixes for the launch hotspots, applied by monkeypatching: NOT the product.

They exist to estimate what each proposed change to the product would save before anyone
writes it properly. ``bench/profile_launch.py --what-if …`` applies them in-process;
``bench/launch.py --what-if …`` serves ``whatif_wsgi:app`` (the product app with the same
patches) from gunicorn. Results measured with any of these are labelled as such.

    login-autocommit  the login's rate-limit hit counted on an autocommit connection of a
                   pool of its own, so the login's session sends no BEGIN and no COMMIT

Adopted by the product meanwhile (so no longer here): one platform lookup per request,
cached frame-ancestor origins (and no CSP on redirects), INSERT … ON CONFLICT for lti_state,
no resource-link write when nothing changed, and the per-process snapshots of registrations
and parsed platform keys (``core.cache``; the prototypes were ``registry-cache`` and
``jwks-memo``), and no pool pre-ping (``no-pre-ping``: the product checks a pooled connection
with its transaction's ``BEGIN`` on checkout instead).

``login-autocommit`` counts through ``core.ratelimit._count``: the product's public ``allow``
counts in a transaction of its own or in the request's, and the prototype is the third way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FIXES: dict[str, Callable[[Any], None]] = {}


def fix(name: str) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    def register(function: Callable[[Any], None]) -> Callable[[Any], None]:
        FIXES[name] = function
        return function

    return register


def apply(app: Any, names: list[str]) -> None:
    unknown = [name for name in names if name not in FIXES]
    if unknown:
        raise SystemExit(f"unknown --what-if fix: {', '.join(unknown)} (known: {', '.join(FIXES)})")
    for name in names:
        FIXES[name](app)


def parse(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    return list(FIXES) if names == ["all"] else names


@fix("login-autocommit")
def _login_autocommit(app: Any) -> None:
    import time as _time

    from sqlalchemy import create_engine
    from werkzeug.exceptions import TooManyRequests

    import core.ratelimit as ratelimit
    import lms.views
    from core.db import db

    with app.app_context():
        url = db.engine.url
    engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=2)

    def enforce(key, *, limit, per, what, with_request=False):
        if limit <= 0:
            return
        moment = _time.time()
        window = int(moment // per)
        with engine.connect() as connection:
            hits = ratelimit._count(connection, key[:200], window)
        if hits > limit:
            raise TooManyRequests(f"Too many {what}.", retry_after=per)  # (message shortened)

    lms.views.enforce = enforce
