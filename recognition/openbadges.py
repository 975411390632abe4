"""Open Badges: every award as an Open Badges 3.0 credential signed as a VC-JWT with the tool's
key, a revocation status list, an Open Badges 2.0 hosted assertion, and baked images.

Pure functions from plain values (the award, its badge, the issuer's URLs) to JSON and bytes;
signing uses the tool's active RSA key (``lms.keys``), whose public half ``/lms/jwks``
publishes. A VC-JWT's ``kid`` is the URL of that one key (``Issuer.key_url``), which answers
with the key as a JWK, so a verifier holding only the credential can find it; the issuer
profile lists the same URLs.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import struct
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from recognition.images import PNG_SIGNATURE, medal_png, png_chunks
from recognition.models import Award, Badge
from recognition.svg import SvgRefused, sanitise_svg

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB2_CONTEXT = "https://w3id.org/openbadges/v2"
STATUS_LIST_BITS = 131_072  # 16 KiB: the minimum the Bitstring Status List spec asks for


@dataclass(frozen=True)
class Issuer:
    """Where the issuer's documents live; ``base`` is the tool's public URL."""

    base: str
    name: str
    email: str

    @property
    def profile_url(self) -> str:
        return f"{self.base}/badges/issuer"

    @property
    def status_list_url(self) -> str:
        return f"{self.base}/badges/status/revocation"

    def achievement_url(self, badge: Badge) -> str:
        return f"{self.base}/badges/achievements/{badge.public_id}"

    def badge_class_url(self, badge: Badge) -> str:
        return f"{self.base}/badges/classes/{badge.public_id}"

    def image_url(self, badge: Badge) -> str:
        return f"{self.base}/badges/{badge.public_id}/image"

    def key_url(self, kid: str) -> str:
        return f"{self.base}/badges/keys/{kid}"

    def assertion_url(self, award: Award) -> str:
        return f"{self.base}/badges/assertions/{award.public_id}"


def issuer_email(setting: str, base: str) -> str:
    """The issuer's contact address: the setting, else ``badges@`` the public host."""
    return setting or f"badges@{urlsplit(base).hostname or 'localhost'}"


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def identity_hash(identity: str, salt: str) -> str:
    return "sha256$" + hashlib.sha256((identity + salt).encode()).hexdigest()


def recipient_identity(email: str | None, platform_issuer: str, sub: str) -> tuple[str, str]:
    """(OB 3.0 identityType, the identity to hash): the email when the LMS gave one, else the
    person's LMS identifier."""
    if email:
        return "emailAddress", email.strip().lower()
    return "identifier", f"{platform_issuer}#{sub}"


