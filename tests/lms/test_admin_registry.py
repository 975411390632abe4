"""Administrators register and change LMSs from the page, with the CLI's checks; the rule of
who may change what (``lms.administration``) holds: a platform shared with another deployment
is changed on the server only, another tenant's deployment not at all, another LMS not seen."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.db import db
from lms.devplatform import service as devplatform
from lms.models import Deployment, Platform
from lms.registry import add_deployment
from tests.lti import page_text

PAGE = "/lms/admin/platform"


def form_token(page) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)[1]


def post(lti, path, data):
    token = form_token(lti.client.get(lti.tool_base + PAGE))
    return lti.client.post(lti.tool_base + path, data={"csrf_token": token, **data})


def platform_row(app, **where):
    with app.app_context():
        row = db.session.scalar(select(Platform).filter_by(**where))
        if row is not None:
            db.session.expunge(row)
        db.session.remove()
        return row


def dev_platform(app):
    return platform_row(app, client_id=devplatform.CLIENT_ID)


NEW_LMS = {
    "issuer": "https://moodle.example.edu",
    "client_id": "abc123",
    "deployment_ids": "4\n5",
    "name": "Example Moodle",
    "auth_login_url": "https://moodle.example.edu/mod/lti/auth.php",
    "auth_token_url": "https://moodle.example.edu/mod/lti/token.php",
    "key_set_url": "https://moodle.example.edu/mod/lti/certs.php",
}


def test_an_administrator_registers_another_lms_with_the_cli_checks(app, lti):
    lti.launch_and_follow("administrator")
    page = lti.client.get(lti.tool_base + PAGE)
    assert "Values to paste into Moodle or Canvas" in page_text(page)
    assert "/lms/launch" in page.text and "/lms/jwks" in page.text  # the tool's values beside
    bad = post(lti, "/lms/admin/platforms", NEW_LMS | {"key_set_url": "certs.php"})
    assert bad.status_code == 400
    assert "--key-set-url must be an absolute http(s) URL" in page_text(bad)
    assert platform_row(app, client_id="abc123") is None
    done = post(lti, "/lms/admin/platforms", NEW_LMS)
    assert done.status_code == 302
    added = platform_row(app, client_id="abc123")
    assert added.name == "Example Moodle"
    with app.app_context():
        ids = db.session.scalars(
            select(Deployment.deployment_id).where(Deployment.platform_id == added.id)
        ).all()
    assert sorted(ids) == ["4", "5"]
    again = post(lti, "/lms/admin/platforms", NEW_LMS)
    assert again.status_code == 400 and "is already registered" in page_text(again)
    # It is the new LMS's administrators' to manage: this one's page never shows it.
    assert "Example Moodle" not in page_text(lti.client.get(lti.tool_base + PAGE))


def test_an_administrator_edits_disables_and_enables_their_own_lms(app, lti):
    lti.launch_and_follow("administrator")
    before = dev_platform(app)
    values = {
        "name": "Our Moodle",
        "auth_login_url": before.auth_login_url,
        "auth_token_url": before.auth_token_url,
        "key_set_url": before.key_set_url,
        "frame_origins": "https://lms.example.edu\nhttps://*.example.org",
    }
    assert post(lti, PAGE, values | {"auth_token_url": "ftp://x"}).status_code == 400
    assert post(lti, PAGE, values).status_code == 302
    after = dev_platform(app)
    assert after.name == "Our Moodle"
    assert after.frame_origins == "https://lms.example.edu https://*.example.org"
    assert post(lti, PAGE + "/disable", {}).status_code == 302
    assert dev_platform(app).disabled_at is not None
    refused = lti.login(lti.start("learner"))  # a disabled LMS's logins are refused
    assert refused.status_code >= 400 and "This LMS is not registered" in page_text(refused)
    with app.app_context():  # the operator enables it again
        db.session.get(Platform, before.id).disabled_at = None
        db.session.commit()
    assert lti.launch("learner").status_code == 303


def test_own_deployment_is_changed_and_a_new_one_added(app, lti):
    lti.launch_and_follow("administrator")
    assert (
        post(lti, "/lms/admin/deployments", {"deployment_id": "dev-deployment-2"}).status_code
        == 302
    )
    with app.app_context():
        own, added = db.session.scalars(select(Deployment).order_by(Deployment.id)).all()
        own_id, added_id = own.id, added.id
    saved = post(
        lti, f"/lms/admin/deployments/{own_id}", {"name": "Site", "trust_role_parameter": "y"}
    )
    assert saved.status_code == 302
    with app.app_context():
        own = db.session.get(Deployment, own_id)
        assert (own.name, own.trust_role_parameter) == ("Site", True)
    # The second deployment is another tenant's, and now the platform is shared.
    refused = post(lti, f"/lms/admin/deployments/{added_id}/disable", {})
    assert refused.status_code == 403 and "another tenant's" in page_text(refused)
    shared = post(lti, PAGE + "/disable", {})
    assert shared.status_code == 403 and "shared with 1 other deployment" in page_text(shared)
    assert dev_platform(app).disabled_at is None
    wrong = post(lti, f"/lms/admin/deployments/{own_id}/remove", {"confirm": "nope"})
    assert wrong.status_code == 400


def test_another_lms_is_not_found(app, lti):
    lti.launch_and_follow("administrator")
    with app.app_context():
        other = Platform(
            issuer="https://other.example",
            client_id="x",
            auth_login_url="https://o/a",
            auth_token_url="https://o/t",
            key_set_url="https://o/k",
        )
        db.session.add(other)
        db.session.flush()
        deployment = add_deployment(db.session, other, "other-1")
        db.session.commit()
        row_id = deployment.id
    assert post(lti, f"/lms/admin/deployments/{row_id}", {"name": "mine now"}).status_code == 404
    assert (
        post(lti, f"/lms/admin/deployments/{row_id}/remove", {"confirm": "other-1"}).status_code
        == 404
    )


def test_the_operator_enables_a_disabled_lms_from_the_cli(app, lti, runner):
    platform = dev_platform(app)
    args = ["--issuer", platform.issuer, "--client-id", platform.client_id]
    assert runner.invoke(args=["lms", "platform", "disable", *args]).exit_code == 0
    assert lti.login(lti.start("learner")).status_code >= 400
    done = runner.invoke(args=["lms", "platform", "enable", *args])
    assert done.exit_code == 0 and "launches accepted" in done.output
    assert lti.launch("learner").status_code == 303
