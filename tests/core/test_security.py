"""Cookies that survive a cross-site iframe, and headers that allow exactly that framing."""

from __future__ import annotations

from tests.lti import page_text


def cookie_header(response, name_prefix):
    """The Set-Cookie header of the cookie whose name starts so. Read as text: Python's
    ``SimpleCookie`` refuses a header with the ``Partitioned`` attribute."""
    for header in response.headers.getlist("Set-Cookie"):
        if header.split("=", 1)[0].startswith(name_prefix):
            return header
    raise AssertionError(f"no {name_prefix} cookie in {response.headers.getlist('Set-Cookie')}")


def test_over_https_behind_a_proxy_cookies_are_samesite_none_secure_partitioned(
    make_app, lti, live
):
    """Behind a TLS-terminating proxy the app sees HTTP; with PROXY_FIX_HOPS it trusts
    X-Forwarded-Proto, so the state and session cookies get SameSite=None; Secure; and
    Partitioned (CHIPS), which a browser blocking third-party cookies keeps in the frame."""
    proxied = make_app(PROXY_FIX_HOPS=1)
    browser = type(lti)(proxied, proxied.test_client(), lti.tool_base, lti.platform_base)
    headers = {"X-Forwarded-Proto": "https"}
    login_url = browser.start("learner")
    check = browser.client.get(login_url, headers=headers)
    assert check.status_code == 200  # the cookie check page, inside the LMS's frame
    state_header = cookie_header(check, "lti1p3-state-")
    assert "SameSite=None" in state_header and "Secure" in state_header
    assert "Partitioned" in state_header
    pending = browser.authorize(check)
    launch = browser.client.post(pending.action, data=pending.fields, headers=headers)
    assert launch.status_code == 303
    # A name of its own: an unpartitioned cookie of the old name must not shadow it.
    session_header = cookie_header(launch, "__Host-academy_session")
    assert "SameSite=None" in session_header and "Secure" in session_header
    assert "HttpOnly" in session_header and "Partitioned" in session_header
    assert "Domain=" not in session_header and "Path=/;" in session_header
    # The session (and its CSRF token) come back under that name: the dashboard knows her.
    dashboard = browser.client.get(live.tool_base + "/dashboard", headers=headers)
    assert dashboard.status_code == 200 and "Welcome, Lena" in page_text(dashboard)


def test_a_top_level_login_over_https_sets_a_partitioned_state_cookie(make_app, lti):
    """A window of its own (no frame, so no cookie check page) gets the same cookie."""
    proxied = make_app(PROXY_FIX_HOPS=1)
    browser = type(lti)(proxied, proxied.test_client(), lti.tool_base, lti.platform_base)
    headers = {"X-Forwarded-Proto": "https", "Sec-Fetch-Dest": "document"}
    redirect = browser.client.get(browser.start("learner"), headers=headers)
    assert redirect.status_code == 302
    header = cookie_header(redirect, "lti1p3-state-")
    assert "Partitioned" in header and "SameSite=None" in header and "Secure" in header


def test_without_a_trusted_proxy_forwarded_proto_is_ignored(lti):
    redirect = lti.login(lti.start("learner"))
    header = cookie_header(redirect, "lti1p3-state-")
    assert "Secure" not in header and "Partitioned" not in header


def test_plain_http_session_cookie_is_lax(lti):
    response = lti.launch("learner")
    header = cookie_header(response, "academy_session")
    assert "SameSite=Lax" in header and "HttpOnly" in header
    # Browsers refuse Partitioned without Secure.
    assert "Partitioned" not in header and "Secure" not in header


def test_pages_may_be_framed_only_by_registered_platforms(client, live, lti):
    response = client.get(live.tool_base + "/")
    csp = response.headers["Content-Security-Policy"]
    frame_ancestors = csp.split("frame-ancestors")[1].split(";")[0].split()
    # The registered platform, and (the development platform only) its course page under its
    # other loopback name, which a newcomer opens to see the tool in a cross-site frame.
    other_name = live.platform_base.replace("localhost", "127.0.0.1")
    assert sorted(frame_ancestors) == sorted(["'self'", live.platform_base, other_name])
    assert "X-Frame-Options" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_inline_scripts_need_the_page_nonce(lti):
    page = lti.client.get(lti.start("learner"))
    csp = page.headers["Content-Security-Policy"]
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in page.text


def test_hsts_only_in_production(make_app, client, live):
    assert "Strict-Transport-Security" not in client.get(live.tool_base + "/").headers
    production = make_app(APP_ENV="production", SECRET_KEY="p" * 40, DEV_PLATFORM_ENABLED=False)
    response = production.test_client().get(live.tool_base + "/")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_unknown_page_uses_the_error_page(client, live):
    response = client.get(live.tool_base + "/no-such-page")
    assert response.status_code == 404
    assert "Not Found" in page_text(response)


def test_development_platform_page_may_frame_the_tool(client, live):
    response = client.get(live.platform_base + "/dev-platform/")
    csp = response.headers["Content-Security-Policy"]
    assert f"frame-src 'self' {live.tool_base}" in csp
    other = client.get(live.tool_base + "/")
    assert "frame-src 'self';" in other.headers["Content-Security-Policy"]


def test_every_page_asks_the_lms_frame_to_fit_it_under_the_csp_nonce(lti, client, live):
    for page in (lti.launch_and_follow("learner"), client.get(live.tool_base + "/")):
        csp = page.headers["Content-Security-Policy"]
        nonce = csp.split("'nonce-")[1].split("'")[0]
        script = page.text.split(f'<script nonce="{nonce}">')[-1]
        assert '"lti.frameResize"' in script and "org.imsglobal.lti.frameResize" in script
