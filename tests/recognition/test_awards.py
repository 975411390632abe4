"""Managers recognise people in their own team, with a message; every award and withdrawal is
kept; learners choose whether their badges show on the team's wall."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from core.db import db
from recognition.models import Award, AwardEvent, Badge
from tests.builders import joined, launched
from tests.courses.flow import get, join, post, rows, text


def badge_id(app, slug):
    with app.app_context():
        found = db.session.scalar(select(Badge.id).where(Badge.slug == slug))
        db.session.remove()
        return found


def user_id(app, sub):
    from people.models import User

    with app.app_context():
        found = db.session.scalar(select(User.id).where(User.sub == sub))
        db.session.remove()
        return found


def award_form(page):
    found = re.search(r'name="request_id" type="hidden" value="([^"]+)"', page.text)
    return found[1] if found else uuid.uuid4().hex  # no form when nobody can be recognised


def give(manager, recipient_id, badge, message, request_id=None):
    page = get(manager, "/recognition/award")
    return post(
        manager,
        "/recognition/award",
        {
            "recipient": str(recipient_id),
            "badge": str(badge),
            "message": message,
            "request_id": request_id or award_form(page),
        },
    )


def test_a_manager_recognises_a_learner_who_sees_it_with_the_message(app, lti, badges):
    learner = joined(launched(lti, "learner"))
    manager = launched(lti, "manager")
    form = text(get(manager, "/recognition/award"))
    assert "Lena Learner" in form and "Marco" not in form.split("Who")[1].split("Badge")[0]
    given = give(
        manager,
        user_id(app, "dev-learner-1"),
        badge_id(app, "kudos-customer-hero"),
        "You stayed on the line until the refund landed. Thank you!",
    )
    assert given.status_code == 302
    assert "You recognised Lena Learner: Customer hero." in text(get(manager, "/recognition/wall"))

    mine = text(get(learner, "/recognition/"))
    assert "Customer hero" in mine and "You stayed on the line until the refund landed" in mine
    assert "From Marco" in mine
    wall = text(get(learner, "/recognition/wall"))
    assert "Lena Learner · Customer hero" in wall

    (award,) = rows(app, Award)
    hide = post(learner, f"/recognition/awards/{award.public_id}/visibility", {"hidden": "1"})
    assert hide.status_code == 302
    assert "Lena Learner · Customer hero" not in text(get(manager, "/recognition/wall"))
    assert [e.action for e in rows(app, AwardEvent)] == ["awarded", "hidden"]


def joined_learner(app, lti):
    return joined(launched(lti, "learner"))


def test_a_double_click_awards_once(app, lti, badges):
    joined_learner(app, lti)
    manager = launched(lti, "manager")
    page = get(manager, "/recognition/award")
    request_id = award_form(page)
    for _ in range(2):
        give(
            manager,
            user_id(app, "dev-learner-1"),
            badge_id(app, "kudos-team-player"),
            "Covered the queue.",
            request_id,
        )
    assert len(rows(app, Award)) == 1


def test_what_managers_cannot_do(app, lti, badges):
    joined_learner(app, lti)
    joined(
        launched(
            lti,
            "learner",
            sub="outsider-1",
            name="Xavier Outside",
            context={"id": "another-course"},
        )
    )
    manager = launched(lti, "manager")
    hero = badge_id(app, "kudos-customer-hero")
    lena = user_id(app, "dev-learner-1")
    cases = [
        (user_id(app, "dev-manager-1"), hero, "Me!", "You cannot recognise yourself."),
        (user_id(app, "outsider-1"), hero, "Hi", "You can recognise only people in your own team."),
        (lena, badge_id(app, "calibrated-grader"), "Hi", "Choose one of the recognition badges."),
        (lena, hero, "x" * 501, "Keep it under 500 characters."),
        (lena, hero, "   ", "Write a message saying what they did."),
    ]
    for recipient, badge, message, error in cases:
        response = give(manager, recipient, badge, message)
        if response.status_code != 400:  # refused by the service: shown after the redirect
            response = get(manager, "/recognition/award")
        assert error in text(response), error
    assert rows(app, Award) == []


def test_learners_cannot_award_and_staff_only_revoke_with_a_reason(app, lti, badges):
    learner = joined_learner(app, lti)
    assert get(learner, "/recognition/award").status_code == 403
    manager = launched(lti, "manager")
    give(
        manager,
        user_id(app, "dev-learner-1"),
        badge_id(app, "kudos-great-listener"),
        "Repeated the account issue back word for word.",
    )
    (award,) = rows(app, Award)
    assert get(learner, f"/recognition/awards/{award.public_id}/revoke").status_code == 403

    no_reason = post(manager, f"/recognition/awards/{award.public_id}/revoke", {"reason": ""})
    assert no_reason.status_code == 400 and "Say why the award is withdrawn." in text(no_reason)
    other_manager = launched(lti, "manager", sub="manager-2", name="Mona Second")
    refused = post(
        other_manager, f"/recognition/awards/{award.public_id}/revoke", {"reason": "Not mine"}
    )
    assert refused.status_code == 302
    assert rows(app, Award)[0].revoked_at is None

    done = post(
        manager,
        f"/recognition/awards/{award.public_id}/revoke",
        {"reason": "Given to the wrong person."},
    )
    assert done.status_code == 302
    (award,) = rows(app, Award)
    assert award.revoked_at is not None and award.revoked_reason == "Given to the wrong person."
    trainer = launched(lti, "trainer")
    log = text(get(trainer, "/recognition/audit"))
    assert "Revoked Great listener Lena Learner Marco" in log
    assert "Given to the wrong person." in log
    assert "Awarded Great listener Lena Learner Marco" in log
    assert "Withdrawn" in text(get(learner, "/recognition/"))


def test_a_manager_cannot_give_another_platforms_badge(app, lti, badges):
    from lms.models import Platform

    joined_learner(app, lti)
    manager = launched(lti, "manager")
    with app.app_context():
        other = Platform(
            issuer="https://other-lms.example",
            client_id="other",
            auth_login_url="https://x",
            auth_token_url="https://x",
            key_set_url="https://x",
        )
        db.session.add(other)
        db.session.flush()
        theirs = Badge(
            slug="other-platform-kudos",
            platform_id=other.id,
            kind="recognition",
            name="Their kudos",
            description="",
            criteria="",
            manager_awardable=True,
            image=b"<svg/>",
            image_type="image/svg+xml",
        )
        db.session.add(theirs)
        db.session.commit()
        theirs_id = theirs.id
    response = give(manager, user_id(app, "dev-learner-1"), theirs_id, "Well done.")
    if response.status_code != 400:
        response = get(manager, "/recognition/award")
    assert "Choose one of the recognition badges." in text(response)
    assert rows(app, Award) == []


def test_the_award_form_says_why_nobody_can_be_recognised_yet(app, lti, badges):
    learner = launched(lti, "learner")  # in the team, but has not joined the programme
    manager = launched(lti, "manager")
    page = text(get(manager, "/recognition/award"))
    assert "Nobody else in this course's team has joined the training programme yet" in page
    join(learner)
    page = text(get(manager, "/recognition/award"))
    assert "has joined the training programme yet" not in page
    assert "Choose a person" in page
