"""Every award is an Open Badges 3.0 credential signed as a VC-JWT (verified here with jwcrypto,
a JOSE library independent of the PyJWT that signs), revocable through a status list, and an
Open Badges 2.0 hosted assertion; both baked into images."""

from __future__ import annotations

import hashlib
import json

import pytest
from jwcrypto import jwk, jws

from recognition.images import medal_png
from recognition.models import Award
from recognition.openbadges import is_revoked_in, read_baked_png
from tests.builders import joined, launched
from tests.courses.flow import post, rows
from tests.recognition.test_awards import give, user_id

OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


def verified_claims(app, client, base, token):
    """Verify a compact JWS with jwcrypto against the key its ``kid`` URL names, and check
    that key is one the tool's JWKS publishes."""
    signed = jws.JWS()
    signed.deserialize(token)
    header = (
        json.loads(signed.jose_header)
        if isinstance(signed.jose_header, str)
        else signed.jose_header
    )
    assert header["kid"].startswith(base + "/badges/keys/")
    document = client.get(header["kid"]).json
    key = jwk.JWK(**document)
    published = jwk.JWKSet.from_json(client.get(base + "/lms/jwks").data.decode())
    assert published.get_keys(document["kid"])
    signed.verify(key, alg="RS256")
    return header, json.loads(signed.payload)


