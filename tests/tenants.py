"""A second LMS for tests of what one LMS may do to another's data.

LMS B is registered as a platform of its own (same issuer as the development platform, its
own client id and deployment), as a second Moodle site sharing an issuer would be. The tool's
side of each launch is real: its login answer, its state cookie and signed nonce, its
validation of a signed id_token. The test plays LMS B's side: it takes the nonce and state
from the tool's auth request and signs LMS B's id_token with the development platform's key,
which LMS B's registration trusts (its JWKS URL is the development platform's).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask
from sqlalchemy import select

from core.db import db
from lms.devplatform import service as devplatform
from lms.models import Platform
from lms.registry import add_platform, find_platform
from tests.lti import LtiBrowser, onward_url

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LMS_B_CLIENT_ID = "lms-b"
LMS_B_DEPLOYMENT = "lms-b-deployment"


def register_lms_b(app: Flask) -> int:
    """LMS B's registration (idempotent); its platform id."""
    with app.app_context():
        dev = db.session.scalar(select(Platform).where(Platform.client_id == devplatform.CLIENT_ID))
        assert dev is not None, "the development platform is not registered"
        platform = find_platform(db.session, dev.issuer, LMS_B_CLIENT_ID) or add_platform(
            db.session,
            issuer=dev.issuer,
            client_id=LMS_B_CLIENT_ID,
            deployment_ids=[LMS_B_DEPLOYMENT],
            auth_login_url=dev.auth_login_url,
            auth_token_url=dev.auth_token_url,
            key_set_url=dev.key_set_url,
            name="LMS B",
        )
        db.session.commit()
        platform_id = platform.id
        db.session.remove()
    return platform_id


def launch_from_lms_b(
    app: Flask, lti: LtiBrowser, persona: str, *, sub: str | None = None, context: str = "b-course"
) -> LtiBrowser:
    """``lti``'s browser after a launch from LMS B as ``persona`` (a development-platform
    persona, under its own ``sub`` in LMS B)."""
    register_lms_b(app)
    start = urlsplit(lti.start(persona))
    params = {k: v[0] for k, v in parse_qs(start.query).items()}
    params.update(client_id=LMS_B_CLIENT_ID, lti_deployment_id=LMS_B_DEPLOYMENT)
    login = lti.client.get(f"{start.scheme}://{start.netloc}{start.path}?{urlencode(params)}")
    auth = {k: v[0] for k, v in parse_qs(urlsplit(onward_url(login)).query).items()}
    assert auth["client_id"] == LMS_B_CLIENT_ID
    person = devplatform.PERSONAS[persona]
    with app.app_context():
        setup = devplatform.current_setup(db.session)
        assert setup is not None
        claims = devplatform.launch_claims(setup, person, auth["nonce"])
        claims.update(aud=LMS_B_CLIENT_ID, sub=sub or f"b-{person.sub}")
        claims[CLAIM + "deployment_id"] = LMS_B_DEPLOYMENT
        claims[CLAIM + "context"] = {
            **claims[CLAIM + "context"],
            "id": context,
            "label": context.upper(),
            "title": f"LMS B {context}",
        }
        token = devplatform.sign(db.session, claims)
        db.session.commit()
        db.session.remove()
    launched = lti.client.post(
        auth["redirect_uri"], data={"id_token": token, "state": auth["state"]}
    )
    assert launched.status_code == 303, launched.get_data(as_text=True)[:2000]
    return lti
