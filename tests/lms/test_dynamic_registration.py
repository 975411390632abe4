"""LTI Dynamic Registration against the development platform, over real HTTP."""

from __future__ import annotations

import logging
import re

from sqlalchemy import select

from core.db import db
from lms.devplatform.service import moodle_registration_refusal
from lms.models import Platform
from lms.registration import (
    PLATFORM_CONFIGURATION,
    TOOL_CONFIGURATION,
    explain_refusal,
    registration_key,
    tool_domain,
    tool_registration,
)
from tests.lti import page_text, row_counts

TOKEN = "dev-registration-token"


def register_url(live, key, token=TOKEN, config="/dev-platform/openid-configuration"):
    return (
        f"{live.tool_base}/lms/register?key={key}&openid_configuration="
        f"{live.platform_base}{config}&registration_token={token}"
    )


def test_registration_stores_the_platform_and_tells_the_lms_to_close(app, client, live):
    key = registration_key(app.config["SECRET_KEY"])
    response = client.get(register_url(live, key))
    assert response.status_code == 200, page_text(response)
    text = page_text(response)
    assert "CX Quality Academy is registered" in text and "dyn-deployment-1" in text
    assert "org.imsglobal.lti.close" in response.text
    client_id = re.search(r"(dyn-[0-9a-f]{12})", text)[1]
    with app.app_context():
        platform = db.session.scalar(select(Platform).where(Platform.client_id == client_id))
        assert platform.issuer == live.platform_base + "/dev-platform"
        assert platform.auth_login_url.endswith("/dev-platform/auth")
        assert platform.key_set_url.endswith("/dev-platform/jwks")
        assert [d.deployment_id for d in platform.deployments] == ["dyn-deployment-1"]


def test_refused_registration_is_explained_and_stores_nothing(app, client, live):
    key = registration_key(app.config["SECRET_KEY"])
    before = row_counts(app)
    response = client.get(register_url(live, key, token="wrong"))
    assert response.status_code == 400
    text = page_text(response)
    assert "The LMS did not accept the registration token it gave the tool (HTTP 401)" in text
    assert "start the registration again from the LMS" in text
    assert row_counts(app) == before


def test_unreadable_configuration_is_explained(app, client, live):
    key = registration_key(app.config["SECRET_KEY"])
    response = client.get(register_url(live, key, config="/dev-platform/nothing-here"))
    assert response.status_code == 400
    assert "Could not read the LMS's configuration" in page_text(response)


def test_registration_needs_the_administrators_key(app, client, live):
    before = row_counts(app)
    for key in ("", "forged", registration_key("another-secret-" + "z" * 32)):
        response = client.get(register_url(live, key))
        assert response.status_code == 400
        assert "not valid for this tool" in page_text(response)
    assert row_counts(app) == before


def test_registration_url_command_and_admin_page(app, runner, lti):
    result = runner.invoke(args=["lms", "registration-url"])
    assert result.exit_code == 0
    assert result.output.startswith(lti.tool_base + "/lms/register?key=")
    lti.launch_and_follow("administrator")
    page = page_text(lti.client.get(lti.tool_base + "/lms/admin/platform"))
    assert "dynamic-registration URL" in page and "/lms/register?key=" in page


def test_a_tool_url_with_a_port_registers_its_domain_with_the_port(app, client, live):
    """The development platform checks the domain as Moodle 4.5 does (port included); the
    tool's address in these tests has a port."""
    port = live.tool_base.rsplit(":", 1)[1]
    urls = {"launch": live.tool_base + "/lms/launch", "login": "", "jwks": ""}
    assert tool_registration(urls, {})[TOOL_CONFIGURATION]["domain"] == f"127.0.0.1:{port}"
    response = client.get(register_url(live, registration_key(app.config["SECRET_KEY"])))
    assert response.status_code == 200, page_text(response)
    assert "CX Quality Academy is registered" in page_text(response)


