"""Rate limits kept in the database, so every worker process and host counts the same hits.

A fixed window per key: ``allow("api:7", limit=60, per=60)`` is true for the first 60 hits of
each minute. Hits are counted on their own connection and committed at once, so a request
that fails (and rolls back) still counts.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Connection, Executable, String, bindparam, delete
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.exceptions import TooManyRequests

from core.db import Base, db, insert_for


class RateLimitWindow(Base):
    __tablename__ = "rate_limit_windows"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window: Mapped[int] = mapped_column(primary_key=True)  # seconds since 1970 // period
    hits: Mapped[int] = mapped_column(default=0)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window ends


def allow(
    key: str, *, limit: int, per: int, now: float | None = None, with_request: bool = False
) -> Verdict:
    """Count a hit and say whether it is within the limit. The count is committed on its own
    connection at once, so a request that fails still counts; ``with_request`` counts in the
    request's own transaction instead (no second connection and commit: for a request that
    writes and commits anyway, where a refused one has written nothing worth limiting)."""
    moment = time.time() if now is None else now
    window = int(moment // per)
    if with_request:
        hits = _count(db.session.connection(), key[:200], window)
    else:
        with db.engine.begin() as connection:
            hits = _count(connection, key[:200], window)
    return Verdict(hits <= limit, int((window + 1) * per - moment) + 1)


@functools.cache
def _upsert(dialect: str) -> Executable:
    """The counting statement, built once per dialect (building it costs more than running)."""
    return (
        insert_for(dialect)(RateLimitWindow)
        .values(key=bindparam("key"), window=bindparam("window"), hits=1)
        .on_conflict_do_update(
            index_elements=["key", "window"], set_={"hits": RateLimitWindow.hits + 1}
        )
        .returning(RateLimitWindow.hits)
    )


def _count(connection: Connection, key: str, window: int) -> int:
    hits = connection.execute(
        _upsert(connection.dialect.name), {"key": key, "window": window}
    ).scalar_one()
    if hits == 1:  # a new window: forget this key's old ones
        connection.execute(
            delete(RateLimitWindow).where(
                RateLimitWindow.key == key, RateLimitWindow.window < window
            )
        )
    return hits


def enforce(key: str, *, limit: int, per: int, what: str, with_request: bool = False) -> None:
    """Refuse the request with 429 and ``Retry-After`` once ``key`` used up its ``limit`` hits
    in the current ``per``-second window. A limit of 0 switches the check off."""
    if limit <= 0:
        return
    verdict = allow(key, limit=limit, per=per, with_request=with_request)
    if not verdict.allowed:
        raise TooManyRequests(
            f"Too many {what} in a short time. Please wait {verdict.retry_after} seconds "
            "and try again.",
            retry_after=verdict.retry_after,
        )


def enforce_upload_limit(platform_id: int, user_id: int | None) -> None:
    """Imports and uploads are the heaviest requests: each person may send
    ``UPLOADS_PER_HOUR`` of them an hour."""
    enforce(
        f"upload:{platform_id}:{user_id}",
        limit=current_app.config["UPLOADS_PER_HOUR"],
        per=3600,
        what="uploads",
    )
