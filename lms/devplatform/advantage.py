"""The development platform's LTI Advantage services, behaving as Moodle 4.5 does:
client-credentials tokens checked against the tool's JWKS, AGS line items and scores (409 for a
timestamp not later than the stored one; a score that is not FullyGraded wipes the grade), and
NRPS memberships with short role names and ``Link: rel="next"`` paging."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.db import utcnow
from lms.devplatform.models import (
    DevAccessToken,
    DevFault,
    DevLineItem,
    DevPlatformSetup,
    DevScore,
)
from lms.devplatform.service import CLIENT_ID, ToolSignatureError, verify_tool_jwt

AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SUPPORTED_SCOPES = {
    AGS + "lineitem",
    AGS + "lineitem.readonly",
    AGS + "result.readonly",
    AGS + "score",
    NRPS_SCOPE,
}
TOKEN_LIFETIME = 3600


@dataclass
class ServiceRefusal(Exception):
    status: int
    message: str


def next_fault(session: Session, endpoint: str) -> int | None:
    fault = session.scalar(
        select(DevFault).where(DevFault.endpoint == endpoint).order_by(DevFault.id).limit(1)
    )
    if fault is None:
        return None
    session.delete(fault)
    session.commit()
    return fault.status


def issue_token(
    session: Session, setup: DevPlatformSetup, form: dict[str, str], token_url: str
) -> dict[str, Any]:
    if form.get("grant_type") != "client_credentials":
        raise ServiceRefusal(400, "unsupported_grant_type")
    if form.get("client_assertion_type") != (
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    ):
        raise ServiceRefusal(400, "invalid_request: client_assertion_type")
    assertion = form.get("client_assertion", "")
    try:
        claims = verify_tool_jwt(
            setup, assertion, audience=token_url, required=("exp", "iat", "jti")
        )
    except ToolSignatureError as error:
        raise ServiceRefusal(401, f"invalid_client: {error}") from error
    if claims.get("iss") != CLIENT_ID or claims.get("sub") != CLIENT_ID:
        raise ServiceRefusal(401, "invalid_client: iss/sub")
    # Like Moodle: unknown scopes are dropped silently.
    granted = [s for s in form.get("scope", "").split() if s in SUPPORTED_SCOPES]
    token = secrets.token_urlsafe(24)
    session.add(
        DevAccessToken(
            token=token,
            scopes=" ".join(granted),
            expires_at=utcnow() + timedelta(seconds=TOKEN_LIFETIME),
        )
    )
    session.commit()
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
        "scope": " ".join(granted),
    }


def check_token(session: Session, authorization: str | None, *scopes: str) -> None:
    if not authorization or not authorization.startswith("Bearer "):
        raise ServiceRefusal(401, "missing bearer token")
    token = session.get(DevAccessToken, authorization[len("Bearer ") :])
    if token is None or token.expires_at <= utcnow():
        raise ServiceRefusal(401, "invalid or expired token")
    if not set(scopes) & set(token.scopes.split()):
        raise ServiceRefusal(403, "token lacks the scope")


def lineitem_json(item: DevLineItem, base: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": f"{base}/lineitems/{item.id}/lineitem?type_id=1",
        "label": item.label,
        "scoreMaximum": item.score_maximum,
        "resourceId": item.resource_id,
        "tag": item.tag,
    }
    if item.resource_link_id:
        data["resourceLinkId"] = item.resource_link_id
    return data


def list_lineitems(session: Session, resource_link_id: str | None) -> list[DevLineItem]:
    query = select(DevLineItem).order_by(DevLineItem.id)
    if resource_link_id:
        query = query.where(DevLineItem.resource_link_id == resource_link_id)
    return list(session.scalars(query))


def create_lineitem(session: Session, body: Any) -> DevLineItem:
    if (
        not isinstance(body, dict)
        or not body.get("label")
        or not isinstance(body.get("scoreMaximum"), int | float)
        or body["scoreMaximum"] <= 0
    ):
        raise ServiceRefusal(400, "a line item needs a label and a positive scoreMaximum")
    item = DevLineItem(
        label=str(body["label"]),
        score_maximum=float(body["scoreMaximum"]),
        resource_link_id=body.get("resourceLinkId"),
        resource_id=str(body.get("resourceId", "")),
        tag=str(body.get("tag", "")),
    )
    session.add(item)
    session.commit()
    return item


def _parse_timestamp(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as error:
        raise ServiceRefusal(400, "timestamp is not ISO 8601") from error
    if moment.tzinfo is None:
        raise ServiceRefusal(400, "timestamp needs a time zone")
    return moment


def accept_score(session: Session, lineitem_id: int, body: Any) -> None:
    item = session.get(DevLineItem, lineitem_id)
    if item is None:
        raise ServiceRefusal(404, "no such line item")
    if not isinstance(body, dict):
        raise ServiceRefusal(400, "score must be a JSON object")
    for field in ("userId", "timestamp", "activityProgress", "gradingProgress"):
        if not body.get(field):
            raise ServiceRefusal(400, f"{field} is required")
    timestamp = _parse_timestamp(body["timestamp"])
    user_id = str(body["userId"])
    latest = session.scalar(
        select(DevScore)
        .where(DevScore.lineitem_id == item.id, DevScore.user_id == user_id)
        .order_by(DevScore.timestamp.desc())
        .limit(1)
    )
    if latest is not None and int(timestamp.timestamp()) <= int(latest.timestamp.timestamp()):
        raise ServiceRefusal(409, "a score with a later timestamp exists")
    given = body.get("scoreGiven")
    if given is not None and (body.get("scoreMaximum") in (None, 0)):
        raise ServiceRefusal(400, "scoreMaximum is required with scoreGiven")
    graded = body["gradingProgress"] == "FullyGraded"
    session.add(
        DevScore(
            lineitem_id=item.id,
            user_id=user_id,
            # Moodle keeps a grade only for FullyGraded scores; anything else clears it.
            score_given=float(given) if graded and given is not None else None,
            score_maximum=float(body["scoreMaximum"]) if body.get("scoreMaximum") else None,
            activity_progress=str(body["activityProgress"]),
            grading_progress=str(body["gradingProgress"]),
            comment=str(body.get("comment", "")),
            timestamp=timestamp,
        )
    )
    session.commit()


def gradebook(session: Session) -> list[tuple[DevLineItem, DevScore]]:
    """The current (latest) score per line item and user."""
    rows = session.execute(
        select(DevLineItem, DevScore)
        .join(DevScore, DevScore.lineitem_id == DevLineItem.id)
        .order_by(DevScore.timestamp)
    )
    current: dict[tuple[int, str], tuple[DevLineItem, DevScore]] = {}
    for item, score in rows:
        current[(item.id, score.user_id)] = (item, score)
    return list(current.values())


def memberships_page(
    members: list[dict[str, Any]], start: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    page = members[start : start + limit]
    following = start + limit if start + limit < len(members) else None
    return page, following


def reset_tokens(session: Session) -> None:
    session.execute(delete(DevAccessToken))