def test_domain_is_the_bare_host_without_a_port():
    for launch, domain in (
        ("https://academy.example.com/lms/launch", "academy.example.com"),
        ("https://Academy.Example.com:8443/lms/launch", "academy.example.com:8443"),
        ("https://[2001:db8::1]:5200/lms/launch", "[2001:db8::1]:5200"),
    ):
        assert tool_domain(launch) == domain


def test_the_development_platform_refuses_a_domain_as_moodle_does():
    target = "https://127.0.0.1:5200/lms/launch"
    refusal = moodle_registration_refusal
    assert refusal({"domain": "127.0.0.1", "target_link_uri": target}) == (
        "domain_targetlinkuri_mismatch"
    )
    assert refusal({"domain": "127.0.0.1:5200", "target_link_uri": target}) is None
    assert refusal({"domain": "www.lms.example", "target_link_uri": "https://lms.example/"}) is None
    assert refusal({"target_link_uri": target}) == "missing_domain"


# Moodle 4.5.6's answer to the tool's registration before the domain carried its port.
MOODLE_CONFIG = {
    "issuer": "https://moodle.example",
    PLATFORM_CONFIGURATION: {"product_family_code": "moodle"},
}
MOODLE_REGISTRATION = {
    TOOL_CONFIGURATION: {
        "domain": "127.0.0.1",
        "target_link_uri": "https://127.0.0.1:5200/lms/launch",
    }
}


def test_moodles_domain_refusal_names_its_cause():
    refusal = explain_refusal(
        400, "domain_targetlinkuri_mismatch", MOODLE_CONFIG, MOODLE_REGISTRATION
    )
    assert str(refusal).startswith(
        "Moodle refused the domain 127.0.0.1: it expected 127.0.0.1:5200"
    )
    assert "PUBLIC_BASE_URL" in refusal.hint
    assert refusal.lms_answer == "HTTP 400: domain_targetlinkuri_mismatch"
    other = explain_refusal(400, '{"error": "invalid_redirect_uris"}', {}, MOODLE_REGISTRATION)
    assert str(other) == "The LMS refused the registration (HTTP 400): invalid_redirect_uris"


def test_a_refusal_is_logged_by_the_tool(app, client, live, caplog):
    key = registration_key(app.config["SECRET_KEY"])
    with caplog.at_level(logging.WARNING, logger="lms.registration"):
        client.get(register_url(live, key, token="wrong"))
        client.get(register_url(live, "forged"))
    lines = [r.getMessage() for r in caplog.records if r.name == "lms.registration"]
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"dynamic registration from {live.platform_base} refused: ")
    assert "registration token" in lines[0] and "HTTP 401" in lines[0]
    assert "not valid for this tool" in lines[1]


def frame_ancestors(response) -> list[str]:
    csp = response.headers["Content-Security-Policy"]
    return csp.split("frame-ancestors")[1].split(";")[0].split()


def test_the_registering_lms_may_frame_the_registration_page(app, client, live):
    """A platform registering for the first time is not among the registered ones that may
    frame the tool; the page it opens in its dialog names it (openid_configuration)."""
    newcomer = "https://localhost:9"  # a Moodle not registered yet (and not answering)
    url = (
        f"{live.tool_base}/lms/register?key={registration_key(app.config['SECRET_KEY'])}"
        f"&openid_configuration={newcomer}/mod/lti/openid-configuration.php"
    )
    response = client.get(url)
    assert response.status_code == 400  # nothing answers there; the error shows in its frame
    assert newcomer in frame_ancestors(response)
    assert newcomer in frame_ancestors(client.get(url.replace("key=", "key=forged")))
    # For that request only.
    assert newcomer not in frame_ancestors(client.get(live.tool_base + "/"))
    assert frame_ancestors(
        client.get(live.tool_base + "/lms/register?key=x&openid_configuration=javascript:alert(1)")
    ) == frame_ancestors(client.get(live.tool_base + "/"))
