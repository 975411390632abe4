"""Deep linking: a trainer picks our activities in the LMS's own "add activity" flow, and we
answer with a signed LtiDeepLinkingResponse naming them."""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt
from sqlalchemy.orm import Session

from lms import keys
from lms.errors import LaunchRefused
from lms.launch import CLAIM, DEEP_LINKING_SETTINGS, DEPLOYMENT_ID
from lms.storage import DatabaseLaunchDataStorage
from lms.targets import LaunchTarget

RESPONSE_LIFETIME = 600


def request_claims(storage: DatabaseLaunchDataStorage, launch_id: str) -> dict[str, Any]:
    """The deep-linking request this browser launched with (kept until it is answered)."""
    claims = storage.get_value(launch_id) if launch_id else None
    if not isinstance(claims, dict) or DEEP_LINKING_SETTINGS not in claims:
        raise LaunchRefused(
            "This content selection has expired or was already answered.",
            title="Start again from your course",
            hint="In the LMS, choose to add the activity again.",
        )
    return claims


# LMSs whose content-selection dialog takes the answer only inside the dialog's own frame:
# Moodle's return page calls its parent window ("window.processContentItemReturnData is not
# a function" when the answer arrives in a window of its own).
ANSWERED_ONLY_IN_ITS_FRAME = frozenset({"moodle"})
TOOL_PLATFORM = CLAIM + "tool_platform"


def answered_only_in_its_frame(request: dict[str, Any]) -> bool:
    platform = request.get(TOOL_PLATFORM)
    code = platform.get("product_family_code") if isinstance(platform, dict) else None
    return isinstance(code, str) and code.lower() in ANSWERED_ONLY_IN_ITS_FRAME


def content_item(target: LaunchTarget, launch_url: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "ltiResourceLink",
        "title": target.title,
        "text": target.description,
        "url": launch_url,
        "custom": {"target": target.name},
    }
    if target.score_maximum is not None:
        item["lineItem"] = {
            "scoreMaximum": target.score_maximum,
            "label": target.title,
            "resourceId": target.name,
            "tag": "cx-academy",
        }
    return item


def response_jwt(
    session: Session, request: dict[str, Any], client_id: str, items: list[dict[str, Any]]
) -> str:
    settings = request[DEEP_LINKING_SETTINGS]
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": client_id,
        "aud": [request["iss"]],
        "iat": now,
        "exp": now + RESPONSE_LIFETIME,
        "nonce": secrets.token_urlsafe(24),
        CLAIM + "deployment_id": request[DEPLOYMENT_ID],
        CLAIM + "message_type": "LtiDeepLinkingResponse",
        CLAIM + "version": "1.3.0",
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items": items,
    }
    if "data" in settings:
        claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] = settings["data"]
    signing = keys.active_key(session)
    private = keys.load_private_key(signing.kid, signing.private_pem)
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": signing.kid})


def choose(
    targets: list[LaunchTarget], names: list[str], accept_multiple: bool
) -> list[LaunchTarget]:
    by_name = {t.name: t for t in targets}
    chosen = [by_name[n] for n in dict.fromkeys(names) if n in by_name]
    if not chosen:
        raise ValueError("Choose at least one activity.")
    if len(chosen) > 1 and not accept_multiple:
        raise ValueError("This LMS accepts one activity at a time: choose one.")
    return chosen
