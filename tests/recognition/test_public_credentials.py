"""What the public sees of a badge: a credential any verifier can check from the credential
alone, badge classes that cannot be counted through, withdrawal reasons kept private unless
published, and a verification page naming the holder as they chose.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request

import pytest
from jwcrypto import jwk, jws

from recognition.models import Badge
from tests.builders import launched
from tests.courses.flow import get, post, rows, text
from tests.recognition.test_badges import add, custom_badges


def fetch(url: str) -> tuple[int, bytes]:
    """A GET over real HTTP, as a verifier on another machine would make it."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _segment(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def verify_from_the_token_alone(token: str) -> dict:
    """A generic verifier: it knows nothing of this tool, only the token. It reads the
    header's ``kid``, dereferences it over HTTP to a JWK and checks the signature with
    jwcrypto (the tool signs with PyJWT)."""
    header = _segment(token.split(".")[0])
    assert header["alg"] == "RS256"
    assert re.match(r"https?://", header["kid"]), f"kid {header['kid']!r} is not a URL"
    status, body = fetch(header["kid"])
    assert status == 200, (header["kid"], status)
    key = jwk.JWK(**json.loads(body))
    signed = jws.JWS()
    signed.deserialize(token)
    signed.verify(key, alg="RS256")
    return json.loads(signed.payload)


def test_a_verifier_holding_only_the_credential_finds_the_key_and_verifies_it(lti, awarded):
    award, _, _ = awarded
    status, token = fetch(f"{lti.tool_base}/badges/credentials/{award.public_id}.jwt")
    assert status == 200
    claims = verify_from_the_token_alone(token.decode())
    assert claims["jti"] == f"urn:uuid:{award.public_id}"
    # The issuer's profile, found from the credential, publishes the key that signed it.
    status, profile = fetch(claims["iss"])
    assert status == 200
    kid = _segment(token.decode().split(".")[0])["kid"]
    assert kid in json.loads(profile)["publicKey"]
    assert fetch(kid + "-unknown")[0] == 404
    # The revocation list is signed the same way and verifies the same way.
    status_list_url = claims["credentialStatus"]["statusListCredential"]
    status, status_list = fetch(status_list_url)
    assert verify_from_the_token_alone(status_list.decode())["id"] == status_list_url


def test_a_forged_credential_fails_that_verifier(lti, awarded):
    award, _, _ = awarded
    _, token = fetch(f"{lti.tool_base}/badges/credentials/{award.public_id}.jwt")
    header, payload, signature = token.decode().split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged["name"] = "Chief executive"
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    with pytest.raises(jws.InvalidJWSSignature):
        verify_from_the_token_alone(f"{header}.{forged_payload}.{signature}")


def test_the_issuer_profile_gives_an_email_from_the_settings(app, lti, make_app, badges):
    status, body = fetch(f"{lti.tool_base}/badges/issuer")
    profile = json.loads(body)
    assert status == 200 and profile["email"] == "badges@127.0.0.1"  # derived from the host
    configured = make_app(BADGE_ISSUER_EMAIL="recognition@academy.example")
    profile = configured.test_client().get(f"{lti.tool_base}/badges/issuer").json
    assert profile["email"] == "recognition@academy.example"


def test_an_lms_s_own_badges_cannot_be_counted_through(app, lti, badges):
    trainer = launched(lti, "trainer")
    assert (
        add(app, trainer, name="Secret project", rule_type="", manager_awardable="y").status_code
        == 302
    )
    (badge,) = custom_badges(app)
    outsider = app.test_client()
    base = lti.tool_base
    for path in (
        f"/badges/classes/{badge.id}",
        f"/badges/achievements/{badge.id}",
        f"/badges/{badge.id}/image",
    ):
        answer = outsider.get(base + path)
        assert answer.status_code == 404, path
        assert b"Secret project" not in answer.data
    # Counting through every row id finds no custom badge's name. From the lowest: on
    # PostgreSQL ids go on counting from earlier tests (tables are emptied between tests, the
    # sequences are not), and an id below every row's names nothing.
    ids = [b.id for b in rows(app, Badge)]
    for number in range(min(ids) - 1, max(ids) + 2):
        answer = outsider.get(f"{base}/badges/classes/{number}", follow_redirects=True)
        assert b"Secret project" not in answer.data
    # Its unguessable URL works, and is what the catalogue page uses.
    assert len(badge.public_id) == 36
    document = outsider.get(f"{base}/badges/classes/{badge.public_id}").json
    assert document["name"] == "Secret project"
    assert document["image"] == f"{base}/badges/{badge.public_id}/image"
    assert outsider.get(document["image"]).status_code == 200
    assert f"/badges/{badge.public_id}/image" in get(trainer, "/recognition/badges").text


