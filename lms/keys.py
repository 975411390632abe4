"""RSA signing keys: created on first need, published as a JWK set, rotated with a grace period.

Keys live in the database so every worker and host signs with, and publishes, the same keys.
Parsed private keys are memoised per kid: loading a PEM re-validates the RSA key (~50 ms),
which would otherwise dominate every signature.
"""

from __future__ import annotations

import json
from datetime import timedelta
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.db import utcnow
from lms.models import SigningKey

TOOL = "tool"
DEV_PLATFORM = "dev-platform"
# Retired keys stay in the JWKS this long: platforms cache our JWKS, and our client assertions
# and deep-linking responses must verify until they expire.
RETIRED_KEY_GRACE = timedelta(days=2)


def _new_key(purpose: str) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    jwk = JWK.from_pem(pem.encode())
    kid = jwk.thumbprint()
    public = json.loads(jwk.export_public())
    public.update(kid=kid, alg="RS256", use="sig")
    return SigningKey(kid=kid, purpose=purpose, private_pem=pem, public_jwk=public)


def _current(session: Session, purpose: str) -> SigningKey | None:
    return session.scalar(
        select(SigningKey)
        .where(SigningKey.purpose == purpose, SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
        .limit(1)
    )


def active_key(session: Session, purpose: str = TOOL) -> SigningKey:
    """The key that signs now. The first one is created and committed in its own short
    transaction, so it is published before anything signed with it leaves the process, and
    the caller's transaction is not left holding a write while it talks to an LMS."""
    key = _current(session, purpose)
    if key is None:
        with Session(session.get_bind()) as own:
            own.add(_new_key(purpose))
            own.commit()
        key = _current(session, purpose)
        assert key is not None
    return key


def rotate(session: Session, purpose: str = TOOL) -> tuple[SigningKey, list[SigningKey]]:
    """Make a new signing key and retire the current ones (they stay published for a while)."""
    now = utcnow()
    retired = list(
        session.scalars(
            select(SigningKey).where(SigningKey.purpose == purpose, SigningKey.retired_at.is_(None))
        )
    )
    for key in retired:
        key.retired_at = now
    new = _new_key(purpose)
    session.add(new)
    session.flush()
    return new, retired


def published_keys(session: Session, purpose: str = TOOL) -> list[SigningKey]:
    cutoff = utcnow() - RETIRED_KEY_GRACE
    return list(
        session.scalars(
            select(SigningKey)
            .where(
                SigningKey.purpose == purpose,
                or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > cutoff),
            )
            .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
        )
    )


def prune(session: Session, purpose: str = TOOL) -> int:
    """Delete retired keys whose grace period is over. Returns how many were removed."""
    cutoff = utcnow() - RETIRED_KEY_GRACE
    old = list(
        session.scalars(
            select(SigningKey).where(
                SigningKey.purpose == purpose,
                SigningKey.retired_at.is_not(None),
                SigningKey.retired_at <= cutoff,
            )
        )
    )
    for key in old:
        session.delete(key)
    return len(old)


def jwks(session: Session, purpose: str = TOOL) -> dict[str, list[dict[str, Any]]]:
    return {"keys": [key.public_jwk for key in published_keys(session, purpose)]}


@lru_cache(maxsize=32)
def load_private_key(kid: str, pem: str) -> rsa.RSAPrivateKey:
    """Parse once per process and kid (the kid is content-derived, so the cache is safe)."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key
