"""The Canvas developer-key JSON ("Paste JSON" in Canvas's LTI key form)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
SCOPES = [
    AGS + "lineitem",
    AGS + "lineitem.readonly",
    AGS + "result.readonly",
    AGS + "score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
]
TITLE = "CX Quality Academy"
DESCRIPTION = (
    "Opt-in customer-experience quality training, rubric scoring of agent conversations, "
    "recognition badges and training-impact reports."
)


def canvas_developer_key(urls: dict[str, str]) -> dict[str, Any]:
    course_navigation = {
        "placement": "course_navigation",
        "message_type": "LtiResourceLinkRequest",
        "target_link_uri": urls["launch"],
        "text": TITLE,
        "enabled": True,
        "default": "enabled",
        "windowTarget": "_self",
    }
    # Teachers add activities (modules, assignments) through our picker: deep linking.
    pickers = [
        {
            "placement": placement,
            "message_type": "LtiDeepLinkingRequest",
            "target_link_uri": urls["launch"],
            "text": TITLE,
            "selection_width": 900,
            "selection_height": 700,
        }
        for placement in ("link_selection", "assignment_selection")
    ]
    return {
        "title": TITLE,
        "description": DESCRIPTION,
        "oidc_initiation_url": urls["login"],
        "target_link_uri": urls["launch"],
        "public_jwk_url": urls["jwks"],
        "scopes": SCOPES,
        "extensions": [
            {
                "domain": urlsplit(urls["launch"]).hostname,
                "tool_id": "cx-quality-academy",
                "platform": "canvas.instructure.com",
                "privacy_level": "public",
                "settings": {
                    "text": TITLE,
                    "placements": [course_navigation, *pickers],
                },
            }
        ],
        "custom_fields": {},
    }