def test_old_urls_of_built_in_badges_lead_to_their_new_ones(app, lti, badges):
    (kudos,) = rows(app, Badge, Badge.slug == "kudos-customer-hero")
    client = app.test_client()
    base = lti.tool_base
    moved = client.get(f"{base}/badges/classes/{kudos.id}")
    assert moved.status_code == 301
    assert moved.headers["Location"].endswith(f"/badges/classes/{kudos.public_id}")
    assert client.get(f"{base}/badges/{kudos.id}/image").status_code == 301
    followed = client.get(f"{base}/badges/achievements/{kudos.id}", follow_redirects=True)
    assert followed.status_code == 200 and followed.json["name"] == "Customer hero"


def test_the_credential_names_the_badge_by_its_public_id(lti, awarded):
    award, _, _ = awarded
    _, body = fetch(f"{lti.tool_base}/badges/credentials/{award.public_id}.json")
    achievement = json.loads(body)["credentialSubject"]["achievement"]
    (badge,) = rows(lti.app, Badge, Badge.id == award.badge_id)
    assert achievement["id"] == f"{lti.tool_base}/badges/achievements/{badge.public_id}"


def _withdraw(manager, award, **fields):
    page = get(manager, f"/recognition/awards/{award.public_id}/revoke")
    assert page.status_code == 200
    return post(
        manager,
        f"/recognition/awards/{award.public_id}/revoke",
        {"reason": "Given to the wrong Lena by mistake.", **fields},
    )


def test_a_withdrawal_reason_stays_private_by_default(app, lti, awarded):
    award, _, manager = awarded
    assert "Show this reason to anyone who checks the badge" in text(
        get(manager, f"/recognition/awards/{award.public_id}/revoke")
    )
    assert _withdraw(manager, award).status_code == 302
    public = app.test_client()
    base = lti.tool_base
    assertion = public.get(f"{base}/badges/assertions/{award.public_id}")
    assert assertion.status_code == 410 and assertion.json["revoked"] is True
    assert "revocationReason" not in assertion.json
    assert "wrong Lena" not in public.get(f"{base}/badges/verify/{award.public_id}").text
    assert "wrong Lena" not in public.get(f"{base}/badges/verify/{award.public_id}.json").text
    # The audit log keeps it for the course's staff.
    trainer = launched(lti, "trainer")
    assert "Given to the wrong Lena by mistake." in text(get(trainer, "/recognition/audit"))


def test_a_published_withdrawal_reason_is_shown(app, lti, awarded):
    award, _, manager = awarded
    assert _withdraw(manager, award, publish_reason="y").status_code == 302
    public = app.test_client()
    base = lti.tool_base
    assertion = public.get(f"{base}/badges/assertions/{award.public_id}").json
    assert assertion["revocationReason"] == "Given to the wrong Lena by mistake."
    assert "Given to the wrong Lena by mistake." in text(
        public.get(f"{base}/badges/verify/{award.public_id}")
    )


def test_the_verification_page_names_the_holder_what_for_and_when(app, lti, awarded):
    award, learner, _ = awarded
    public = app.test_client()
    url = f"{lti.tool_base}/badges/verify/{award.public_id}"
    page = text(public.get(url))
    assert "Awarded to Lena Learner" in page
    assert "Calm under pressure" in page and "Kept a difficult conversation calm" in page
    assert award.issued_at.strftime("%d %B %Y") in page
    # Hidden by its holder: the page no longer names them.
    hidden = post(learner, f"/recognition/awards/{award.public_id}/visibility", {"hidden": "1"})
    assert hidden.status_code == 302
    page = text(public.get(url))
    assert "Lena" not in page and "chose not to show their name" in page
    assert "Calm under pressure" in page
