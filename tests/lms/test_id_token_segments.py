"""The launch verifies id_tokens with PyJWT but checks their base64url segments its own, faster
way (``lms.id_tokens``): every segment PyJWT refuses must be refused, and every one it reads
read the same. Compared on the real PyJWT installed, so an upgrade that changes its rules shows
here."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.api_jws import PyJWS
from jwt.exceptions import DecodeError

from lms import id_tokens

SEGMENTS = [
    b"",
    b"e30",  # {}
    b"eyJhIjoxfQ",
    b"eyJhIjoxfQ==",  # padded to a multiple of four
    b"eyJhIjoxfQ=",  # padded, but not to a multiple of four
    b"eyJhIjoxfQ===",  # too much padding
    b"e30=",
    b"e3",  # non-canonical: the last character carries bits a decoder drops
    b"QQ",
    b"QR",  # non-canonical
    b"QUI",
    b"QUJ",  # non-canonical
    b"QUJD",
    b"QUJDR",  # one character too many for base64
    b"ab+c",  # standard base64, not base64url
    b"ab/c",
    b"ab c",
    b"ab\nc",
    b"ab.c",
    b"ab\xffc",
    b"ab=c",  # padding inside
    b"=",
    b"==",
    b"====",
    b"-_-_",
    b"A" * 4000,
    b"A" * 3999 + b"!",
]


def _outcome(decode, segment: bytes) -> bytes | str:
    try:
        return decode(segment, "payload")
    except DecodeError as error:
        return f"refused: {error}"


@pytest.mark.parametrize("segment", SEGMENTS, ids=repr)
def test_a_segment_is_read_or_refused_exactly_as_pyjwt_does(segment):
    ours = _outcome(id_tokens.decode_segment, segment)
    assert ours == _outcome(PyJWS._decode_base64url_segment, segment)


def test_a_signed_token_decodes_to_the_same_claims_and_a_tampered_one_is_refused():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"iss": "https://lms", "aud": "tool", "iat": now, "exp": now + 60, "sub": "x" * 900}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    options = {"algorithms": ["RS256"], "audience": "tool", "issuer": "https://lms"}
    assert id_tokens.decode(token, key.public_key(), **options) == jwt.decode(
        token, key.public_key(), **options
    )
    header, payload, signature = token.split(".")
    for tampered in (
        f"{header}.{payload}!.{signature}",  # a character outside the alphabet
        f"{header}.{payload[:-1]}.{signature}",  # a changed payload
        f"{header}.{payload}.{signature[:-2]}AA",  # a changed signature
    ):
        with pytest.raises(jwt.InvalidTokenError):
            id_tokens.decode(tampered, key.public_key(), **options)
    with pytest.raises(jwt.InvalidAudienceError):
        id_tokens.decode(token, key.public_key(), **{**options, "audience": "another tool"})
