"""A launch from the development platform lands each role on its page and provisions the
person, the course and the link, over the real login -> OIDC -> id_token flow."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from core.db import db
from lms.models import LtiStateEntry, ResourceLink
from people.models import Membership, Team, User
from tests.lti import onward_url, page_text

LANDINGS = {
    "learner": ("Lena", "Nothing is tracked until you choose to join"),
    "manager": ("Marco", "Learners in this course"),
    "trainer": ("Tara", "Name the team's managers"),
    "administrator": ("Ada", "This LMS's registration"),
}


@pytest.mark.parametrize("persona", sorted(LANDINGS))
def test_each_role_lands_on_its_own_page(lti, persona):
    page = lti.launch_and_follow(persona)
    assert page.status_code == 200
    text = page_text(page)
    name, marker = LANDINGS[persona]
    assert f"Welcome, {name}" in text
    assert marker in text
    assert persona.capitalize() in text  # the role chip


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_login_initiation_by_get_and_post(lti, method):
    response = lti.launch(method=method)
    assert response.status_code == 303
    assert response.headers["Location"] == "/dashboard"


def test_login_redirect_passes_message_hint_back_unchanged(lti):
    login_url = lti.start("learner")
    hint = parse_qs(urlsplit(login_url).query)["lti_message_hint"][0]
    auth_url = onward_url(lti.login(login_url, method="POST"))
    auth = parse_qs(urlsplit(auth_url).query)
    assert auth["lti_message_hint"] == [hint]
    assert auth["login_hint"] == ["dev-learner-1"]
    assert auth["redirect_uri"] == [lti.tool_base + "/lms/launch"]
    assert auth["response_mode"] == ["form_post"] and auth["prompt"] == ["none"]
    assert urlsplit(auth_url).netloc == urlsplit(lti.platform_base).netloc


def test_launch_provisions_user_course_membership_and_link(app, lti):
    assert lti.launch("trainer").status_code == 303
    with app.app_context():
        user = db.session.scalar(select(User).where(User.sub == "dev-trainer-1"))
        assert user.name == "Tara Trainer" and user.email == "tara.trainer@example.com"
        team = db.session.scalar(select(Team))
        assert (team.external_id, team.label) == ("demo-course-1", "CXQ101")
        membership = db.session.scalar(select(Membership))
        assert membership.lms_role == "trainer"
        assert membership.lti_roles == [
            "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
        ]
        link = db.session.scalar(select(ResourceLink))
        assert (link.lti_id, link.title, link.team_id) == (
            "demo-link-1",
            "CX Quality Academy",
            team.id,
        )


def test_launching_twice_updates_rather_than_duplicates(app, lti):
    for _ in range(2):
        assert lti.launch("learner").status_code == 303
    with app.app_context():
        assert len(db.session.scalars(select(User)).all()) == 1
        assert len(db.session.scalars(select(Membership)).all()) == 1
        assert len(db.session.scalars(select(ResourceLink)).all()) == 1


def test_session_after_launch_is_a_new_one(lti):
    """Session fixation: whatever session the browser had before the launch is replaced."""
    lti.launch_and_follow("administrator")
    before = lti.client.get_cookie("academy_session", domain="127.0.0.1").value
    lti.launch_and_follow("learner")
    after = lti.client.get_cookie("academy_session", domain="127.0.0.1").value
    assert before != after
    page = lti.client.get(lti.tool_base + "/lms/admin/platform")
    assert page.status_code == 403


def test_cross_site_cookies_stay_with_their_site(lti):
    """The platform (localhost) and the tool (127.0.0.1) never see each other's cookies."""
    lti.launch_and_follow("learner")
    tool_cookies = {c.key for c in lti.client._cookies.values() if c.domain == "127.0.0.1"}
    platform_cookies = {c.key for c in lti.client._cookies.values() if c.domain == "localhost"}
    assert "academy_session" in tool_cookies
    assert "academy_session" not in platform_cookies
    assert any(key.startswith("lti1p3-state-") for key in tool_cookies)


def test_dashboard_without_launch_explains_what_to_do(client, live):
    response = client.get(live.tool_base + "/dashboard")
    assert response.status_code == 401
    assert "open this from your learning platform" in page_text(response).lower()


def test_anonymous_launch_is_accepted_and_stores_no_person(app, lti):
    pending = lti.pending("learner")
    anonymous = lti.resign(pending, lambda c: {k: v for k, v in c.items() if k != "sub"})
    response = lti.post_launch(anonymous)
    assert response.status_code == 303
    page = lti.client.get(lti.tool_base + response.headers["Location"])
    assert "We do not know who you are" in page_text(page)
    with app.app_context():
        assert db.session.scalars(select(User)).all() == []
        assert db.session.scalar(select(ResourceLink)).lti_id == "demo-link-1"


def test_launch_within_clock_leeway_is_accepted(lti):
    """A platform whose clock runs 30 s fast issues tokens 'from the future'."""
    pending = lti.pending("learner")
    fast = lti.resign(
        pending, lambda c: {**c, "iat": c["iat"] + 30, "exp": c["exp"] + 30, "nbf": c["iat"] + 30}
    )
    assert lti.post_launch(fast).status_code == 303


def test_launch_just_expired_within_leeway_is_accepted(lti):
    pending = lti.pending("learner")
    slow = lti.resign(pending, lambda c: {**c, "iat": c["iat"] - 90, "exp": c["exp"] - 90})
    assert lti.post_launch(slow).status_code == 303


def test_top_level_window_skips_the_cookie_check(lti):
    login_url = lti.start("learner")
    direct = lti.client.get(login_url, headers={"Sec-Fetch-Dest": "document"})
    assert direct.status_code == 302
    framed = lti.client.get(login_url, headers={"Sec-Fetch-Dest": "iframe"})
    assert framed.status_code == 200
    assert "Opening the activity" in page_text(framed)


def test_a_resource_link_launch_keeps_no_copy_of_its_id_token(app, lti):
    """What later requests need is kept in its own rows; the token's claims (names, emails,
    roles) are not stored as well. Only a deep-linking request is, to be answered."""
    assert lti.launch("learner").status_code == 303
    with app.app_context():
        keys = list(db.session.scalars(select(LtiStateEntry.key)))
        db.session.remove()
    assert not [key for key in keys if "launch" in key], keys
