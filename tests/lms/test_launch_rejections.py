"""An attacker or a broken platform gets a clear 4xx page, and nothing is written.

Every case starts from a genuine login at the development platform, then changes one thing
about what reaches the tool's launch URL."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from itsdangerous import TimestampSigner

from core.db import db, utcnow
from lms.launch import CLAIM
from lms.models import LtiStateEntry
from lms.storage import NONCE_SALT, USED_NONCE_PREFIX
from tests.lti import new_window_url, onward_url, page_text, row_counts

OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def without(claim):
    return lambda c: {k: v for k, v in c.items() if k != claim}


def with_claim(claim, value):
    return lambda c: {**c, claim: value}


def signed_nonce(secret, seconds_ago=0):
    """A nonce as the tool's login signs them, with another secret or at another time."""

    class Then(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - seconds_ago

    return Then(secret, salt=NONCE_SALT).sign("a-nonce-of-the-right-shape").decode()


def shifted(seconds):
    return lambda c: {**c, "iat": c["iat"] + seconds, "exp": c["exp"] + seconds}


# (id, change to the signed claims, resign kwargs, expected status, words on the page)
TOKEN_CASES = [
    ("bad-signature", None, {"key": OTHER_KEY}, 401, "failed verification"),
    ("unknown-kid", None, {"kid": "no-such-key"}, 401, "no key with id no-such-key"),
    ("missing-kid", None, {"headers": {"kid": None}}, 401, "header names no key (kid)"),
    ("expired", shifted(-600), {}, 401, "expired before it reached us"),
    ("not-yet-valid", shifted(600), {}, 401, "dated in the future"),
    (
        "nbf-in-future",
        lambda c: {**c, "nbf": c["iat"] + 600},  # from the token, not from collection time
        {},
        401,
        "dated in the future",
    ),
    ("wrong-aud", with_claim("aud", "someone-else"), {}, 400, "not registered"),
    (
        "aud-list-without-azp",
        with_claim("aud", ["cx-academy-dev-tool", "x"]),
        {},
        400,
        "no matching azp",
    ),
    ("unknown-iss", with_claim("iss", "https://evil.example"), {}, 400, "not registered"),
    (
        "unknown-deployment",
        with_claim(CLAIM + "deployment_id", "dep-x"),
        {},
        400,
        "Deployment dep-x is not registered",
    ),
    ("missing-deployment", without(CLAIM + "deployment_id"), {}, 400, "no deployment_id"),
    ("empty-sub", with_claim("sub", ""), {}, 400, "sub claim is empty"),
    ("missing-version", without(CLAIM + "version"), {}, 400, "not LTI version 1.3.0"),
    ("wrong-version", with_claim(CLAIM + "version", "1.1"), {}, 400, "not LTI version 1.3.0"),
    ("missing-roles", without(CLAIM + "roles"), {}, 400, "no roles claim"),
    ("roles-not-a-list", with_claim(CLAIM + "roles", "Learner"), {}, 400, "no roles claim"),
    ("missing-message-type", without(CLAIM + "message_type"), {}, 400, "no message_type"),
    (
        "unsupported-message-type",
        with_claim(CLAIM + "message_type", "LtiSubmissionReviewRequest"),
        {},
        400,
        "does not handle LtiSubmissionReviewRequest",
    ),
    ("missing-resource-link", without(CLAIM + "resource_link"), {}, 400, "no resource link id"),
    ("missing-nonce", without("nonce"), {}, 400, "no nonce"),
    ("foreign-nonce", with_claim("nonce", "n" * 64), {}, 401, "already used or its login expired"),
    (
        "nonce-signed-elsewhere",
        with_claim("nonce", signed_nonce("another tool's secret")),
        {},
        401,
        "already used or its login expired",
    ),
    ("missing-exp", without("exp"), {}, 401, "failed verification"),
    ("missing-iat", without("iat"), {}, 401, 'missing the "iat" claim'),
    (
        "hs256-with-public-key",
        None,
        {"algorithm": "HS256", "key": "a-shared-secret-that-is-long-enough!"},
        401,
        "RS256 is required",
    ),
]


def assert_refused_writing_nothing(app, lti, pending, status, words):
    before = row_counts(app)
    response = lti.post_launch(pending)
    assert response.status_code == status, page_text(response)
    assert words in page_text(response)
    assert row_counts(app) == before


@pytest.mark.parametrize(
    ("change", "resign", "status", "words"),
    [case[1:] for case in TOKEN_CASES],
    ids=[case[0] for case in TOKEN_CASES],
)
def test_bad_token_is_refused_and_writes_nothing(app, lti, change, resign, status, words):
    pending = lti.resign(lti.pending("learner"), change, **resign)
    assert_refused_writing_nothing(app, lti, pending, status, words)
    # Nothing was written and the nonce was not spent: the genuine token still works.
    assert lti.client.get(lti.tool_base + "/dashboard").status_code == 401


def test_alg_none_is_refused(app, lti):
    pending = lti.pending("learner")
    unsigned = jwt.encode(pending.claims, None, algorithm="none", headers={"kid": "x"})
    before = row_counts(app)
    response = lti.post_launch(pending, id_token=unsigned)
    assert response.status_code == 401
    assert "RS256 is required" in page_text(response)
    assert row_counts(app) == before


def test_genuine_token_still_works_after_a_refused_forgery(lti):
    """A refused launch must not burn the nonce of the real one."""
    pending = lti.pending("learner")
    assert lti.post_launch(lti.resign(pending, key=OTHER_KEY)).status_code == 401
    assert lti.post_launch(pending).status_code == 303


def test_replayed_launch_is_refused(app, lti):
    pending = lti.pending("learner")
    assert lti.post_launch(pending).status_code == 303
    assert_refused_writing_nothing(app, lti, pending, 401, "already used")


def test_a_login_stores_no_nonce_and_its_launch_records_the_nonce_as_used(app, lti):
    """The login signs its nonce instead of storing it, so a login that never comes back (a
    closed tab, a browser that drops our cookie) leaves nothing behind; the launch records the
    nonce as used until it would have expired anyway, which is what refuses a replay."""
    before = row_counts(app)["lti_state"]
    pending = lti.pending("learner")
    assert row_counts(app)["lti_state"] == before
    assert lti.post_launch(pending).status_code == 303
    with app.app_context():
        used = db.session.get(LtiStateEntry, USED_NONCE_PREFIX + pending.claims["nonce"])
        # Kept at least as long as a host whose clock is behind could still accept the nonce.
        still_acceptable = (
            app.config["LTI_LOGIN_STATE_SECONDS"] + app.config["LTI_CLOCK_LEEWAY_SECONDS"]
        )
        assert used is not None
        assert used.expires_at > utcnow() + timedelta(seconds=still_acceptable - 5)
        db.session.remove()


def test_a_launch_must_follow_its_login_within_the_nonce_lifetime(app, lti):
    lifetime = app.config["LTI_LOGIN_STATE_SECONDS"]
    secret = app.config["SECRET_KEY"]
    pending = lti.pending("learner")
    late = lti.resign(pending, with_claim("nonce", signed_nonce(secret, lifetime + 5)))
    assert_refused_writing_nothing(app, lti, late, 401, "already used or its login expired")


def test_a_nonce_from_a_host_whose_clock_is_a_little_ahead_is_accepted(app, lti):
    """Several hosts serve the tool: the login may be signed on one whose clock runs ahead of
    the one that gets the launch, within the stated leeway."""
    ahead = -(app.config["LTI_CLOCK_LEEWAY_SECONDS"] // 2)
    pending = lti.pending("learner")
    early = lti.resign(pending, with_claim("nonce", signed_nonce(app.config["SECRET_KEY"], ahead)))
    assert lti.post_launch(early).status_code == 303


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"state": None}, "no state parameter"),
        ({"state": "state-somebody-else"}, "does not match this browser's login"),
        ({"id_token": None}, "no id_token"),
        ({"id_token": "not.a.jwt"}, "not a readable JWT"),
        ({"id_token": "garbage"}, "not a readable JWT"),
    ],
    ids=["missing-state", "mismatched-state", "missing-id-token", "bad-base64", "not-jwt"],
)
def test_bad_form_is_refused_and_writes_nothing(app, lti, overrides, words):
    pending = lti.pending("learner")
    before = row_counts(app)
    response = lti.post_launch(pending, **overrides)
    assert 400 <= response.status_code < 500
    assert words in page_text(response)
    assert row_counts(app) == before


