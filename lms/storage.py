"""pylti1p3's launch-data / nonce / state storage, kept in the database.

Every gunicorn worker and host sees the same state, so a login handled by one process and
the launch by another succeed. Writes join the caller's transaction: a launch that is refused
rolls back and leaves nothing behind.

Login nonces are signed, not stored: a login writes nothing (but its rate-limit count), and
a launch records its nonce as used, so a nonce works once and only within its lifetime.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, TimestampSigner
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from sqlalchemy import Executable, delete, select
from sqlalchemy.orm import Session

from core.db import insert_for, utcnow
from lms.models import LtiStateEntry

NONCE_PREFIX = "lti1p3-nonce-"  # pylti1p3's key for a nonce it asks us to store
USED_NONCE_PREFIX = "lti1p3-used-nonce-"
NONCE_SALT = "lti1p3-login-nonce"


@dataclass(frozen=True)
class LoginNonces:
    """Nonces the login signs with the tool's secret (newest key last; older keys still
    verify), valid for ``lifetime`` seconds; ``leeway`` allows for the clocks of the tool's
    hosts disagreeing a little between the login and the launch."""

    secret_keys: Sequence[str | bytes]
    lifetime: int
    leeway: int

    def _signer(self) -> TimestampSigner:
        return _nonce_signer(tuple(self.secret_keys))

    def issue(self) -> str:
        return self._signer().sign(secrets.token_urlsafe(24)).decode()

    def issued_at(self, nonce: str) -> datetime | None:
        """When the tool issued ``nonce``; None when it did not, or too long ago."""
        try:
            _, signed_at = self._signer().unsign(nonce, return_timestamp=True)
        except BadSignature:
            return None
        age = (utcnow() - signed_at).total_seconds()
        if not -self.leeway <= age <= self.lifetime:
            return None
        return signed_at


class _KeyKeepingSigner(TimestampSigner):
    """itsdangerous derives the signing key from the secret (an HMAC) on every sign and
    verify; the same secret always gives the same key, so each is derived once."""

    def __init__(self, secret_keys: list[str | bytes], salt: str) -> None:
        super().__init__(secret_keys, salt=salt)
        self._derived: dict[str | bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = self._derived.get(secret_key)
        if key is None:
            key = self._derived[secret_key] = super().derive_key(secret_key)
        return key


@functools.lru_cache(maxsize=4)  # one set of secrets, and the next during a rotation
def _nonce_signer(secret_keys: tuple[str | bytes, ...]) -> TimestampSigner:
    return _KeyKeepingSigner(list(secret_keys), salt=NONCE_SALT)


class DatabaseLaunchDataStorage(LaunchDataStorage[Any]):
    def __init__(
        self, session: Session, nonces: LoginNonces, default_lifetime: int = 86400
    ) -> None:
        super().__init__()
        self._session = session
        self._nonces = nonces
        self._default_lifetime = default_lifetime

    def get_session_cookie_name(self) -> str | None:
        # Keys are random (state uuid, signed nonce, launch uuid), so no per-browser prefix is
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
        if key.startswith(NONCE_PREFIX):
            return  # pylti1p3 stores the nonces it issues; ours are signed (issue_nonce)
        expires_at = utcnow() + timedelta(seconds=exp or self._default_lifetime)
        # One statement, no read first: keys are almost always new (random state and launch
        # ids).
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

    def issue_nonce(self) -> str:
        return self._nonces.issue()

    def consume_nonce(self, nonce: str) -> bool:
        """Use a nonce we issued, within its lifetime, exactly once. The use is recorded with
        an insert that does nothing when the record exists: of two launches with the same
        nonce, at once or one after the other, only one records it."""
        issued_at = self._nonces.issued_at(nonce)
        if issued_at is None:
            return False
        # Kept while any host could still accept the nonce, even one whose clock is behind by
        # the leeway while the host that purges is ahead by as much.
        expires_at = issued_at + timedelta(seconds=self._nonces.lifetime + 2 * self._nonces.leeway)
        recorded = self._session.execute(
            _used_nonce_insert(self._session.get_bind().dialect.name),
            {"key": USED_NONCE_PREFIX + nonce, "value": True, "expires_at": expires_at},
        ).first()
        return recorded is not None


# Built once per dialect, as building a statement costs more than running it; on the table,
# not the entity, as no request has these rows loaded.
_STATE_TABLE = LtiStateEntry.__table__


@functools.cache
def _entry_upsert(dialect: str) -> Executable:
    statement = insert_for(dialect)(_STATE_TABLE)
    return statement.on_conflict_do_update(
        index_elements=[LtiStateEntry.key],
        set_={"value": statement.excluded.value, "expires_at": statement.excluded.expires_at},
    )


@functools.cache
def _used_nonce_insert(dialect: str) -> Executable:
    # RETURNING says whether the row was new: PostgreSQL's driver gives no rowcount here.
    return (
        insert_for(dialect)(_STATE_TABLE)
        .on_conflict_do_nothing(index_elements=[LtiStateEntry.key])
        .returning(_STATE_TABLE.c.key)
    )


def purge_expired(session: Session) -> int:
    result = session.execute(delete(LtiStateEntry).where(LtiStateEntry.expires_at <= utcnow()))
    return result.rowcount  # type: ignore[attr-defined]
