"""Drive the real LTI 1.3 flow between the development platform and the tool.

The browser is Flask's test client; every hop is a real request to the real endpoint:
platform start -> tool login (GET or POST; inside a frame its answer is the cookie check page,
whose script goes on) -> platform OIDC auth -> signed id_token POSTed to the tool's launch URL.
For attack tests the id_token can be re-signed after the platform issued it (other key, other
kid, changed claims).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from core.db import db
from lms.devplatform import service as devplatform

# Bookkeeping written on purpose whatever a request's outcome: the public cache of platform
# keys, and the rate limiter's count of attempts (a refused attempt still counts).
NOT_LAUNCH_DATA = {"lti_platform_key_sets", "rate_limit_windows"}

Claims = dict[str, Any]


def form_fields(page: str) -> tuple[str, dict[str, str]]:
    action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', page).group(1))
    fields = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }
    return action, fields


ONWARD_LINK = re.compile(r'id="continue-here" href="([^"]+)"')
NEW_WINDOW_LINK = re.compile(r'id="new-window" href="([^"]+)"')


def onward_url(login_answer: Any) -> str:
    """Where a login sends the browser: a redirect's target, or the platform address the
    cookie check page's script opens once it sees the browser keeps cookies (a Flask test
    response or a requests response)."""
    if login_answer.status_code == 302:
        return login_answer.headers["Location"]
    found = ONWARD_LINK.search(login_answer.text)
    assert login_answer.status_code == 200 and found, login_answer.text[:500]
    return html.unescape(found[1])


def new_window_url(check_page: Any) -> str:
    """The cookie check page's way forward when the browser blocks cookies in frames."""
    found = NEW_WINDOW_LINK.search(check_page.text)
    assert found, check_page.text[:500]
    return html.unescape(found[1])


def page_text(response: TestResponse) -> str:
    """Visible text of a page, whitespace collapsed: what a person reads."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


@dataclass
class PendingLaunch:
    """The platform answered the auth request: this is what it would POST to the tool."""

    action: str
    fields: dict[str, str]
    auth_params: dict[str, str]

    @property
    def claims(self) -> Claims:
        return jwt.decode(self.fields["id_token"], options={"verify_signature": False})

    @property
    def header(self) -> dict[str, Any]:
        return jwt.get_unverified_header(self.fields["id_token"])


@dataclass
class LtiBrowser:
    app: Flask
    client: FlaskClient
    tool_base: str
    platform_base: str

    # -- hops -------------------------------------------------------------------------------
    def start(self, persona: str = "learner") -> str:
        response = self.client.get(f"{self.platform_base}/dev-platform/start/{persona}")
        assert response.status_code == 302, response.status_code
        return response.headers["Location"]

    def login(self, login_url: str, method: str = "GET") -> TestResponse:
        """Login initiation: a redirect to the platform, or inside a frame (the default, as
        browsers send no Sec-Fetch-Dest here) the cookie check page that goes on to it."""
        if method == "POST":
            parts = urlsplit(login_url)
            data = {k: v[0] for k, v in parse_qs(parts.query).items()}
            return self.client.post(f"{parts.scheme}://{parts.netloc}{parts.path}", data=data)
        return self.client.get(login_url)

    def authorize(self, login_answer: TestResponse) -> PendingLaunch:
        location = onward_url(login_answer)
        params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        response = self.client.get(location)
        assert response.status_code == 200, page_text(response)
        action, fields = form_fields(response.text)
        return PendingLaunch(action=action, fields=fields, auth_params=params)

    def post_launch(self, pending: PendingLaunch, **overrides: str | None) -> TestResponse:
        data = {**pending.fields, **overrides}
        return self.client.post(
            pending.action, data={k: v for k, v in data.items() if v is not None}
        )

    # -- whole flows ------------------------------------------------------------------------
    def pending(self, persona: str = "learner", method: str = "GET") -> PendingLaunch:
        return self.authorize(self.login(self.start(persona), method=method))

    def launch(self, persona: str = "learner", method: str = "GET") -> TestResponse:
        return self.post_launch(self.pending(persona, method=method))

    def launch_and_follow(self, persona: str = "learner") -> TestResponse:
        response = self.launch(persona)
        assert response.status_code == 303, page_text(response)
        return self.client.get(self.tool_base + response.headers["Location"])

    # -- tampering --------------------------------------------------------------------------
    def resign(
        self,
        pending: PendingLaunch,
        change: Callable[[Claims], Claims | None] | None = None,
        *,
        key: rsa.RSAPrivateKey | str | None = None,
        kid: str | None = None,
        algorithm: str = "RS256",
        headers: dict[str, Any] | None = None,
    ) -> PendingLaunch:
        """The same launch with its id_token changed and signed again (by default with the
        platform's real key, so only the change is under test)."""
        claims = pending.claims
        if change is not None:
            claims = change(claims) or claims
        with self.app.app_context():
            signing = devplatform.keys.active_key(db.session, devplatform.keys.DEV_PLATFORM)
            real_key = devplatform.keys.load_private_key(signing.kid, signing.private_pem)
            kid = kid or signing.kid
        token = jwt.encode(
            claims,
            key if key is not None else real_key,
            algorithm=algorithm,
            # A header given as None is left out (e.g. headers={"kid": None}: no kid at all).
            headers={
                name: value
                for name, value in {"kid": kid, **(headers or {})}.items()
                if value is not None
            },
        )
        return PendingLaunch(
            pending.action, {**pending.fields, "id_token": token}, pending.auth_params
        )


def row_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        counts = {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables
            if table.name not in NOT_LAUNCH_DATA
        }
        db.session.remove()
    return counts


def csrf_token_for(app: Flask, client: FlaskClient) -> str:
    """A valid CSRF token for ``client``'s session, as a page with a form would have given,
    so a test can reach the view's own checks (roles, tenancy) behind CSRF protection."""
    from flask import session
    from flask_wtf.csrf import generate_csrf

    base = app.config["PUBLIC_BASE_URL"]
    with (
        client.session_transaction(base_url=base) as stored,
        app.test_request_context(base_url=base),
    ):
        session.update(stored)
        token = generate_csrf()
        stored.update(session)
    return token