def test_launch_from_another_browser_is_refused(app, lti, live):
    """State lives in the browser that logged in: a stolen id_token + state posted from a
    browser without the state cookie is refused and the page explains the cookie problem."""
    login = lti.client.get(lti.start("learner"), headers={"Sec-Fetch-Dest": "document"})
    pending = lti.authorize(login)
    framed = lti.pending("learner")
    thief = app.test_client()
    before = row_counts(app)
    response = thief.post(pending.action, data=pending.fields)
    assert response.status_code == 401
    assert "new window" in page_text(response)
    assert row_counts(app) == before
    # A framed login also kept its state in the course page's storage (the development
    # platform offers it): the thief gets the page that would read it there, which writes
    # nothing and cannot be answered from elsewhere (tests/lms/test_platform_storage.py).
    response = thief.post(framed.action, data=framed.fields)
    assert response.status_code == 200 and "Opening the activity" in page_text(response)
    assert row_counts(app) == before


def test_unknown_issuer_at_login_is_a_clear_400(app, client, live):
    before = row_counts(app)
    response = client.post(
        live.tool_base + "/lms/login",
        data={
            "iss": "https://unknown.example",
            "login_hint": "1",
            "target_link_uri": live.tool_base + "/lms/launch",
            "client_id": "abc",
        },
    )
    assert response.status_code == 400
    assert "No LMS is registered with issuer https://unknown.example and client id abc" in (
        page_text(response)
    )
    assert row_counts(app) == before


