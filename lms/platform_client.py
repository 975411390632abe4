"""Calls from the tool to an LMS's LTI Advantage services: OAuth2 client-credentials tokens
(cached in the database, shared by all workers), AGS line items and scores, NRPS pages.

Everything here is plain code over a ``requests.Session`` and a SQLAlchemy session; failures
are reported as ``ServiceError`` carrying whether a retry can help.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import jwt
import requests
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import utcnow
from lms import keys
from lms.models import AccessToken, Platform

AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
SCOPE_SCORE = AGS + "score"
SCOPE_LINEITEM = AGS + "lineitem"
SCOPE_LINEITEM_READONLY = AGS + "lineitem.readonly"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
NRPS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
TIMEOUT = (5, 15)  # connect, read
TOKEN_MARGIN = timedelta(seconds=60)
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass
class ServiceError(Exception):
    """A call to the LMS failed. ``retryable`` says whether trying later can help."""

    message: str
    status: int | None = None
    retryable: bool = True
    retry_after: float | None = None
    token_rejected: bool = False

    def __str__(self) -> str:
        return self.message


def scores_url(lineitem_url: str) -> str:
    """``…/lineitem?type_id=1`` → ``…/lineitem/scores?type_id=1`` (never the query + /scores)."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def error_from_response(response: requests.Response, what: str) -> ServiceError:
    status = response.status_code
    body = response.text[:500]
    return ServiceError(
        f"{what}: HTTP {status} {body}".strip(),
        status=status,
        retryable=status in RETRYABLE_STATUSES or status >= 500 or status == 401,
        retry_after=_retry_after(response),
        token_rejected=status == 401,
    )


