"""Drive the real LTI 1.3 flow between the development platform and the tool.

The browser is Flask's test client; every hop is a real request to the real endpoint:
platform start -> tool login (GET or POST) -> cookie check -> platform OIDC auth ->
signed id_token POSTed to the tool's launch URL. For attack tests the id_token can be
re-signed after the platform issued it (other key, other kid, changed claims).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
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
    history: list[str] = field(default_factory=list)

    # -- hops -------------------------------------------------------------------------------
    def start(self, persona: str = "learner") -> str:
        response = self.client.get(f"{self.platform_base}/dev-platform/start/{persona}")
        assert response.status_code == 302, response.status_code
        return response.headers["Location"]

    def login(self, login_url: str, method: str = "GET") -> TestResponse:
        """Login initiation; follows the cookie check the way its script would."""
        if method == "POST":
            parts = urlsplit(login_url)
            data = {k: v[0] for k, v in parse_qs(parts.query).items()}
            response = self.client.post(f"{parts.scheme}://{parts.netloc}{parts.path}", data=data)
        else:
            response = self.client.get(login_url)
        if response.status_code != 200 or "lti1p3_cookie_check" not in response.text:
            return response
        continue_url = html.unescape(
            re.search(r'id="new-window" href="([^"]+)"', response.text).group(1)
        )
        self.history.append(continue_url)
        return self.client.get(self.tool_base + continue_url)

    def authorize(self, auth_redirect: TestResponse) -> PendingLaunch:
        assert auth_redirect.status_code == 302, page_text(auth_redirect)
        location = auth_redirect.headers["Location"]
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
            headers={"kid": kid, **(headers or {})},
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
