"""Launches shaped exactly like Moodle 4.5's (claims captured from a real Moodle)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from core.db import db
from people.models import Membership, Team, User
from tests.lti import new_window_url, onward_url

MOODLE = json.loads((Path(__file__).parents[1] / "data" / "moodle_launch.json").read_text())
PLATFORM_CLAIMS = (
    "iss",
    "aud",
    "nonce",
    "iat",
    "exp",
    "https://purl.imsglobal.org/spec/lti/claim/deployment_id",
    "https://purl.imsglobal.org/spec/lti/claim/target_link_uri",
)


def moodle_claims(genuine):
    """Moodle's payload, addressed to our development platform's registration."""
    claims = dict(MOODLE["resource_link_launch"])
    claims.update({name: genuine[name] for name in PLATFORM_CLAIMS})
    return claims


def test_moodle_learner_launch_is_provisioned(app, lti):
    pending = lti.resign(lti.pending("learner"), moodle_claims)
    response = lti.post_launch(pending)
    assert response.status_code == 303
    with app.app_context():
        user = db.session.scalar(select(User).where(User.sub == "3"))
        assert (user.name, user.email, user.lms_username) == (
            "Stu Dent",
            "student1@example.com",
            "student1",
        )
        team = db.session.scalar(select(Team).where(Team.external_id == "2"))
        assert (team.title, team.label) == ("LTI Test Course", "LTI101")
        assert (
            db.session.scalar(select(Membership).where(Membership.user_id == user.id)).lms_role
            == "learner"
        )


def test_moodle_site_admin_without_course_role_is_administrator(lti):
    def site_admin(genuine):
        claims = moodle_claims(genuine)
        claims["https://purl.imsglobal.org/spec/lti/claim/roles"] = [
            "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
            "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
        ]
        return claims

    response = lti.post_launch(lti.resign(lti.pending("learner"), site_admin))
    assert response.status_code == 303
    page = lti.client.get(lti.tool_base + "/lms/admin/platform")
    assert page.status_code == 200


def test_moodle_login_initiation_post_with_json_message_hint(lti, live):
    """Moodle POSTs the login with a JSON lti_message_hint; it must come back unchanged."""
    initiation = dict(MOODLE["login_initiation"])
    initiation.pop("_method")
    initiation.update(
        iss=live.platform_base + "/dev-platform",
        client_id="cx-academy-dev-tool",
        lti_deployment_id="dev-deployment-1",
        target_link_uri=live.tool_base + "/lms/launch",
    )
    check = lti.client.post(live.tool_base + "/lms/login", data=initiation)
    assert check.status_code == 200  # inside Moodle's frame: the cookie check page
    sent = parse_qs(urlsplit(onward_url(check)).query)
    assert sent["lti_message_hint"] == [initiation["lti_message_hint"]]
    assert sent["login_hint"] == ["3"]
    # A browser that blocks cookies in frames logs in again in a new window: same hints.
    again = lti.client.get(live.tool_base + new_window_url(check))
    assert again.status_code == 302
    sent_again = parse_qs(urlsplit(again.headers["Location"]).query)
    assert sent_again["lti_message_hint"] == [initiation["lti_message_hint"]]
