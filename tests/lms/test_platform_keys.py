"""The platform's JWKS: cached in the database, fetched again once for an unknown kid (key
rotation), and the tool's own JWKS with rotation that keeps old keys published."""

from __future__ import annotations

from datetime import timedelta

import requests
from sqlalchemy import select

from core.db import db, utcnow
from lms import keys
from lms.models import PlatformKeySet, SigningKey
from tests.lti import page_text


def cached_key_set(app):
    with app.app_context():
        entry = db.session.scalar(select(PlatformKeySet))
        db.session.remove()
        return entry


def test_platform_key_set_is_fetched_once_and_cached(app, lti):
    assert lti.launch("learner").status_code == 303
    first = cached_key_set(app)
    assert first is not None
    assert lti.launch("trainer").status_code == 303
    assert cached_key_set(app).fetched_at == first.fetched_at


def test_platform_key_rotation_is_picked_up_on_unknown_kid(app, lti):
    assert lti.launch("learner").status_code == 303  # caches the current platform key set
    with app.app_context():
        new_key, _ = keys.rotate(db.session, keys.DEV_PLATFORM)
        db.session.commit()
        new_kid = new_key.kid
    pending = lti.pending("learner")
    assert pending.header["kid"] == new_kid
    response = lti.post_launch(pending)
    assert response.status_code == 303, page_text(response)
    assert new_kid in str(cached_key_set(app).jwks)


def test_unknown_kid_refetch_is_rate_limited(app, make_app, lti, live):
    """With a minimum refetch interval, a flood of unknown kids costs no extra fetches."""
    throttled = make_app(LTI_JWKS_MIN_REFETCH_SECONDS=3600)
    assert lti.launch("learner").status_code == 303
    fetched_at = cached_key_set(app).fetched_at
    browser = type(lti)(throttled, throttled.test_client(), lti.tool_base, lti.platform_base)
    pending = browser.resign(browser.pending("learner"), kid="rotated-away")
    response = browser.post_launch(pending)
    assert response.status_code == 401
    assert cached_key_set(app).fetched_at == fetched_at


def test_stale_platform_key_set_is_fetched_again(app, make_app, lti):
    assert lti.launch("learner").status_code == 303
    with app.app_context():
        entry = db.session.scalar(select(PlatformKeySet))
        entry.fetched_at = utcnow() - timedelta(days=2)
        db.session.commit()
    # A process that has not parsed the key in the last LTI_REGISTRY_CACHE_SECONDS reads the
    # database cache, finds it stale and fetches the key set again.
    other = make_app()
    browser = type(lti)(other, other.test_client(), lti.tool_base, lti.platform_base)
    assert browser.launch("learner").status_code == 303
    assert cached_key_set(app).fetched_at > utcnow() - timedelta(minutes=1)


def test_unreachable_platform_key_set_is_a_clear_error(app, lti, runner):
    pending = lti.pending("learner")
    with app.app_context():
        from lms.models import Platform

        platform = db.session.scalar(select(Platform))
        platform.key_set_url = "http://127.0.0.1:9/jwks"
        db.session.commit()
    response = lti.post_launch(pending)
    assert response.status_code == 400
    assert "could not read the LMS's public keys" in page_text(response)


def test_tool_jwks_is_served_over_http_with_kid(app, live):
    response = requests.get(live.tool_base + "/lms/jwks", timeout=5)
    assert response.status_code == 200
    key = response.json()["keys"][0]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    assert key["kid"] and "d" not in key  # public part only


def test_rotation_keeps_old_key_published_until_grace_ends(app, client, live):
    with app.app_context():
        old = keys.active_key(db.session)
        new, _retired = keys.rotate(db.session)
        db.session.commit()
        old_kid, new_kid = old.kid, new.kid
    kids = [k["kid"] for k in client.get(live.tool_base + "/lms/jwks").json["keys"]]
    assert kids[0] == new_kid and old_kid in kids
    with app.app_context():
        entry = db.session.scalar(select(SigningKey).where(SigningKey.kid == old_kid))
        entry.retired_at = utcnow() - keys.RETIRED_KEY_GRACE - timedelta(minutes=1)
        db.session.commit()
        assert keys.active_key(db.session).kid == new_kid
    kids = [k["kid"] for k in client.get(live.tool_base + "/lms/jwks").json["keys"]]
    assert old_kid not in kids and new_kid in kids


def test_keys_rotate_command(runner, app):
    with app.app_context():
        before = keys.active_key(db.session).kid
        db.session.commit()
    result = runner.invoke(args=["lms", "keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert f"Retired (still published for 2 days): {before}" in result.output
    listing = runner.invoke(args=["lms", "keys", "list"]).output
    assert before in listing and "active" in listing and "retired" in listing
