"""Roster sync (NRPS) from the development platform, over real HTTP, with paging."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from core.db import db
from lms.devplatform.models import DevPlatformSetup
from lms.platform_client import PlatformClient
from lms.roster import RosterError, next_page, sync_roster
from people.models import Membership, Team, User
from tests.lti import csrf_token_for, page_text


def team_id(app):
    with app.app_context():
        return db.session.scalar(select(Team.id))


def sync(app, page_size=None):
    with app.app_context():
        if page_size:
            from lms.models import ContextServices

            services = db.session.scalar(select(ContextServices))
            services.memberships_url += f"?limit={page_size}"
            db.session.commit()
        report = sync_roster(db.session, PlatformClient(db.session), team_id(app))
        db.session.commit()
        return report


def memberships(app):
    with app.app_context():
        rows = db.session.execute(
            select(User.sub, Membership.active, Membership.lms_role).join(Membership.user)
        ).all()
        return {sub: (active, role) for sub, active, role in rows}


def set_roster(app, roster):
    with app.app_context():
        db.session.execute(update(DevPlatformSetup).values(roster=roster))
        db.session.commit()


def test_next_page_link_parsing():
    assert next_page('<https://m/x?limit=1&from=1>; rel="next"') == "https://m/x?limit=1&from=1"
    assert next_page('<https://m/x>; rel="prev"') is None
    assert next_page(None) is None


def test_sync_brings_everyone_in_across_pages(app, lti):
    assert lti.launch("trainer").status_code == 303
    report = sync(app, page_size=2)  # 3 personas with course roles + 6 agents, 5 pages
    assert (report.added, report.updated, report.skipped) == (8, 1, [])
    people = memberships(app)
    assert people["dev-agent-1"] == (True, "learner")
    assert people["dev-manager-1"] == (True, "manager")  # Mentor
    assert people["dev-trainer-1"] == (True, "trainer")
    with app.app_context():
        assert db.session.scalar(select(User.name).where(User.sub == "dev-agent-3")) == (
            "Chloe Martin"
        )


def test_people_who_left_are_marked_not_deleted(app, lti):
    lti.launch("trainer")
    sync(app)
    with app.app_context():
        roster = db.session.scalar(select(DevPlatformSetup.roster))
    set_roster(app, [m for m in roster if m["user_id"] != "dev-agent-2"])
    report = sync(app)
    assert report.deactivated == 1
    assert memberships(app)["dev-agent-2"] == (False, "learner")


def test_malformed_members_are_skipped_and_reported(app, lti):
    lti.launch("trainer")
    set_roster(
        app,
        [
            {"status": "Active", "roles": ["Learner"], "user_id": "good-1", "name": "Good One"},
            {"status": "Active", "roles": "Learner", "user_id": "bad-roles"},
            {"status": "Active", "roles": ["Learner"]},
            "not a member",
            {"status": "Weird", "roles": ["Learner"], "user_id": "bad-status"},
        ],
    )
    report = sync(app)
    assert len(report.skipped) == 4
    assert "roles are not a list" in report.skipped[0] and "no user_id" in report.skipped[1]
    people = memberships(app)
    assert "good-1" in people and "bad-roles" not in people and "bad-status" not in people


def test_failed_sync_changes_nothing(app, lti):
    lti.launch("trainer")
    with app.app_context():
        from lms.models import ContextServices

        db.session.execute(
            update(ContextServices).values(
                memberships_url=lti.platform_base + "/dev-platform/nowhere"
            )
        )
        db.session.commit()
    before = memberships(app)
    with pytest.raises(RosterError, match="did not give the roster"):
        sync(app)
    assert memberships(app) == before


def test_trainer_button_updates_the_roster(app, lti):
    page = lti.launch_and_follow("trainer")
    assert "Update the roster now" in page_text(page)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    response = lti.client.post(lti.tool_base + "/lms/roster/sync", data={"csrf_token": token})
    assert response.status_code == 302
    text = page_text(lti.client.get(lti.tool_base + "/dashboard"))
    assert "Roster updated from the LMS: 8 added" in text
    assert "Farid Nasser" in text


@pytest.mark.parametrize("persona", ["learner", "manager"])
def test_only_staff_can_sync(app, lti, persona):
    lti.launch_and_follow(persona)
    token = csrf_token_for(app, lti.client)
    response = lti.client.post(lti.tool_base + "/lms/roster/sync", data={"csrf_token": token})
    assert response.status_code == 403
    assert "dev-agent-1" not in memberships(app)


def test_roster_cli(app, lti, runner):
    lti.launch("trainer")
    result = runner.invoke(args=["lms", "roster", "sync", "--all"])
    assert result.exit_code == 0, result.output
    assert "8 added" in result.output


def test_dashboards_count_who_the_roster_says_is_a_member(app, lti):
    """A site administrator who launched from the course is not enrolled in it: the roster
    marks them as left, and the trainer's counts and lists agree (they are named as left)."""
    lti.launch("administrator")
    page = lti.launch_and_follow("trainer")
    assert "Administrators 1" in page_text(page)
    report = sync(app)
    assert report.deactivated == 1 and memberships(app)["dev-admin-1"][0] is False
    text = page_text(lti.client.get(lti.tool_base + "/dashboard"))
    assert "Learners 7 Managers 1 Trainers 1 Administrators 0" in text
    assert "People in this course (9)" in text and "Marked as left by the LMS (1)" in text
    assert text.count("Ada Admin") == 1 and "Ada Admin (Administrator)" in text
    lti.launch_and_follow("manager")  # a manager sees the current learners only
    assert "Learners in this course (7)" in page_text(lti.client.get(lti.tool_base + "/dashboard"))
