"""LTI platform storage, the tool's side, over the real login -> OIDC -> id_token flow: when the
state cookie does not come back with a framed launch, and the login kept its state and nonce
in the platform's storage (the development platform offers it, as Canvas and Brightspace do),
the launch page reads them back there and posts them; the tool checks them and spends the
nonce once. What the page's script does in a browser is tested in
``tests/e2e/test_browser_launch.py``; here the post it makes is made by hand."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from lms.platform_storage import nonce_key, proof_of, state_key
from tests.lti import LtiBrowser, PendingLaunch, form_fields, onward_url, page_text, row_counts

STORAGE_CONFIG = re.compile(r"var storage = (\{.*?\});")


def cookieless_launch(lti: LtiBrowser) -> tuple[PendingLaunch, dict[str, str]]:
    """A framed launch whose state cookie the browser did not keep, and what the login page
    put in the platform's storage (as ``lti.put_data`` would have)."""
    login = lti.login(lti.start("learner"))
    config = json.loads(STORAGE_CONFIG.search(login.text)[1])
    kept = dict(config["put"])
    state = parse_qs(urlsplit(onward_url(login)).query)["state"][0]
    lti.client.delete_cookie(f"lti1p3-{state}", domain="127.0.0.1")
    return lti.authorize(login), kept


def confirm(lti: LtiBrowser, page_fields: dict[str, str], secret: str, nonce: str, **headers: str):
    return lti.client.post(
        lti.tool_base + "/lms/launch/stored",
        data={**page_fields, "stored_secret": secret, "stored_nonce": nonce},
        headers={"Origin": lti.tool_base, "Sec-Fetch-Site": "same-origin", **headers},
    )


def test_the_login_keeps_state_and_nonce_in_the_platforms_frame(lti):
    login_url = lti.start("learner")
    assert "lti_storage_target=_parent" in login_url
    login = lti.login(login_url)
    config = json.loads(STORAGE_CONFIG.search(login.text)[1])
    auth = parse_qs(urlsplit(onward_url(login)).query)
    state, nonce = auth["state"][0], auth["nonce"][0]
    assert config["target"] == "_parent"
    assert config["origin"] == lti.platform_base  # the OIDC auth URL's origin
    [[state_entry, secret], nonce_entry] = config["put"]
    assert (state_entry, nonce_entry) == (state_key(state), [nonce_key(nonce), nonce])
    # The state is the hash of a secret that is in no URL, marked with where it is kept.
    assert state == f"state-{proof_of(secret)}._parent"
    assert secret not in onward_url(login) and secret not in login_url


def test_a_window_of_its_own_keeps_nothing_in_the_platform(lti):
    login = lti.client.get(lti.start("learner"), headers={"Sec-Fetch-Dest": "document"})
    assert login.status_code == 302
    state = parse_qs(urlsplit(login.headers["Location"]).query)["state"][0]
    assert "." not in state


def test_launch_without_state_cookie_goes_on_with_what_the_platform_kept(app, lti):
    pending, kept = cookieless_launch(lti)
    before = row_counts(app)
    page = lti.post_launch(pending)
    assert page.status_code == 200, page_text(page)
    assert "Opening the activity" in page_text(page)
    assert "needs one" in page_text(page)  # said in <noscript>
    assert page.headers["Cache-Control"] == "no-store"
    assert row_counts(app) == before, "the launch page wrote something"
    action, fields = form_fields(page.text)
    assert action == "/lms/launch/stored"
    assert fields["id_token"] == pending.fields["id_token"]
    config = json.loads(STORAGE_CONFIG.search(page.text)[1])
    assert config["origin"] == lti.platform_base
    state_entry, nonce_entry = (key for [key] in config["get"])

    done = confirm(lti, fields, kept[state_entry], kept[nonce_entry])
    assert done.status_code == 303, page_text(done)
    dashboard = lti.client.get(lti.tool_base + done.headers["Location"])
    assert "Welcome, Lena" in page_text(dashboard)


@pytest.mark.parametrize("wrong", ["state", "nonce"])
def test_a_stored_value_that_does_not_match_is_refused_and_spends_nothing(app, lti, wrong):
    pending, kept = cookieless_launch(lti)
    _, fields = form_fields(lti.post_launch(pending).text)
    secret, nonce = (kept[key] for key in kept)
    before = row_counts(app)
    forged = {"state": ("someone-elses-secret", nonce), "nonce": (secret, nonce + "x")}
    refused = confirm(lti, fields, *forged[wrong])
    assert refused.status_code == 401
    assert f"The launch's {wrong} does not match" in page_text(refused)
    assert row_counts(app) == before
    # Refused before the nonce was spent: the right values still open it.
    assert confirm(lti, fields, secret, nonce).status_code == 303


def test_the_stored_launch_works_once(lti):
    pending, kept = cookieless_launch(lti)
    _, fields = form_fields(lti.post_launch(pending).text)
    secret, nonce = (kept[key] for key in kept)
    assert confirm(lti, fields, secret, nonce).status_code == 303
    again = confirm(lti, fields, secret, nonce)
    assert again.status_code == 401
    assert "already used" in page_text(again)


def test_a_stolen_launch_cannot_be_confirmed_without_the_course_pages_secret(app, lti):
    """Whoever got hold of a launch (its id_token and state) knows the state and the nonce,
    but not the secret the state is the hash of, which is in no URL and never reached the
    platform's server: what they can post is refused."""
    pending, _ = cookieless_launch(lti)
    thief = app.test_client()
    page = thief.post(pending.action, data=pending.fields)
    assert page.status_code == 200  # the launch page, which writes nothing
    _, fields = form_fields(page.text)
    state, nonce = pending.fields["state"], pending.claims["nonce"]
    for guess in (state, state.removeprefix("state-"), state.split(".")[0], ""):
        refused = thief.post(
            lti.tool_base + "/lms/launch/stored",
            data={**fields, "stored_secret": guess, "stored_nonce": nonce},
            headers={"Origin": lti.tool_base, "Sec-Fetch-Site": "same-origin"},
        )
        assert refused.status_code == 401, guess


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://attacker.example"},
        {"Origin": "null"},
        {"Origin": "", "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_only_the_tools_own_page_may_post_what_the_platform_kept(lti, headers):
    """Another site cannot post the values it knows (from its own login) into a victim's
    browser to sign them in as someone else: the browser says where the post comes from."""
    pending, kept = cookieless_launch(lti)
    _, fields = form_fields(lti.post_launch(pending).text)
    refused = confirm(lti, fields, *kept.values(), **headers)
    assert refused.status_code == 401
    assert "not confirmed by this tool's own page" in page_text(refused)


def test_a_login_that_kept_nothing_in_the_platform_still_needs_its_cookie(lti):
    login = lti.client.get(lti.start("learner"), headers={"Sec-Fetch-Dest": "document"})
    pending = lti.authorize(login)
    state = pending.fields["state"]
    lti.client.delete_cookie(f"lti1p3-{state}", domain="127.0.0.1")
    refused = lti.post_launch(pending)
    assert refused.status_code == 401
    assert "does not match this browser's login" in page_text(refused)
    # Nor does the stored-launch endpoint take a state no login marked for the platform.
    nonce = pending.claims["nonce"]
    fields = {"id_token": pending.fields["id_token"], "state": state}
    assert confirm(lti, fields, state, nonce).status_code == 401


def test_a_launch_whose_cookie_came_back_needs_no_launch_page(lti):
    response = lti.launch("learner")
    assert response.status_code == 303
    assert response.headers["Location"] == "/dashboard"
