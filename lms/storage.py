"""pylti1p3's launch-data / nonce / state storage, kept in the database.

Every gunicorn worker and host sees the same state, so a login handled by one process and
the launch by another succeed. Writes join the caller's transaction: a launch that is refused
rolls back and leaves nothing behind.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pylti1p3.launch_data_storage.base import LaunchDataStorage
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.db import utcnow
from lms.models import LtiStateEntry

NONCE_PREFIX = "lti1p3-nonce-"


class DatabaseLaunchDataStorage(LaunchDataStorage[Any]):
    def __init__(self, session: Session, default_lifetime: int = 86400) -> None:
        super().__init__()
        self._session = session
        self._default_lifetime = default_lifetime

    def get_session_cookie_name(self) -> str | None:
        # Keys are random (state uuid, 64-hex nonce, launch uuid), so no per-browser prefix is
        # needed; the browser binding is the state cookie. A second cookie would be one more
        # thing a blocked third-party-cookie iframe loses.
        return None

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str) -> Any:
        key = self._prepare_key(key)
        return self._session.scalar(
            select(LtiStateEntry.value).where(
                LtiStateEntry.key == key, LtiStateEntry.expires_at > utcnow()
            )
        )

    def set_value(self, key: str, value: Any, exp: int | None = None) -> None:
        key = self._prepare_key(key)
        expires_at = utcnow() + timedelta(seconds=exp or self._default_lifetime)
        # One statement, no read first: keys are almost always new (random state, nonce,
        # launch ids), and both PostgreSQL and SQLite speak ON CONFLICT.
        dialect = self._session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(LtiStateEntry).values(key=key, value=value, expires_at=expires_at)
        self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[LtiStateEntry.key],
                set_={
                    "value": statement.excluded.value,
                    "expires_at": statement.excluded.expires_at,
                },
            )
        )

    def check_value(self, key: str) -> bool:
        return self.get_value(key) is not None

    def delete_value(self, key: str) -> None:
        self._session.execute(
            delete(LtiStateEntry).where(LtiStateEntry.key == self._prepare_key(key))
        )

    def consume_nonce(self, nonce: str) -> bool:
        """Use a nonce we issued exactly once. The delete is atomic: of two concurrent
        launches with the same nonce only one sees a deleted row."""
        result = self._session.execute(
            delete(LtiStateEntry).where(
                LtiStateEntry.key == self._prepare_key(NONCE_PREFIX + nonce),
                LtiStateEntry.expires_at > utcnow(),
            )
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


def purge_expired(session: Session) -> int:
    result = session.execute(delete(LtiStateEntry).where(LtiStateEntry.expires_at <= utcnow()))
    return result.rowcount  # type: ignore[attr-defined]