def subject_id(award: Award) -> str:
    """An opaque id for the recipient in this credential (not their email or LMS id)."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'cx-academy:{award.public_id}:subject')}"


def credential(
    award: Award, badge: Badge, issuer: Issuer, identity: tuple[str, str]
) -> dict[str, Any]:
    """The OpenBadgeCredential (Open Badges 3.0) for an award."""
    identity_type, value = identity
    return {
        "@context": [VC_CONTEXT, OB3_CONTEXT],
        "id": f"urn:uuid:{award.public_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer.profile_url, "type": ["Profile"], "name": issuer.name},
        "validFrom": _timestamp(award.issued_at),
        "name": badge.name,
        "credentialSubject": {
            "id": subject_id(award),
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": identity_hash(value, award.salt),
                    "identityType": identity_type,
                    "hashed": True,
                    "salt": award.salt,
                }
            ],
            "achievement": _achievement_body(badge, issuer),
        },
        "credentialStatus": {
            "id": f"{issuer.status_list_url}#{award.id}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(award.id),
            "statusListCredential": issuer.status_list_url,
        },
    }


def sign_vc_jwt(document: dict[str, Any], private_key: Any, kid: str) -> str:
    """A VC-JWT: the credential's properties as the payload, with the registered claims
    (``iss``, ``sub``, ``jti``, ``nbf``) taken from the credential itself. ``kid`` is the
    key's URL (``Issuer.key_url``): Open Badges 3.0 asks for one that dereferences to it."""
    valid_from = datetime.strptime(document["validFrom"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    claims = {
        **document,
        "iss": document["issuer"]["id"],
        "jti": document["id"],
        "nbf": int(valid_from.timestamp()),
    }
    subject = document.get("credentialSubject", {}).get("id")
    if subject:
        claims["sub"] = subject
    return jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": kid, "typ": "JWT"})


def status_list_credential(
    issuer: Issuer, revoked_indexes: set[int], now: datetime
) -> dict[str, Any]:
    """The BitstringStatusListCredential: bit ``i`` set means the award with id ``i`` is revoked."""
    bits = bytearray(STATUS_LIST_BITS // 8)
    for index in revoked_indexes:
        if 0 <= index < STATUS_LIST_BITS:
            bits[index // 8] |= 0x80 >> (index % 8)  # the first bit is the most significant
    encoded = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(bits), mtime=0)).decode().rstrip(
        "="
    )
    return {
        "@context": [VC_CONTEXT],
        "id": issuer.status_list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": {"id": issuer.profile_url, "type": ["Profile"], "name": issuer.name},
        "validFrom": _timestamp(now),
        "credentialSubject": {
            "id": f"{issuer.status_list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encoded,
        },
    }


def is_revoked_in(encoded_list: str, index: int) -> bool:
    """Read one bit of an ``encodedList`` (used by tests, and by anyone checking ours)."""
    raw = encoded_list[1:] if encoded_list.startswith("u") else encoded_list
    bits = gzip.decompress(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


# -- Open Badges 2.0 (hosted) ----------------------------------------------------------------


def issuer_profile(issuer: Issuer, kids: list[str]) -> dict[str, Any]:
    """The issuer (Open Badges 2.0 ``Issuer``), with the URLs of the keys it signs with."""
    return {
        "@context": OB2_CONTEXT,
        "type": "Issuer",
        "id": issuer.profile_url,
        "name": issuer.name,
        "url": issuer.base,
        "email": issuer.email,
        "publicKey": [issuer.key_url(kid) for kid in kids],
    }


def verification_key(issuer: Issuer, jwk: dict[str, Any]) -> dict[str, Any]:
    """What a key's URL answers: the JWK (the members a JOSE library reads), which is also
    an Open Badges 2.0 ``CryptographicKey`` of the issuer (members JOSE ignores)."""
    public_pem = (
        jwt.PyJWK(jwk).key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    )
    return {
        **jwk,
        "@context": OB2_CONTEXT,
        "type": "CryptographicKey",
        "id": issuer.key_url(jwk["kid"]),
        "owner": issuer.profile_url,
        "publicKeyPem": public_pem,
    }


def badge_class(badge: Badge, issuer: Issuer) -> dict[str, Any]:
    return {
        "@context": OB2_CONTEXT,
        "type": "BadgeClass",
        "id": issuer.badge_class_url(badge),
        "name": badge.name,
        "description": badge.description,
        "image": issuer.image_url(badge),
        "criteria": {"narrative": badge.criteria},
        "issuer": issuer.profile_url,
    }


def _achievement_body(badge: Badge, issuer: Issuer) -> dict[str, Any]:
    """The Achievement as a credential embeds it and as its own URL serves it."""
    return {
        "id": issuer.achievement_url(badge),
        "type": ["Achievement"],
        "name": badge.name,
        "description": badge.description,
        "criteria": {"narrative": badge.criteria},
        "image": {"id": issuer.image_url(badge), "type": "Image"},
    }


def achievement(badge: Badge, issuer: Issuer) -> dict[str, Any]:
    creator = {"id": issuer.profile_url, "type": ["Profile"], "name": issuer.name}
    return {
        "@context": [VC_CONTEXT, OB3_CONTEXT],
        **_achievement_body(badge, issuer),
        "creator": creator,
    }


def assertion(
    award: Award, badge: Badge, issuer: Issuer, identity: tuple[str, str]
) -> dict[str, Any]:
    identity_type, value = identity
    if award.revoked_at is not None:
        return {
            "@context": OB2_CONTEXT,
            "type": "Assertion",
            "id": issuer.assertion_url(award),
            "revoked": True,
            # Published only when whoever withdrew it chose so; otherwise it may name a
            # mistake or a person's conduct, which is between them and the holder.
            **({"revocationReason": award.revoked_reason} if award.revoked_reason_public else {}),
        }
    return {
        "@context": OB2_CONTEXT,
        "type": "Assertion",
        "id": issuer.assertion_url(award),
        "recipient": {
            "type": "email" if identity_type == "emailAddress" else "id",
            "hashed": True,
            "salt": award.salt,
            "identity": identity_hash(value, award.salt),
        },
        "badge": issuer.badge_class_url(badge),
        "verification": {"type": "hosted"},
        "issuedOn": _timestamp(award.issued_at),
        "image": f"{issuer.assertion_url(award)}/image",
    }


# -- baking ----------------------------------------------------------------------------------


def _itxt(keyword: str, text: str) -> bytes:
    data = keyword.encode("latin-1") + b"\0\0\0" + b"\0" + b"\0" + text.encode("utf-8")
    return (
        struct.pack(">I", len(data))
        + b"iTXt"
        + data
        + struct.pack(">I", zlib.crc32(b"iTXt" + data))
    )


def bake_png(image: bytes, keyword: str, text: str) -> bytes:
    """The PNG with an iTXt chunk ``keyword`` holding ``text`` (any earlier one replaced)."""
    out = bytearray(PNG_SIGNATURE)
    for kind, body in png_chunks(image):
        if kind == b"iTXt" and body.split(b"\0", 1)[0] == keyword.encode():
            continue
        if kind == b"IEND":
            out += _itxt(keyword, text)
        out += (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )
    return bytes(out)


def read_baked_png(image: bytes, keyword: str) -> str | None:
    for kind, body in png_chunks(image):
        if kind == b"iTXt":
            name, rest = body.split(b"\0", 1)
            if name == keyword.encode():
                # compression flag, method, language tag\0, translated keyword\0, text
                _, _, tail = rest[0], rest[1], rest[2:]
                _language, _, tail = tail.partition(b"\0")
                _translated, _, text = tail.partition(b"\0")
                return text.decode("utf-8")
    return None


def bake_svg(image: bytes, verify_url: str, jws: str) -> bytes:
    """The SVG with an ``openbadges:credential`` element holding the compact JWS."""
    text = image.decode("utf-8")
    text = re.sub(
        r"<svg\b",
        '<svg xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"',
        text,
        count=1,
    )
    element = (
        f'<openbadges:credential verify="{verify_url}"><![CDATA[{jws}]]></openbadges:credential>'
    )
    return text.replace("</svg>", element + "</svg>", 1).encode()


def bake(award: Award, badge: Badge, verify_url: str, jws: str) -> tuple[bytes, str]:
    """The badge image carrying its credential: SVG badges as SVG, others as PNG.

    An SVG is checked again here, because images stored before the check parsed them may hold
    script; one that fails is baked into the plain medal PNG instead, so the holder still
    gets their credential and nobody gets the script."""
    if badge.image_type == "image/svg+xml":
        try:
            return bake_svg(sanitise_svg(badge.image), verify_url, jws), "image/svg+xml"
        except SvgRefused:
            return bake_png(medal_png(badge.kind), "openbadgecredential", jws), "image/png"
    return bake_png(badge.image, "openbadgecredential", jws), "image/png"


def bake_ob2(badge: Badge, assertion_url: str) -> bytes:
    """An Open Badges 2.0 baked PNG (iTXt ``openbadges`` with the hosted assertion's URL)."""
    image = badge.image if badge.image_type == "image/png" else medal_png(badge.kind)
    return bake_png(image, "openbadges", assertion_url)
