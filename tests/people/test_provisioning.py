"""What a launch records about a person: the LMS's names win, blanks never erase them, a role
given in the tool survives relaunches, and a person launching twice at once is one person."""

from __future__ import annotations

import threading

from sqlalchemy import select

from core.auth import Role
from core.db import db
from lms.launch import ROLES
from people.models import Membership, User
from people.services import PersonClaims, upsert_membership, upsert_person
from tests.lti import page_text


def person(app, sub):
    with app.app_context():
        found = db.session.scalar(select(User).where(User.sub == sub))
        db.session.remove()
        return found


def relaunch(lti, change):
    pending = lti.resign(lti.pending("learner"), change)
    response = lti.post_launch(pending)
    assert response.status_code == 303, page_text(response)


def test_a_relaunch_refreshes_names_but_blank_claims_erase_nothing(app, lti):
    assert lti.launch("learner").status_code == 303
    first = person(app, "dev-learner-1")
    assert first.email and first.name

    def blanked(claims):
        for claim in ("name", "given_name", "family_name", "email"):
            claims.pop(claim, None)

    relaunch(lti, blanked)
    kept = person(app, "dev-learner-1")
    assert (kept.name, kept.given_name, kept.family_name, kept.email) == (
        first.name,
        first.given_name,
        first.family_name,
        first.email,
    )
    assert kept.last_launch_at > first.last_launch_at

    def renamed(claims):
        claims.update(name="Lea Renamed", email="lea.renamed@example.com")

    relaunch(lti, renamed)
    changed = person(app, "dev-learner-1")
    assert (changed.name, changed.email) == ("Lea Renamed", "lea.renamed@example.com")
    assert changed.given_name == first.given_name and changed.created_at == first.created_at


def test_a_role_given_in_the_tool_survives_a_relaunch_with_new_lms_roles(app, lti):
    assert lti.launch("learner").status_code == 303
    with app.app_context():
        membership = db.session.scalar(select(Membership))
        membership.assigned_role = Role.MANAGER.value
        db.session.commit()

    def mentor_too(claims):
        claims[ROLES] = [*claims[ROLES], "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"]

    relaunch(lti, mentor_too)
    with app.app_context():
        membership = db.session.scalar(select(Membership))
        assert membership.assigned_role == Role.MANAGER.value
        assert membership.role == Role.MANAGER
        assert membership.lti_roles[-1].endswith("#Mentor")
        assert len(db.session.scalars(select(Membership)).all()) == 1


def test_two_launches_of_a_new_person_at_once_make_one_person(app, lti):
    """A double click on the LMS's link: both transactions add the same new person and
    membership; the second waits for the first and then finds its rows instead of failing."""
    assert lti.launch("trainer").status_code == 303  # the course's team exists
    with app.app_context():
        team_id = db.session.scalar(select(Membership.team_id))
        platform_id = db.session.scalar(select(User.platform_id))
        db.session.remove()
    newcomer = PersonClaims(sub="double-click", name="Dana Double")
    first_wrote, release_first = threading.Event(), threading.Event()
    results, errors = [], []

    def launch_in_own_transaction(hold_open: threading.Event | None) -> None:
        try:
            with app.app_context():
                user_id = upsert_person(db.session, platform_id, newcomer)
                membership = upsert_membership(db.session, user_id, team_id, [], Role.LEARNER)
                if hold_open is not None:  # keep the transaction open while the other starts
                    first_wrote.set()
                    hold_open.wait(5)
                db.session.commit()
                results.append((user_id, membership.id))
                db.session.remove()
        except Exception as error:  # the test reports it
            errors.append(error)

    first = threading.Thread(target=launch_in_own_transaction, args=(release_first,))
    first.start()
    assert first_wrote.wait(5), errors
    second = threading.Thread(target=launch_in_own_transaction, args=(None,))
    second.start()
    second.join(0.5)  # blocked behind the first's uncommitted row (or the SQLite write lock)
    assert second.is_alive() and not results
    release_first.set()
    first.join(10)
    second.join(10)
    assert errors == []
    assert len(results) == 2 and results[0] == results[1]
    with app.app_context():
        assert len(db.session.scalars(select(User).where(User.sub == "double-click")).all()) == 1
