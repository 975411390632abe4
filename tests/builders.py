"""Builders: the data a test needs but does not exercise, made through the services.

A test of awards needs a signed-in manager and a learner who joined the programme; how they
got there (the LTI login, OIDC, id_token, launch, the programme page) is proven by the LTI and
programme tests, not by every test that needs a person. ``launched`` gives a browser signed in
as a launch would leave it: the tool's own launch step (``complete_launch``: person, team,
membership, resource link) runs on the claims the development platform would have signed, and
the session holds the viewer ``sign_in`` would have stored. Only the hops in between (four HTTP
requests, the platform's key set fetched over HTTP, a signature and a nonce) are skipped.

Tests of the launch itself, of what a launch may not do (tenancy, tampered tokens) and the
browser journeys keep the real flow (``tests.lti.LtiBrowser``).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from sqlalchemy import select

from core.auth import VIEWER_KEY, Viewer
from core.db import db
from lms.devplatform import service as devplatform
from lms.devplatform.models import DevResourceLink
from lms.launch import ValidatedLaunch
from lms.models import Deployment, Platform
from lms.services import complete_launch
from lms.tool_config import DeploymentRef, PlatformRef
from people.models import User
from people.services import set_programme_consent
from recognition.models import Award, Badge
from recognition.services import award_kudos
from tests.lti import LtiBrowser

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"


def launch_claims(
    persona: str,
    *,
    sub: str | None = None,
    name: str | None = None,
    link: int | None = None,
    deployment: str | None = None,
    context: str | dict[str, str] | None = None,
) -> dict[str, Any]:
    """The claims the development platform signs for ``persona`` (through activity ``link``
    when given), changed as a test's re-signed token would change them: another person
    (``sub``, ``name``), another deployment of the platform, or another course ``context``
    (an id, named "Course B", or the whole context claim). Call inside an app context."""
    setup = devplatform.current_setup(db.session)
    assert setup is not None, "the development platform is not registered"
    person = devplatform.PERSONAS[persona]
    nonce = uuid.uuid4().hex
    if link is None:
        lineitem_id = devplatform.demo_lineitem(db.session).id
        claims = devplatform.launch_claims(setup, person, nonce, lineitem_id=lineitem_id)
    else:
        # As the platform's auth endpoint words a launch of one of its activities.
        activity = db.session.get(DevResourceLink, link)
        assert activity is not None, f"no activity {link}"
        claims = devplatform.launch_claims(setup, person, nonce, lineitem_id=activity.lineitem_id)
        claims[CLAIM + "resource_link"] = {"id": f"dev-link-{activity.id}", "title": activity.title}
        claims[CLAIM + "custom"] = dict(activity.custom)
        if activity.lineitem_id is None:
            claims[AGS_ENDPOINT].pop("lineitem", None)
    if sub:
        claims["sub"] = sub
    if name:
        claims["name"], claims["given_name"] = name, name.split()[0]
    if deployment:
        claims[CLAIM + "deployment_id"] = deployment
        claims[CLAIM + "context"] = {"id": f"{deployment}-course", "title": "B course"}
    if isinstance(context, dict):
        claims[CLAIM + "context"] = context
    elif context:
        claims[CLAIM + "context"] = {"id": context, "label": "CXQ202", "title": "Course B"}
    return claims


def complete(app: Flask, claims: dict[str, Any]) -> Viewer:
    """The tool's side of a launch with ``claims`` (already validated): everything it
    provisions, committed; the viewer it signs in."""
    with app.app_context():
        platform = db.session.scalar(
            select(Platform).where(
                Platform.issuer == claims["iss"], Platform.client_id == claims["aud"]
            )
        )
        assert platform is not None, claims["iss"]
        deployment = db.session.scalar(
            select(Deployment).where(
                Deployment.platform_id == platform.id,
                Deployment.deployment_id == claims[CLAIM + "deployment_id"],
            )
        )
        assert deployment is not None, claims[CLAIM + "deployment_id"]
        launch = ValidatedLaunch(
            platform=PlatformRef.of(platform),
            deployment=DeploymentRef.of(deployment),
            claims=claims,
            launch_id=f"test-{uuid.uuid4().hex}",
        )
        viewer = complete_launch(db.session, launch).viewer
        db.session.commit()
        db.session.remove()
    return viewer


def sign_in(person: LtiBrowser, persona: str = "learner", **changes: Any) -> Viewer:
    """``person``'s browser signed in as after a launch as ``persona`` (see
    ``launch_claims`` for ``changes``); the viewer in its session."""
    with person.app.app_context():
        claims = launch_claims(persona, **changes)
        db.session.commit()  # the demo activity's gradebook column, made at the first launch
        db.session.remove()
    viewer = complete(person.app, claims)
    with person.client.session_transaction(base_url=person.tool_base) as stored:
        stored.clear()
        stored[VIEWER_KEY] = viewer.to_session()
        stored.permanent = True
    return viewer


def launched(lti: LtiBrowser, persona: str = "learner", **changes: Any) -> LtiBrowser:
    """A new browser (its own cookies), signed in as after a launch as ``persona``."""
    person = LtiBrowser(lti.app, lti.app.test_client(), lti.tool_base, lti.platform_base)
    sign_in(person, persona, **changes)
    return person


def viewer_of(person: LtiBrowser) -> Viewer:
    with person.client.session_transaction(base_url=person.tool_base) as stored:
        return Viewer.from_session(stored[VIEWER_KEY])


def joined(person: LtiBrowser) -> LtiBrowser:
    """``person`` after joining the training programme themselves (the welcome page's
    choice)."""
    viewer = viewer_of(person)
    with person.app.app_context():
        user = db.session.get(User, viewer.user_id)
        assert user is not None
        set_programme_consent(
            db.session, user, opted_in=True, source="welcome page", team_id=viewer.team_id
        )
        db.session.commit()
        db.session.remove()
    return person


def kudos(manager: LtiBrowser, recipient: LtiBrowser, badge_slug: str, message: str) -> Award:
    """A recognition badge from ``manager`` to ``recipient`` (both signed in, the recipient a
    member of a team the manager governs who joined the programme), as the award form gives
    it; the award, detached."""
    giver, receiver = viewer_of(manager), viewer_of(recipient)
    with manager.app.app_context():
        badge_id = db.session.scalar(select(Badge.id).where(Badge.slug == badge_slug))
        assert badge_id is not None, f"no badge {badge_slug} (the badges fixture?)"
        award = award_kudos(
            db.session,
            manager=db.session.get(User, giver.user_id),
            team_ids=giver.teams_governed or (),
            recipient_id=receiver.user_id or 0,
            badge_id=badge_id,
            message=message,
            request_id=uuid.uuid4().hex,
        )
        db.session.commit()
        db.session.refresh(award)
        db.session.expunge(award)
        db.session.remove()
    return award
