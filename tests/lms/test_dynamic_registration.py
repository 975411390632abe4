"""LTI Dynamic Registration against the development platform, over real HTTP."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.db import db
from lms.models import Platform
from lms.registration import registration_key
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
    assert "The LMS refused the registration (HTTP 401)" in page_text(response)
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
