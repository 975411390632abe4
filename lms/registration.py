"""LTI Dynamic Registration: an administrator pastes one URL into the LMS; the tool reads the
platform's OpenID configuration, registers itself, and stores the platform and deployment.

The URL carries a signed, expiring key, so only someone an administrator gave it to can make
the tool register a platform."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from lms.canvas import DESCRIPTION, SCOPES, TITLE
from lms.models import Deployment, Platform
from lms.registry import RegistryError, add_deployment, add_platform, find_platform

KEY_SALT = "lti-dynamic-registration"
KEY_MAX_AGE = 7 * 24 * 3600
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TIMEOUT = 10

log = logging.getLogger(__name__)

START_AGAIN = "then start the registration again from the LMS."
NEW_LINK_HINT = (
    "Ask the tool's administrator for a new registration URL (the LMS page in the tool, or "
    "flask lms registration-url on its server), paste it into the LMS, " + START_AGAIN
)
# The names platforms give themselves (product_family_code), as people know them.
PRODUCTS = {
    "moodle": "Moodle",
    "canvas": "Canvas",
    "desire2learn": "Brightspace",
    "d2l": "Brightspace",
    "sakai": "Sakai",
    "blackboard": "Blackboard",
}


class RegistrationRefused(Exception):
    """Why the registration failed, and what the administrator can do about it."""

    def __init__(self, message: str, hint: str = NEW_LINK_HINT, lms_answer: str = "") -> None:
        super().__init__(message)
        self.hint = hint
        self.lms_answer = lms_answer  # what the LMS answered, for the log


def registration_key(secret: str) -> str:
    return URLSafeTimedSerializer(secret, salt=KEY_SALT).dumps("register")


def check_registration_key(secret: str, key: str) -> None:
    try:
        URLSafeTimedSerializer(secret, salt=KEY_SALT).loads(key, max_age=KEY_MAX_AGE)
    except SignatureExpired as error:
        raise RegistrationRefused("This registration link has expired.") from error
    except BadSignature as error:
        raise RegistrationRefused("This registration link is not valid for this tool.") from error


def _http_url(value: Any, name: str) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in {"http", "https"}:
        raise RegistrationRefused(
            f"The LMS's configuration has no valid {name}.",
            hint="Check that the LMS offers LTI 1.3 Dynamic Registration, " + START_AGAIN,
        )
    return value


def platform_origin(config_url: str) -> str | None:
    """The origin of the LMS that opened the registration (scheme://host[:port]), from the
    ``openid_configuration`` URL it passed; None when that is no http(s) URL."""
    parts = urlsplit(config_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    return f"{parts.scheme}://{_host_and_port(config_url)}"


def _host_and_port(url: str) -> str:
    # As Moodle compares them (host, and ":port" when the URL names one); lower case, no
    # user info.
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6
    return f"{host}:{parts.port}" if parts.port else host


def tool_domain(launch_url: str) -> str:
    """The ``domain`` of the tool's registration: its launch URL's host, with the port when the
    URL has one (Moodle refuses a domain without it: ``domain_targetlinkuri_mismatch``)."""
    return _host_and_port(launch_url)


def platform_name(config: dict[str, Any]) -> str:
    code = str((config.get(PLATFORM_CONFIGURATION) or {}).get("product_family_code", ""))
    return PRODUCTS.get(code.lower(), "The LMS")


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
            f"Could not read the LMS's configuration at {url}: {error}",
            hint=(
                "The tool's server reads it itself: check that the tool's server can reach "
                f"{urlsplit(url).netloc} (firewall, proxy, TLS certificate), " + START_AGAIN
            ),
        ) from error
    if not isinstance(config, dict):
        raise RegistrationRefused(
            "The LMS's configuration is not a JSON object.",
            hint="Check that the LMS offers LTI 1.3 Dynamic Registration, " + START_AGAIN,
        )
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
            "domain": tool_domain(urls["launch"]),
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


def register_from_lms(
    session: Session,
    urls: dict[str, str],
    secret: str,
    key: str,
    config_url: str,
    token: str | None,
) -> Registered:
    """The registration an LMS opened with the administrator's ``key``. A refusal is logged
    here, with what the LMS answered: the LMS shows the tool's page in its own dialog, and the
    person reading it is seldom the one who reads the tool's log."""
    try:
        check_registration_key(secret, key)
        return register_with_platform(session, urls, config_url, token)
    except (RegistrationRefused, RegistryError) as refusal:
        answer = getattr(refusal, "lms_answer", "")
        log.warning(
            "dynamic registration from %s refused: %s%s",
            platform_origin(config_url) or repr(config_url[:200]),
            refusal,
            f" (the LMS answered {answer!r})" if answer else "",
        )
        raise


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
    registration = tool_registration(urls, config)
    try:
        response = requests.post(
            config["registration_endpoint"],
            timeout=TIMEOUT,
            json=registration,
            headers=headers,
        )
    except requests.RequestException as error:
        raise RegistrationRefused(
            f"{platform_name(config)} could not be reached to register: {error}",
            hint=(
                f"Check that the tool's server can reach {config['registration_endpoint']}, "
                + START_AGAIN
            ),
        ) from error
    if not response.ok:
        raise explain_refusal(response.status_code, response.text, config, registration)
    try:
        answer = response.json()
        client_id = str(answer["client_id"])
        deployment_id = str(answer[TOOL_CONFIGURATION]["deployment_id"])
    except (ValueError, KeyError, TypeError) as error:
        raise RegistrationRefused(
            f"{platform_name(config)}'s answer has no client_id and deployment_id.",
            hint="Check in the LMS whether the tool was registered anyway, " + START_AGAIN,
        ) from error
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


def _error_code(body: str) -> str:
    """What the platform said went wrong: Moodle answers with the bare code as text, others
    with an OAuth-style JSON ``{"error": ...}``."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body.strip()
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        return parsed["error"]
    return body.strip()


def explain_refusal(
    status: int, body: str, config: dict[str, Any], registration: dict[str, Any]
) -> RegistrationRefused:
    """The platform's refusal, in words that name its cause and what to do."""
    name = platform_name(config)
    code = _error_code(body)
    tool = registration[TOOL_CONFIGURATION]
    if code == "domain_targetlinkuri_mismatch":
        expected = _host_and_port(tool["target_link_uri"]).removeprefix("www.")
        return RegistrationRefused(
            f"{name} refused the domain {tool['domain']}: it expected {expected}, the host "
            f"and port of the tool's launch URL {tool['target_link_uri']}.",
            hint=(
                "The tool's public address (PUBLIC_BASE_URL) must be the one the LMS and "
                "learners use, port included; correct it on the tool's server, " + START_AGAIN
            ),
            lms_answer=f"HTTP {status}: {body[:200]}",
        )
    if status in {401, 403} or code in {"invalid_token", "unauthorized"}:
        return RegistrationRefused(
            f"{name} did not accept the registration token it gave the tool (HTTP {status}).",
            hint=(
                "A registration token works once and for a short time: start the "
                "registration again from the LMS."
            ),
            lms_answer=f"HTTP {status}: {body[:200]}",
        )
    detail = code[:300] or "no reason given"
    return RegistrationRefused(
        f"{name} refused the registration (HTTP {status}): {detail}",
        hint=(
            f"The reason above is {name}'s own; its administration log may say more. Correct "
            "what it names, " + START_AGAIN
        ),
        lms_answer=f"HTTP {status}: {body[:200]}",
    )
