"""Trainers name managers in their own course; nobody else can, and no other course is reachable."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.db import db
from people.models import Membership, User
from tests.builders import launched, sign_in
from tests.lti import page_text


def membership_of(app, sub, context_id="demo-course-1"):
    with app.app_context():
        membership = db.session.scalar(
            select(Membership)
            .join(Membership.user)
            .join(Membership.team)
            .where(User.sub == sub, Membership.team.has(external_id=context_id))
        )
        db.session.remove()
        return membership


def csrf_token(page):
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)[1]


def dashboard_as(lti, persona):
    """``lti`` signed in as ``persona``, on the dashboard a launch leads to."""
    sign_in(lti, persona)
    return lti.client.get(lti.tool_base + "/dashboard")


def test_trainer_names_a_manager_who_then_sees_the_team(app, lti):
    learner = launched(lti, "learner")
    launched(lti, "learner", sub="dev-learner-2", name="Lars Second")

    page = dashboard_as(lti, "trainer")
    assert "Lena Learner" in page_text(page)
    target = membership_of(app, "dev-learner-1")
    response = lti.client.post(
        lti.tool_base + f"/team/members/{target.id}/role",
        data={"role": "manager", "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 302
    follow = page_text(lti.client.get(lti.tool_base + "/dashboard"))
    assert "Lena Learner is now a manager in this course." in follow
    assert membership_of(app, "dev-learner-1").assigned_role == "manager"

    # Her next launch makes her a manager; she sees the course's learners.
    again = learner.launch_and_follow("learner")
    text = page_text(again)
    assert "Learners in this course" in text and "Lars Second" in text


def test_role_change_needs_the_csrf_token(app, lti):
    launched(lti, "learner")
    sign_in(lti, "trainer")
    target = membership_of(app, "dev-learner-1")
    response = lti.client.post(
        lti.tool_base + f"/team/members/{target.id}/role", data={"role": "manager"}
    )
    assert response.status_code == 400
    assert "This form has expired" in page_text(response)
    assert membership_of(app, "dev-learner-1").assigned_role is None


def test_learners_and_managers_cannot_change_roles(app, lti):
    launched(lti, "trainer")
    target = membership_of(app, "dev-trainer-1")
    for persona in ("learner", "manager"):
        page = dashboard_as(lti, persona)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        response = lti.client.post(
            lti.tool_base + f"/team/members/{target.id}/role",
            data={"role": "manager", "csrf_token": token[1] if token else ""},
        )
        assert response.status_code in (400, 403)
    assert membership_of(app, "dev-trainer-1").assigned_role is None


def test_trainer_cannot_reach_a_membership_in_another_course(app, lti):
    launched(lti, "learner", context={"id": "other-course", "title": "Another course"})
    foreign = membership_of(app, "dev-learner-1", "other-course")
    launched(lti, "learner", sub="dev-l-3", name="Cleo Colleague")

    page = dashboard_as(lti, "trainer")
    assert "Lena Learner" not in page_text(page)  # not in the trainer's course
    response = lti.client.post(
        lti.tool_base + f"/team/members/{foreign.id}/role",
        data={"role": "manager", "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 404
    assert membership_of(app, "dev-learner-1", "other-course").assigned_role is None


def test_nobody_changes_their_own_role(app, lti):
    launched(lti, "learner")
    page = dashboard_as(lti, "trainer")
    me = membership_of(app, "dev-trainer-1")
    lti.client.post(
        lti.tool_base + f"/team/members/{me.id}/role",
        data={"role": "manager", "csrf_token": csrf_token(page)},
    )
    assert membership_of(app, "dev-trainer-1").assigned_role is None


def test_same_sub_on_two_platforms_is_two_people(app, lti, runner):
    runner.invoke(
        args=[
            "lms",
            "platform",
            "add",
            "--issuer",
            lti.platform_base + "/dev-platform",
            "--client-id",
            "second-client",
            "--deployment-id",
            "dev-deployment-1",
            "--auth-login-url",
            lti.platform_base + "/dev-platform/auth",
            "--auth-token-url",
            lti.platform_base + "/dev-platform/token",
            "--key-set-url",
            lti.platform_base + "/dev-platform/jwks",
        ]
    )
    lti.launch("learner")
    pending = lti.resign(lti.pending("learner"), lambda c: {**c, "aud": "second-client"})
    assert lti.post_launch(pending).status_code == 303
    with app.app_context():
        users = db.session.scalars(select(User).where(User.sub == "dev-learner-1")).all()
        assert len({u.platform_id for u in users}) == 2


def test_unknown_role_gets_no_access(app, lti):
    pending = lti.resign(
        lti.pending("learner"),
        lambda c: {
            **c,
            "https://purl.imsglobal.org/spec/lti/claim/roles": [
                "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor"
            ],
        },
    )
    response = lti.post_launch(pending)
    assert response.status_code == 303
    page = lti.client.get(lti.tool_base + response.headers["Location"])
    assert page.status_code == 403
    assert "does not include CX Quality Academy" in page_text(page)
