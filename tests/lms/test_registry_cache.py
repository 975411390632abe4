"""Each process keeps a snapshot of the registrations it has seen: changes made in the process
apply at once, changes made elsewhere within ``LTI_REGISTRY_CACHE_SECONDS``, and an unknown
LMS is never remembered as unknown."""

from __future__ import annotations

import time

from sqlalchemy import delete, select

from core.cache import ProcessCache
from core.db import db
from lms.models import Platform
from lms.registry import remove_platform
from tests.lti import page_text

DEV_ISSUER_SUFFIX = "/dev-platform"


def remove_dev_platform(app, lti) -> None:
    with app.app_context():
        platform = db.session.scalar(
            select(Platform).where(Platform.issuer == lti.platform_base + DEV_ISSUER_SUFFIX)
        )
        remove_platform(db.session, platform)
        db.session.commit()
        db.session.remove()


def test_removing_a_platform_in_this_process_refuses_its_next_launch(app, lti):
    assert lti.launch("learner").status_code == 303  # the registration is now cached
    pending = lti.pending("learner")
    remove_dev_platform(app, lti)
    refused = lti.post_launch(pending)
    assert refused.status_code == 400
    assert "This LMS is not registered with the tool" in page_text(refused)


def test_another_process_sees_a_removal_once_its_snapshot_expires(app, lti, make_app):
    app.extensions["process_cache"] = ProcessCache(0.5)
    assert lti.launch("learner").status_code == 303
    login_url = lti.start("learner")
    remove_dev_platform(make_app(), lti)  # "another process": its own app and cache
    time.sleep(0.6)
    login = lti.client.get(login_url)
    assert login.status_code == 400
    assert "not registered" in page_text(login)


def test_an_unknown_lms_is_not_remembered_as_unknown(app, lti, make_app):
    login_url = lti.start("learner").replace("client_id=cx-academy-dev-tool", "client_id=second")
    assert "client_id=second" in login_url
    refused = lti.client.get(login_url)
    assert refused.status_code == 400  # looked up, not found, and not remembered
    other = make_app()
    with other.app_context():
        platform = db.session.scalar(select(Platform))
        urls = [
            platform.issuer,
            platform.auth_login_url,
            platform.auth_token_url,
            platform.key_set_url,
        ]
        db.session.remove()
    added = other.test_cli_runner().invoke(  # registered by "another process"
        args=[
            "lms",
            "platform",
            "add",
            "--issuer",
            urls[0],
            "--client-id",
            "second",
            "--deployment-id",
            "dev-deployment-1",
            "--auth-login-url",
            urls[1],
            "--auth-token-url",
            urls[2],
            "--key-set-url",
            urls[3],
        ]
    )
    assert added.exit_code == 0, added.output
    assert lti.client.get(login_url).status_code == 200


def test_a_row_removed_elsewhere_is_a_clear_error_once_then_forgotten(app, lti, make_app):
    from people.models import Team

    assert lti.launch("learner").status_code == 303  # the course's team is now remembered
    other = make_app()
    with other.app_context():
        db.session.execute(delete(Team))  # as a cascade from elsewhere would
        db.session.commit()
        db.session.remove()
    newcomer = lti.resign(lti.pending("learner"), lambda c: {**c, "sub": "someone-new"})
    refused = lti.post_launch(newcomer)
    assert refused.status_code == 409
    assert "Please open the activity again" in page_text(refused)
    again = lti.resign(lti.pending("learner"), lambda c: {**c, "sub": "someone-new"})
    assert lti.post_launch(again).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Team)) is not None
        db.session.remove()