def test_the_credential_has_the_required_fields_and_verifies(app, lti, awarded):
    award, _, _ = awarded
    stranger = app.test_client()
    base = lti.tool_base
    document = json.loads(stranger.get(f"{base}/badges/credentials/{award.public_id}.json").data)
    assert document["@context"] == ["https://www.w3.org/ns/credentials/v2", OB3_CONTEXT]
    assert document["id"] == f"urn:uuid:{award.public_id}"
    assert document["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert document["issuer"]["type"] == ["Profile"] and document["issuer"]["name"]
    assert document["issuer"]["id"] == f"{base}/badges/issuer"
    assert document["validFrom"].endswith("Z") and document["name"] == "Calm under pressure"
    subject = document["credentialSubject"]
    (identity,) = subject["identifier"]
    # The email is known: it is the identity, hashed with the award's salt, never shown.
    assert identity["identityType"] == "emailAddress" and identity["hashed"] is True
    assert email_of_learner(app) not in json.dumps(document)
    assert "Lena" not in json.dumps(document)
    achievement = subject["achievement"]
    assert achievement["type"] == ["Achievement"] and achievement["criteria"]["narrative"]
    assert achievement["name"] == "Calm under pressure" and achievement["description"]

    token = stranger.get(f"{base}/badges/credentials/{award.public_id}.jwt").data.decode()
    header, claims = verified_claims(app, stranger, base, token)
    assert header["alg"] == "RS256"
    assert claims["iss"] == document["issuer"]["id"]
    assert claims["jti"] == document["id"]
    assert claims["sub"] == subject["id"]
    assert claims["nbf"] > 0 and claims["credentialSubject"] == subject

    signed_part, signature = token.rsplit(".", 1)
    # A different first character keeps the base64 canonical, so only the signature is wrong.
    tampered = signed_part + "." + ("B" if signature[0] == "A" else "A") + signature[1:]
    with pytest.raises(jws.InvalidJWSSignature):
        verified_claims(app, stranger, base, tampered)


def email_of_learner(app):
    from people.models import User

    return next(u.email for u in rows(app, User) if u.sub == "dev-learner-1")


def test_the_recipient_hash_is_of_their_email(app, awarded, lti):
    award, _, _ = awarded
    document = json.loads(
        app.test_client().get(f"{lti.tool_base}/badges/credentials/{award.public_id}.json").data
    )
    (identity,) = document["credentialSubject"]["identifier"]
    email = email_of_learner(app).lower()
    digest = hashlib.sha256((email + identity["salt"]).encode()).hexdigest()
    assert identity["identityHash"] == "sha256$" + digest


def test_revocation_shows_in_the_status_list_and_the_verification(app, lti, awarded):
    award, _, manager = awarded
    stranger = app.test_client()
    base = lti.tool_base

    def status_bit():
        token = stranger.get(f"{base}/badges/status/revocation").data.decode()
        _, claims = verified_claims(app, stranger, base, token)
        assert claims["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
        return is_revoked_in(claims["credentialSubject"]["encodedList"], award.id)

    check = stranger.get(f"{base}/badges/verify/{award.public_id}.json")
    assert check.status_code == 200 and check.json["status"] == "valid"
    assert status_bit() is False
    post(manager, f"/recognition/awards/{award.public_id}/revoke", {"reason": "Wrong person."})
    assert stranger.get(f"{base}/badges/verify/{award.public_id}.json").json["status"] == "revoked"
    assert status_bit() is True
    page = stranger.get(f"{base}/badges/verify/{award.public_id}").data.decode()
    assert "This badge was withdrawn" in page and "Lena" not in page
    assertion = stranger.get(f"{base}/badges/assertions/{award.public_id}")
    assert assertion.status_code == 410 and assertion.json["revoked"] is True
    unknown = stranger.get(f"{base}/badges/verify/00000000-0000-0000-0000-000000000000.json")
    assert unknown.status_code == 404 and unknown.json == {"status": "unknown"}


def test_open_badges_2_hosted_assertion(app, lti, awarded):
    award, _, _ = awarded
    client = app.test_client()
    base = lti.tool_base
    data = client.get(f"{base}/badges/assertions/{award.public_id}").json
    assert data["@context"] == "https://w3id.org/openbadges/v2" and data["type"] == "Assertion"
    assert data["verification"] == {"type": "hosted"}
    assert data["recipient"]["hashed"] is True and data["recipient"]["salt"]
    assert data["recipient"]["identity"].startswith("sha256$")
    badge_class = client.get(data["badge"].replace(base, base)).json
    assert badge_class["type"] == "BadgeClass" and badge_class["criteria"]["narrative"]
    assert client.get(badge_class["issuer"]).json["type"] == "Issuer"
    baked = client.get(f"{base}/badges/assertions/{award.public_id}/image").data
    assert read_baked_png(baked, "openbadges") == data["id"]


def test_baked_images_carry_the_signed_credential(app, lti, awarded):
    award, _, _ = awarded
    client = app.test_client()
    baked = client.get(f"{lti.tool_base}/badges/credentials/{award.public_id}/image")
    assert baked.mimetype == "image/svg+xml"  # the built-in badges are SVG drawings
    svg = baked.data.decode()
    assert 'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"' in svg
    token = svg.split("<![CDATA[")[1].split("]]>")[0]
    _, claims = verified_claims(app, client, lti.tool_base, token)
    assert claims["jti"] == f"urn:uuid:{award.public_id}"


def test_png_baking_round_trip():
    from recognition.openbadges import bake_png

    image = medal_png("kudos", size=32)
    baked = bake_png(image, "openbadgecredential", "header.payload.signature")
    assert read_baked_png(baked, "openbadgecredential") == "header.payload.signature"
    again = bake_png(baked, "openbadgecredential", "other.token.here")
    assert read_baked_png(again, "openbadgecredential") == "other.token.here"
    assert again.count(b"iTXt") == 1


def test_a_png_badge_is_baked_as_png(app, lti, badges):
    from tests.recognition.test_badges import add

    joined(launched(lti, "learner"))
    trainer = launched(lti, "trainer")
    add(
        app,
        trainer,
        image=medal_png("custom", 48),
        filename="shield.png",
        name="Shield",
        rule_type="",
        manager_awardable="y",
    )
    give(trainer, user_id(app, "dev-learner-1"), badge_id_named(app, "Shield"), "Solid work.")
    (award,) = rows(app, Award)
    client = app.test_client()
    baked = client.get(f"{lti.tool_base}/badges/credentials/{award.public_id}/image")
    assert baked.mimetype == "image/png"
    token = read_baked_png(baked.data, "openbadgecredential")
    _, claims = verified_claims(app, client, lti.tool_base, token)
    assert claims["name"] == "Shield"


def badge_id_named(app, name):
    from recognition.models import Badge

    return next(b.id for b in rows(app, Badge) if b.name == name)