def test_unknown_client_id_at_login_is_a_clear_400(client, live):
    response = client.get(
        live.tool_base + "/lms/login",
        query_string={
            "iss": live.platform_base + "/dev-platform",
            "login_hint": "1",
            "target_link_uri": live.tool_base + "/lms/launch",
            "client_id": "nope",
            "lti1p3_new_window": "1",
        },
    )
    assert response.status_code == 400
    assert "client id nope" in page_text(response)


@pytest.mark.parametrize("missing", ["iss", "login_hint", "target_link_uri"])
def test_login_without_required_parameter_is_refused(client, live, missing):
    params = {
        "iss": live.platform_base + "/dev-platform",
        "login_hint": "1",
        "target_link_uri": live.tool_base + "/lms/launch",
    }
    params.pop(missing)
    response = client.get(live.tool_base + "/lms/login", query_string=params)
    assert response.status_code == 400
    assert f"has no {missing}" in page_text(response)


def test_login_for_another_host_is_refused(client, live):
    response = client.get(
        live.tool_base + "/lms/login",
        query_string={
            "iss": live.platform_base + "/dev-platform",
            "login_hint": "1",
            "target_link_uri": "https://phishing.example/launch",
        },
    )
    assert response.status_code == 400
    assert "not on this tool's host" in page_text(response)


def test_blocked_cookies_get_a_login_of_their_own_in_a_new_window(app, lti):
    """Inside a frame the login answers the cookie check page, already with the state cookie
    and a nonce. A browser that drops the cookie never goes on from there: it opens the
    page's new-window link, a login of its own (new state, new nonce), which launches."""
    before = row_counts(app)
    check = lti.client.get(lti.start("learner"))
    assert check.status_code == 200 and "Open the activity in a new window" in check.text
    assert row_counts(app)["lti_state"] == before["lti_state"]  # the nonce is signed
    framed_nonce = parse_qs(urlsplit(onward_url(check)).query)["nonce"]
    lti.client.delete_cookie(
        next(c.key for c in lti.client._cookies.values() if c.key.startswith("lti1p3-state-")),
        domain="127.0.0.1",
    )
    new_window = lti.client.get(
        lti.tool_base + new_window_url(check), headers={"Sec-Fetch-Dest": "document"}
    )
    assert new_window.status_code == 302
    pending = lti.authorize(new_window)
    assert pending.auth_params["nonce"] != framed_nonce[0]
    assert lti.post_launch(pending).status_code == 303


def test_removed_platform_cannot_launch(app, lti, runner):
    pending = lti.pending("learner")
    result = runner.invoke(
        args=[
            "lms",
            "platform",
            "remove",
            "--issuer",
            lti.platform_base + "/dev-platform",
            "--client-id",
            "cx-academy-dev-tool",
            "--yes",
        ]
    )
    assert result.exit_code == 0, result.output
    response = lti.post_launch(pending)
    assert response.status_code == 400
    assert "not registered" in page_text(response)
