"""LTI Dynamic Registration: an administrator pastes one URL into the LMS; the tool reads the
platform's OpenID configuration, registers itself, and stores the platform and deployment.

The URL carries a signed, expiring key, so only someone an administrator gave it to can make
the tool register a platform."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from lms.canvas import DESCRIPTION, SCOPES, TITLE
from lms.models import Deployment, Platform
from lms.registry import add_deployment, add_platform, find_platform

KEY_SALT = "lti-dynamic-registration"
KEY_MAX_AGE = 7 * 24 * 3600
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TIMEOUT = 10


class RegistrationRefused(Exception):
    pass


def registration_key(secret: str) -> str:
    return URLSafeTimedSerializer(secret, salt=KEY_SALT).dumps("register")


def check_registration_key(secret: str, key: str) -> None:
    try:
        URLSafeTimedSerializer(secret, salt=KEY_SALT).loads(key, max_age=KEY_MAX_AGE)
    except SignatureExpired as error:
        raise RegistrationRefused(
            "This registration link has expired; ask for a new one (flask lms registration-url)."
        ) from error
    except BadSignature as error:
        raise RegistrationRefused("This registration link is not valid for this tool.") from error


def _http_url(value: Any, name: str) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in {"http", "https"}:
        raise RegistrationRefused(f"The LMS's configuration has no valid {name}.")
    return value


def fetch_platform_configuration(url: str, token: str | None) -> dict[str, Any]:
    _http_url(url, "openid_configuration URL")
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    try:
        response = requests.get(url, headers=headers, timeout=TIMEOUT)
        response.raise_for_status()
        config = response.json()
    except (requests.RequestException, ValueError) as error:
        raise RegistrationRefused(
            f"Could not read the LMS's configuration at {url}: {error}"
        ) from error
    if not isinstance(config, dict):
        raise RegistrationRefused("The LMS's configuration is not a JSON object.")
    for name in (
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "registration_endpoint",
    ):
        _http_url(config.get(name), name)
    return config


def tool_registration(urls: dict[str, str], config: dict[str, Any]) -> dict[str, Any]:
    supported = set(config.get("scopes_supported") or SCOPES)
    host = urlsplit(urls["launch"]).hostname
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls["login"],
        "redirect_uris": [urls["launch"]],
        "client_name": TITLE,
        "jwks_uri": urls["jwks"],
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(s for s in SCOPES if s in supported),
        TOOL_CONFIGURATION: {
            "domain": host,
            "description": DESCRIPTION,
            "target_link_uri": urls["launch"],
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": [
                {
                    "type": "LtiDeepLinkingRequest",
                    "target_link_uri": urls["launch"],
                    "label": TITLE,
                },
                {
                    "type": "LtiResourceLinkRequest",
                    "target_link_uri": urls["launch"],
                    "label": TITLE,
                },
            ],
        },
    }


@dataclass
class Registered:
    platform: Platform
    deployment: Deployment
    product: str


def register_with_platform(
    session: Session, urls: dict[str, str], config_url: str, token: str | None
) -> Registered:
    config = fetch_platform_configuration(config_url, token)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    try:
        response = requests.post(
            config["registration_endpoint"],
            timeout=TIMEOUT,
            json=tool_registration(urls, config),
            headers=headers,
        )
    except requests.RequestException as error:
        raise RegistrationRefused(f"The LMS could not be reached to register: {error}") from error
    if not response.ok:
        raise RegistrationRefused(
            f"The LMS refused the registration (HTTP {response.status_code}): {response.text[:300]}"
        )
    try:
        answer = response.json()
        client_id = str(answer["client_id"])
        deployment_id = str(answer[TOOL_CONFIGURATION]["deployment_id"])
    except (ValueError, KeyError, TypeError) as error:
        raise RegistrationRefused("The LMS's answer has no client_id and deployment_id.") from error
    issuer = config["issuer"]
    platform = find_platform(session, issuer, client_id)
    product = str((config.get(PLATFORM_CONFIGURATION) or {}).get("product_family_code", ""))
    if platform is None:
        platform = add_platform(
            session,
            issuer=issuer,
            client_id=client_id,
            deployment_ids=[deployment_id],
            auth_login_url=config["authorization_endpoint"],
            auth_token_url=config["token_endpoint"],
            key_set_url=config["jwks_uri"],
            auth_audience=config.get("authorization_server"),
            name=f"{product or 'LMS'} at {urlsplit(issuer).netloc}",
        )
        deployment = platform.deployments[0]
    else:
        deployment = next(
            (d for d in platform.deployments if d.deployment_id == deployment_id), None
        ) or add_deployment(session, platform, deployment_id)
    return Registered(platform=platform, deployment=deployment, product=product)
