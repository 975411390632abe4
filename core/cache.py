"""A per-process cache of snapshots of rarely changing rows (LMS registrations, course
teams, resource links, parsed platform keys, courses), so hot requests do not read them every
time.

Only values that are safe to be a little stale go here: every entry expires after
``LTI_REGISTRY_CACHE_SECONDS``, and a change made in this process clears the whole cache at
once (``forget_when_changed``). Other processes see a change within that time. Nothing is ever
stored here that another process needs: a miss just reads the database.
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

CACHE_KEY = "process_cache"
CACHE_LIMIT = 5000  # entries; a full cache is emptied rather than grown


class ProcessCache:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[tuple[Any, ...], tuple[float, Any]] = {}

    def get(self, key: tuple[Any, ...]) -> Any:
        hit = self._entries.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        if self.seconds <= 0:
            return
        if len(self._entries) >= CACHE_LIMIT:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.seconds, value)

    def clear(self) -> None:
        self._entries.clear()


def process_cache() -> ProcessCache:
    cache = current_app.extensions.get(CACHE_KEY)
    if cache is None:
        cache = ProcessCache(current_app.config.get("LTI_REGISTRY_CACHE_SECONDS", 30))
        current_app.extensions[CACHE_KEY] = cache
    return cache


def forget_process_cache() -> None:
    cache = current_app.extensions.get(CACHE_KEY)
    if cache is not None:
        cache.clear()


def forget_when_changed(*models: type) -> None:
    """Empty this process's cache whenever a flush writes a row of one of ``models``, so a
    change made in this process applies in it at once."""

    @event.listens_for(Session, "after_flush")
    def _forget(session: Session, _context: Any) -> None:
        touched = (*session.new, *session.dirty, *session.deleted)
        if has_app_context() and any(isinstance(row, models) for row in touched):
            forget_process_cache()