class PlatformClient:
    def __init__(
        self,
        session: Session,
        http: requests.Session | None = None,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        self.session = session
        self.http = http or requests.Session()
        self.timeout = timeout
        # This process's copy of the tokens it used: the database is asked once per token
        # lifetime, not once per call.
        self._tokens: dict[tuple[int, str], tuple[str, datetime]] = {}

    @property
    def longest_send(self) -> timedelta:
        """About the longest a score delivery can take: a token request and the score's POST,
        each up to the connect and read timeouts."""
        return timedelta(seconds=2 * sum(self.timeout))

    # -- tokens ------------------------------------------------------------------------------
    @staticmethod
    def _scope_key(scopes: list[str]) -> str:
        return hashlib.sha256(" ".join(sorted(scopes)).encode()).hexdigest()

    def access_token(self, platform: Platform, scopes: list[str]) -> str:
        key = self._scope_key(scopes)
        remembered = self._tokens.get((platform.id, key))
        if remembered is not None and remembered[1] - TOKEN_MARGIN > utcnow():
            return remembered[0]
        cached = self.session.get(AccessToken, (platform.id, key))
        if cached is not None and cached.expires_at - TOKEN_MARGIN > utcnow():
            self._tokens[platform.id, key] = cached.token, cached.expires_at
            return cached.token
        token, lifetime = self._request_token(platform, scopes)
        expires_at = utcnow() + timedelta(seconds=lifetime)
        self._tokens[platform.id, key] = token, expires_at
        if cached is None:
            self.session.add(
                AccessToken(
                    platform_id=platform.id, scope_key=key, token=token, expires_at=expires_at
                )
            )
        else:
            cached.token, cached.expires_at = token, expires_at
        try:
            self.session.commit()
        except IntegrityError:
            # Another worker stored a token for the same scopes meanwhile; both are valid.
            self.session.rollback()
        return token

    def forget_token(self, platform: Platform, scopes: list[str]) -> None:
        self._tokens.pop((platform.id, self._scope_key(scopes)), None)
        self.session.execute(
            delete(AccessToken).where(
                AccessToken.platform_id == platform.id,
                AccessToken.scope_key == self._scope_key(scopes),
            )
        )
        self.session.commit()

    def client_assertion(self, platform: Platform) -> str:
        signing = keys.active_key(self.session)
        now = int(time.time())
        claims = {
            "iss": platform.client_id,
            "sub": platform.client_id,
            "aud": platform.auth_audience or platform.auth_token_url,
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }
        private = keys.load_private_key(signing.kid, signing.private_pem)
        return jwt.encode(claims, private, algorithm="RS256", headers={"kid": signing.kid})

    def _request_token(self, platform: Platform, scopes: list[str]) -> tuple[str, int]:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": self.client_assertion(platform),
            "scope": " ".join(scopes),
        }
        try:
            response = self.http.post(
                platform.auth_token_url,
                data=form,
                timeout=self.timeout,
                headers={"Accept": "application/json"},
            )
        except requests.RequestException as error:
            raise ServiceError(f"token endpoint unreachable: {error}") from error
        if not response.ok:
            error = error_from_response(response, "token endpoint refused")
            error.token_rejected = False
            raise error
        try:
            data = response.json()
            return str(data["access_token"]), int(data.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as error:
            raise ServiceError("token endpoint answered without an access_token") from error

    # -- requests ----------------------------------------------------------------------------
    def call(
        self,
        platform: Platform,
        scopes: list[str],
        method: str,
        url: str,
        *,
        what: str,
        accept: str = "application/json",
        json_body: Any = None,
        content_type: str | None = None,
    ) -> requests.Response:
        headers = {
            "Authorization": "Bearer " + self.access_token(platform, scopes),
            "Accept": accept,
        }
        if content_type:
            headers["Content-Type"] = content_type
        try:
            response = self.http.request(
                method,
                url,
                headers=headers,
                timeout=self.timeout,
                data=None if json_body is None else json.dumps(json_body),
            )
        except requests.Timeout as error:
            raise ServiceError(f"{what}: timed out") from error
        except requests.RequestException as error:
            raise ServiceError(f"{what}: {error}") from error
        if response.status_code == 401:
            self.forget_token(platform, scopes)
        return response

    def post_score(
        self, platform: Platform, lineitem_url: str, score: dict[str, Any]
    ) -> requests.Response:
        return self.call(
            platform,
            [SCOPE_SCORE],
            "POST",
            scores_url(lineitem_url),
            what="score refused",
            json_body=score,
            content_type=SCORE_TYPE,
        )

    def find_or_create_lineitem(
        self,
        platform: Platform,
        lineitems_url: str,
        scopes: list[str],
        *,
        resource_link_id: str,
        label: str,
        score_maximum: float,
    ) -> str | None:
        """The line item of a resource link: looked up, or created when the LMS allows it."""
        read_scope = SCOPE_LINEITEM if SCOPE_LINEITEM in scopes else SCOPE_LINEITEM_READONLY
        if read_scope not in scopes:
            return None
        separator = "&" if urlsplit(lineitems_url).query else "?"
        query = urlencode({"resource_link_id": resource_link_id})
        response = self.call(
            platform,
            [read_scope],
            "GET",
            lineitems_url + separator + query,
            what="line items refused",
            accept=LINEITEMS_TYPE,
        )
        if not response.ok:
            raise error_from_response(response, "line items refused")
        for item in response.json() or []:
            if isinstance(item, dict) and item.get("resourceLinkId") == resource_link_id:
                return str(item["id"])
        if SCOPE_LINEITEM not in scopes:
            return None
        created = self.call(
            platform,
            [SCOPE_LINEITEM],
            "POST",
            lineitems_url,
            what="line item not created",
            accept=LINEITEM_TYPE,
            content_type=LINEITEM_TYPE,
            json_body={
                "scoreMaximum": score_maximum,
                "label": label,
                "resourceLinkId": resource_link_id,
                "tag": "cx-academy",
            },
        )
        if not created.ok:
            raise error_from_response(created, "line item not created")
        return str(created.json()["id"])
