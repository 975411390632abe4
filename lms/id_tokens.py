"""Verifying id_tokens with PyJWT, without its slowest step.

PyJWT checks each base64url segment of a token character by character in a Python generator
before decoding it: 0.45 ms for a launch's 2.7 kB payload, two thirds of verifying the whole
token, RS256 signature included, and paid on every launch. ``decode`` is PyJWT's own
``jwt.decode`` with that one step done by ``bytes.translate`` (C) instead: the same checks in
the same order (padding, alphabet, length, canonical encoding), so the same tokens pass and
fail (``tests/security/test_id_token_segments.py`` compares both on malformed segments). The
signature, claims, audience and issuer checks are PyJWT's, untouched.
"""

from __future__ import annotations

import binascii
from typing import Any

import jwt
from jwt.api_jws import PyJWS
from jwt.exceptions import DecodeError
from jwt.utils import base64url_decode, base64url_encode

BASE64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def decode_segment(segment: bytes, name: str) -> bytes:
    """One base64url segment of a compact JWS, refused exactly as PyJWT refuses it."""
    stripped = segment.rstrip(b"=")
    padding = len(segment) - len(stripped)
    if padding > 2 or (padding and len(segment) % 4 != 0):
        raise DecodeError(f"Invalid {name} padding")
    if len(stripped) % 4 == 1 or stripped.translate(None, BASE64URL_ALPHABET):
        raise DecodeError(f"Invalid {name} padding")
    try:
        decoded = base64url_decode(stripped)
    except (TypeError, binascii.Error) as err:
        raise DecodeError(f"Invalid {name} padding") from err
    if base64url_encode(decoded) != stripped:
        raise DecodeError(f"Invalid {name} padding")
    return decoded


class _FastSegmentsJWS(PyJWS):
    # PyJWT's private hook: should a later PyJWT rename it, this override is simply unused and
    # PyJWT's own (slower, equally strict) check runs.
    _decode_base64url_segment = staticmethod(decode_segment)


class _IdTokenJWT(jwt.PyJWT):
    def __init__(self) -> None:
        super().__init__()
        self._jws = _FastSegmentsJWS(options=self._get_sig_options())


_ID_TOKENS = _IdTokenJWT()


def decode(token: str, key: Any, **kwargs: Any) -> dict[str, Any]:
    """``jwt.decode`` (same arguments, same exceptions), for id_tokens."""
    return _ID_TOKENS.decode(token, key, **kwargs)
