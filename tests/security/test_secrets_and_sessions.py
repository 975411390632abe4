"""Secrets never reach the logs; a launch always starts a new session; cookies carry the flags
that keep them to this site and out of scripts."""

from __future__ import annotations

import logging

from sqlalchemy import select

from core.db import db
from lms.models import AccessToken, SigningKey
from tests.courses.flow import text
from tests.insights.test_api import BATCH, make_token, send
from tests.lms.test_grades import drain, enqueue, launched  # noqa: F401 - fixture


def _pem_lines(app) -> list[str]:
    with app.app_context():
        pems = db.session.scalars(select(SigningKey.private_pem)).all()
        db.session.remove()
    # Any line of the key's body would give it away.
    return [line for pem in pems for line in pem.splitlines() if len(line) > 40]


def test_no_secret_is_ever_logged(app, lti, live, caplog, launched):  # noqa: F811
    """Everything is logged at DEBUG, by every logger, through a launch, a refused forgery,
    a score sent with an OAuth2 token, a survey batch with a bearer token, and a failure."""
    caplog.set_level(logging.DEBUG)
    pending = lti.pending("learner")
    id_token = pending.fields["id_token"]
    forged = lti.resign(pending, lambda c: {**c, "aud": "someone-else"})
    assert lti.post_launch(forged).status_code == 400
    assert lti.post_launch(pending).status_code == 303
    session_cookie = lti.client.get_cookie("academy_session", domain="127.0.0.1").value
    enqueue(app, launched)
    drain(app)
    with app.app_context():
        access_token = db.session.scalar(select(AccessToken.token))
        db.session.remove()
    assert access_token
    survey_token = make_token(app)
    assert send(lti, BATCH, survey_token).status_code == 200
    assert send(lti, BATCH, survey_token + "x").status_code == 401
    assert lti.client.get(lti.tool_base + "/no-such-page").status_code == 404

    logged = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {getattr(r, 'request_id', '')}"
        for r in caplog.records
    )
    assert "POST /lms/launch" in logged or "/lms/launch" in logged  # the logs were captured
    secrets = {
        "SECRET_KEY": app.config["SECRET_KEY"],
        "id_token": id_token,
        "id_token signature": id_token.rsplit(".", 1)[1],
        "session cookie": session_cookie,
        "AGS access token": access_token,
        "survey API token": survey_token,
    }
    secrets |= {f"private key line {i}": line for i, line in enumerate(_pem_lines(app))}
    leaked = [name for name, value in secrets.items() if value and value in logged]
    assert leaked == []


def test_a_launch_replaces_the_session_it_finds(app, lti):
    """Session fixation: a session planted before the launch (or left by another person on a
    shared computer) is not the one the launched person gets."""
    lti.launch_and_follow("learner")
    first = lti.client.get_cookie("academy_session", domain="127.0.0.1").value
    with lti.client.session_transaction(base_url=lti.tool_base) as planted:
        planted["planted"] = "by an attacker"
    lti.launch_and_follow("trainer")
    with lti.client.session_transaction(base_url=lti.tool_base) as after:
        assert "planted" not in after
        assert after["viewer"]["role"] == "trainer"
    assert lti.client.get_cookie("academy_session", domain="127.0.0.1").value != first


def test_a_tampered_session_cookie_is_not_trusted(app, lti):
    lti.launch_and_follow("trainer")
    cookie = lti.client.get_cookie("academy_session", domain="127.0.0.1")
    body, _, signature = cookie.value.rpartition(".")
    lti.client.set_cookie("academy_session", body + "." + signature[::-1], domain="127.0.0.1")
    refused = lti.client.get(lti.tool_base + "/insights/")
    assert refused.status_code == 401
    assert "Please open this from your learning platform" in text(refused)


def test_the_lms_is_sent_only_the_score_fields_of_ags(app, launched):  # noqa: F811
    """Personal data goes to the LMS only as LTI requires: the person's LTI user id (the sub
    the LMS gave us) with the score, never a name or an e-mail address."""
    from lms.grades import score_body
    from lms.models import GradeDelivery
    from people.models import User

    delivery_id = enqueue(app, launched, comment="Well handled")
    with app.app_context():
        body = score_body(db.session.get(GradeDelivery, delivery_id))
        person = db.session.get(User, launched[0])
        identifying = {person.display_name, person.email, person.lms_username} - {None, ""}
        db.session.remove()
    assert set(body) == {
        "userId",
        "scoreGiven",
        "scoreMaximum",
        "comment",
        "activityProgress",
        "gradingProgress",
        "timestamp",
    }
    assert body["userId"] == "dev-learner-1"
    assert identifying and not any(v in str(body) for v in identifying)
