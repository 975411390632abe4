"""pylti1p3's launch-data / nonce / state storage, kept in the database.

Every gunicorn worker and host sees the same state, so a login handled by one process and
the launch by another succeed. Writes join the caller's transaction: a launch that is refused
rolls back and leaves nothing behind.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from pylti1p3.launch_data_storage.base import LaunchDataStorage
from sqlalchemy import Executable, bindparam, delete, select
from sqlalchemy.orm import Session

from core.db import insert_for, utcnow
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
        expires_at = utcnow() + timedelta(seconds=exp or self._default_lifetime)
        # One statement, no read first: keys are almost always new (random state, nonce,
        # launch ids).
        self._session.execute(
            _entry_upsert(self._session.get_bind().dialect.name),
            {"key": self._prepare_key(key), "value": value, "expires_at": expires_at},
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
            _NONCE_DELETE, {"key": self._prepare_key(NONCE_PREFIX + nonce), "now": utcnow()}
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


# Every launch runs these; built once, as building a statement costs more than running it.
# On the table, not the entity: an ORM DELETE first works out which loaded rows it removes
# (1.3 ms of CPU per launch), and no launch has these rows loaded.
_STATE_TABLE = LtiStateEntry.__table__
_NONCE_DELETE = delete(_STATE_TABLE).where(
    _STATE_TABLE.c.key == bindparam("key"), _STATE_TABLE.c.expires_at > bindparam("now")
)


@functools.cache
def _entry_upsert(dialect: str) -> Executable:
    statement = insert_for(dialect)(_STATE_TABLE)
    return statement.on_conflict_do_update(
        index_elements=[LtiStateEntry.key],
        set_={"value": statement.excluded.value, "expires_at": statement.excluded.expires_at},
    )


def purge_expired(session: Session) -> int:
    result = session.execute(delete(LtiStateEntry).where(LtiStateEntry.expires_at <= utcnow()))
    return result.rowcount  # type: ignore[attr-defined]
