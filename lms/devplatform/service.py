"""The development platform's logic: personas, registration with the tool, the OIDC auth
response and signed id_tokens. Plain functions; the views only translate HTTP."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.db import db, utcnow
from lms import keys
from lms.devplatform.cookies import origin_of, other_site_name
from lms.devplatform.models import (
    DevLaunchRequest,
    DevLineItem,
    DevPlatformSetup,
    DevResourceLink,
)
from lms.registry import add_deployment, add_platform, find_platform

CLIENT_ID = "cx-academy-dev-tool"
DEPLOYMENT_ID = "dev-deployment-1"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
HINT_LIFETIME = timedelta(minutes=10)
ID_TOKEN_LIFETIME = 60  # seconds, as Moodle
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
STORAGE_TARGET = "_parent"


@dataclass(frozen=True)
class Persona:
    key: str
    sub: str
    given_name: str
    family_name: str
    roles: tuple[str, ...]
    blurb: str

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def email(self) -> str:
        return f"{self.given_name.lower()}.{self.family_name.lower()}@example.com"


PERSONAS = {
    p.key: p
    for p in (
        Persona(
            "learner",
            "dev-learner-1",
            "Lena",
            "Learner",
            (LIS + "membership#Learner",),
            "A contact-centre agent taking the CX quality programme.",
        ),
        Persona(
            "manager",
            "dev-manager-1",
            "Marco",
            "Manager",
            (LIS + "membership#Mentor",),
            "A team lead who recognises the team's progress.",
        ),
        Persona(
            "trainer",
            "dev-trainer-1",
            "Tara",
            "Trainer",
            (LIS + "membership#Instructor",),
            "Runs the course, grades conversations, reads cohort results.",
        ),
        Persona(
            "administrator",
            "dev-admin-1",
            "Ada",
            "Admin",
            (LIS + "system/person#Administrator", LIS + "institution/person#Administrator"),
            "Registers LMS platforms and deployments.",
        ),
    )
}
DEMO_CONTEXT = {
    "id": "demo-course-1",
    "label": "CXQ101",
    "title": "Customer Experience Quality (demo course)",
    "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
}
DEMO_RESOURCE_LINK = {"id": "demo-link-1", "title": "CX Quality Academy"}
AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
DEMO_ROSTER = [
    {
        "status": "Active",
        "roles": ["Learner"],
        "user_id": f"dev-agent-{n}",
        "name": name,
        "given_name": name.split()[0],
        "family_name": name.split()[1],
        "email": f"{name.split()[0].lower()}@example.com",
    }
    for n, name in enumerate(
        [
            "Amira Haddad",
            "Ben Okafor",
            "Chloe Martin",
            "Diego Alvarez",
            "Esther Kim",
            "Farid Nasser",
        ],
        start=1,
    )
]


class AuthRequestError(ValueError):
    pass


def issuer_for(platform_base_url: str) -> str:
    return platform_base_url.rstrip("/") + "/dev-platform"


def current_setup(session: Session) -> DevPlatformSetup | None:
    return session.scalar(select(DevPlatformSetup).order_by(DevPlatformSetup.id).limit(1))


def platform_other_site() -> list[str]:
    """The course page's origin under its other loopback name (``cookies.other_site_name``),
    which may frame the tool too: so a newcomer can put the tool in a cross-site frame."""
    setup = current_setup(db.session)
    other = setup and other_site_name(setup.platform_base_url)
    return [origin_of(other)] if other else []


def register(session: Session, platform_base_url: str, tool_base_url: str) -> DevPlatformSetup:
    """Register the development platform with the tool (idempotent for the same URLs)."""
    platform_base_url = platform_base_url.rstrip("/")
    tool_base_url = tool_base_url.rstrip("/")
    issuer = issuer_for(platform_base_url)
    keys.active_key(session, keys.DEV_PLATFORM)  # first: it commits on its own
    platform = find_platform(session, issuer, CLIENT_ID)
    if platform is None:
        platform = add_platform(
            session,
            issuer=issuer,
            client_id=CLIENT_ID,
            deployment_ids=[DEPLOYMENT_ID],
            auth_login_url=issuer + "/auth",
            auth_token_url=issuer + "/token",
            key_set_url=issuer + "/jwks",
            name="Development platform",
        )
    elif not any(d.deployment_id == DEPLOYMENT_ID for d in platform.deployments):
        add_deployment(session, platform, DEPLOYMENT_ID)
    setup = current_setup(session)
    if setup is None:
        setup = DevPlatformSetup(platform_id=platform.id, platform_base_url="", tool_base_url="")
        session.add(setup)
    setup.platform_id = platform.id
    setup.platform_base_url = platform_base_url
    setup.tool_base_url = tool_base_url
    demo_lineitem(session)
    if not setup.roster:
        setup.roster = list(DEMO_ROSTER)
    session.flush()
    return setup


def demo_lineitem(session: Session) -> DevLineItem:
    """The gradebook column Moodle creates with the demo activity."""
    item = session.scalar(
        select(DevLineItem)
        .where(DevLineItem.resource_link_id == DEMO_RESOURCE_LINK["id"])
        .order_by(DevLineItem.id)
    )
    if item is None:
        item = DevLineItem(
            resource_link_id=DEMO_RESOURCE_LINK["id"],
            label=DEMO_RESOURCE_LINK["title"],
            score_maximum=100.0,
        )
        session.add(item)
        session.flush()
    return item


def members(setup: DevPlatformSetup) -> list[dict[str, Any]]:
    """The course's NRPS members: the personas, then the rest of the roster."""
    short = {
        "membership#Learner": "Learner",
        "membership#Instructor": "Instructor",
        "membership#Mentor": "Mentor",
    }
    people = []
    for persona in PERSONAS.values():
        roles = [short[r[len(LIS) :]] for r in persona.roles if r[len(LIS) :] in short]
        if roles:
            people.append(
                {
                    "status": "Active",
                    "roles": roles,
                    "user_id": persona.sub,
                    "name": persona.name,
                    "given_name": persona.given_name,
                    "family_name": persona.family_name,
                    "email": persona.email,
                }
            )
    return people + list(setup.roster or [])


def load_demo(app: Flask) -> str:
    base = app.config.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000"
    keys.active_key(db.session, keys.TOOL)
    setup = register(db.session, base, base)
    db.session.commit()
    return f"Development platform registered at {issuer_for(setup.platform_base_url)}"


def start_launch(
    session: Session,
    setup: DevPlatformSetup,
    persona: Persona,
    *,
    message_type: str = RESOURCE_LINK_REQUEST,
    link_id: int | None = None,
) -> str:
    """Record a launch and return the tool's login-initiation URL (third-party initiated)."""
    hint = secrets.token_urlsafe(24)
    session.add(
        DevLaunchRequest(id=hint, persona=persona.key, message_type=message_type, link_id=link_id)
    )
    params = {
        "iss": issuer_for(setup.platform_base_url),
        "login_hint": persona.sub,
        "target_link_uri": setup.tool_base_url + "/lms/launch",
        "lti_message_hint": hint,
        "client_id": CLIENT_ID,
        "lti_deployment_id": DEPLOYMENT_ID,
        # LTI platform storage: the course page (the tool frame's parent) keeps data for the
        # tool's login, for browsers that keep no cookie of the tool in the frame.
        "lti_storage_target": STORAGE_TARGET,
    }
    return setup.tool_base_url + "/lms/login?" + urlencode(params)


def authorize(session: Session, setup: DevPlatformSetup, params: dict[str, str]) -> tuple[str, str]:
    """Check an OIDC auth request as a platform must, and answer with (redirect_uri, id_token).

    The message hint works once; the redirect URI must be the tool's registered launch URL."""
    expected = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": CLIENT_ID,
    }
    for name, value in expected.items():
        if params.get(name) != value:
            raise AuthRequestError(f"{name} must be {value!r}.")
    if params.get("redirect_uri") != setup.tool_base_url + "/lms/launch":
        raise AuthRequestError("redirect_uri is not registered for this tool.")
    if not params.get("nonce") or not params.get("state"):
        raise AuthRequestError("nonce and state are required.")
    hint = params.get("lti_message_hint", "")
    claimed = session.scalar(
        update(DevLaunchRequest)
        .where(
            DevLaunchRequest.id == hint,
            DevLaunchRequest.used_at.is_(None),
            DevLaunchRequest.created_at > utcnow() - HINT_LIFETIME,
        )
        .values(used_at=utcnow())
        .returning(DevLaunchRequest.id)
    )
    if claimed is None:
        raise AuthRequestError("lti_message_hint is unknown, expired or already used.")
    request = session.get(DevLaunchRequest, hint)
    assert request is not None
    persona = PERSONAS[request.persona]
    if params.get("login_hint") != persona.sub:
        raise AuthRequestError("login_hint does not match the launch.")
    if request.message_type == DEEP_LINKING_REQUEST:
        claims = deep_linking_claims(setup, persona, params["nonce"])
    elif request.link_id is not None:
        link = session.get(DevResourceLink, request.link_id)
        assert link is not None
        claims = launch_claims(setup, persona, params["nonce"], lineitem_id=link.lineitem_id)
        claims[CLAIM + "resource_link"] = {"id": f"dev-link-{link.id}", "title": link.title}
        claims[CLAIM + "custom"] = dict(link.custom)
        if link.lineitem_id is None:
            claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"].pop("lineitem", None)
    else:
        claims = launch_claims(
            setup, persona, params["nonce"], lineitem_id=demo_lineitem(session).id
        )
    return params["redirect_uri"], sign(session, claims)


def deep_linking_claims(setup: DevPlatformSetup, persona: Persona, nonce: str) -> dict[str, Any]:
    """Moodle's deep-linking request: no resource link, the settings claim, return URL."""
    claims = launch_claims(setup, persona, nonce)
    del claims[CLAIM + "resource_link"]
    claims[CLAIM + "message_type"] = DEEP_LINKING_REQUEST
    claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"].pop("lineitem", None)
    claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
        "accept_types": ["ltiResourceLink"],
        "accept_presentation_document_targets": ["frame", "iframe", "window"],
        "accept_copy_advice": False,
        "accept_multiple": True,
        "accept_unsigned": False,
        "auto_create": False,
        "can_confirm": False,
        "deep_link_return_url": issuer_for(setup.platform_base_url) + "/deep-link-return",
        "title": "Add CX Quality Academy activities",
        "data": "dev-platform-dl",
    }
    return claims


class ToolSignatureError(ValueError):
    pass


def verify_tool_jwt(
    setup: DevPlatformSetup, token: str, *, audience: str, required: tuple[str, ...]
) -> dict[str, Any]:
    """Check a JWT the tool signed, with the tool's published JWKS fetched over HTTP, as a
    platform does for client assertions and deep-linking responses."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        jwks = requests.get(setup.tool_base_url + "/lms/jwks", timeout=5).json()
        jwk = next(k for k in jwks["keys"] if k.get("kid") == kid)
        return jwt.decode(
            token,
            jwt.PyJWK.from_dict(jwk).key,
            algorithms=["RS256"],
            audience=audience,
            options={"require": list(required)},
        )
    except (
        jwt.PyJWTError,
        StopIteration,
        KeyError,
        ValueError,
        requests.RequestException,
    ) as error:
        raise ToolSignatureError(str(error)) from error


def accept_deep_linking_response(
    session: Session, setup: DevPlatformSetup, token: str
) -> list[DevResourceLink]:
    """Verify the tool's signed answer (against its JWKS, over HTTP) and create the links."""
    try:
        claims = verify_tool_jwt(
            setup,
            token,
            audience=issuer_for(setup.platform_base_url),
            required=("exp", "iat", "nonce"),
        )
    except ToolSignatureError as error:
        raise AuthRequestError(f"The deep-linking response did not verify: {error}") from error
    if claims.get("iss") != CLIENT_ID:
        raise AuthRequestError("The deep-linking response is not from the registered tool.")
    if claims.get(CLAIM + "message_type") != "LtiDeepLinkingResponse":
        raise AuthRequestError("Not a deep-linking response.")
    if claims.get(CLAIM + "deployment_id") != DEPLOYMENT_ID:
        raise AuthRequestError("Unknown deployment.")
    if claims.get("https://purl.imsglobal.org/spec/lti-dl/claim/data") != "dev-platform-dl":
        raise AuthRequestError("The data claim was not echoed back.")
    created = []
    for item in claims.get("https://purl.imsglobal.org/spec/lti-dl/claim/content_items", []):
        if not isinstance(item, dict) or item.get("type") != "ltiResourceLink":
            continue
        if not str(item.get("url", "")).startswith(setup.tool_base_url):
            raise AuthRequestError("A link points outside the tool's domain.")
        lineitem_id = None
        if isinstance(item.get("lineItem"), dict):
            line = item["lineItem"]
            lineitem = DevLineItem(
                label=str(line.get("label") or item.get("title")),
                score_maximum=float(line.get("scoreMaximum", 100)),
                resource_id=str(line.get("resourceId", "")),
                tag=str(line.get("tag", "")),
            )
            session.add(lineitem)
            session.flush()
            lineitem_id = lineitem.id
        link = DevResourceLink(
            title=str(item.get("title", "Activity"))[:255],
            url=str(item["url"]),
            custom=dict(item.get("custom") or {}),
            lineitem_id=lineitem_id,
        )
        session.add(link)
        session.flush()
        if lineitem_id is not None:
            session.get(DevLineItem, lineitem_id).resource_link_id = f"dev-link-{link.id}"
        created.append(link)
    return created


def placed_links(session: Session) -> list[DevResourceLink]:
    return list(session.scalars(select(DevResourceLink).order_by(DevResourceLink.id)))


def launch_claims(
    setup: DevPlatformSetup,
    persona: Persona,
    nonce: str,
    now: int | None = None,
    lineitem_id: int | None = None,
) -> dict[str, Any]:
    now = int(time.time()) if now is None else now
    issuer = issuer_for(setup.platform_base_url)
    ags: dict[str, Any] = {
        "scope": [
            AGS + "lineitem",
            AGS + "lineitem.readonly",
            AGS + "result.readonly",
            AGS + "score",
        ],
        "lineitems": issuer + "/lineitems?type_id=1",
    }
    if lineitem_id is not None:
        ags["lineitem"] = f"{issuer}/lineitems/{lineitem_id}/lineitem?type_id=1"
    return {
        "iss": issuer_for(setup.platform_base_url),
        "aud": CLIENT_ID,
        "sub": persona.sub,
        "iat": now,
        "exp": now + ID_TOKEN_LIFETIME,
        "nonce": nonce,
        "name": persona.name,
        "given_name": persona.given_name,
        "family_name": persona.family_name,
        "email": persona.email,
        CLAIM + "message_type": "LtiResourceLinkRequest",
        CLAIM + "version": "1.3.0",
        CLAIM + "deployment_id": DEPLOYMENT_ID,
        CLAIM + "target_link_uri": setup.tool_base_url + "/lms/launch",
        CLAIM + "roles": list(persona.roles),
        CLAIM + "context": dict(DEMO_CONTEXT),
        CLAIM + "resource_link": dict(DEMO_RESOURCE_LINK),
        CLAIM + "launch_presentation": {
            "document_target": "iframe",
            "return_url": setup.platform_base_url + "/dev-platform/",
            "locale": "en",
        },
        CLAIM + "tool_platform": {
            "guid": "cx-academy-dev-platform",
            "name": "Development platform",
            "product_family_code": "cx-academy-dev",
        },
        CLAIM + "custom": {},
        "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": ags,
        "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
            "context_memberships_url": issuer + "/memberships",
            "service_versions": ["2.0"],
        },
    }


def sign(session: Session, claims: dict[str, Any], *, kid: str | None = None) -> str:
    key = keys.active_key(session, keys.DEV_PLATFORM)
    private = keys.load_private_key(key.kid, key.private_pem)
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid or key.kid})


def platform_jwks(session: Session) -> dict[str, Any]:
    return keys.jwks(session, keys.DEV_PLATFORM)


def _moodle_domain(url_or_domain: str) -> str:
    # Moodle's lti_get_domain_from_url: what follows the scheme up to the first "/", so the
    # port stays; a leading "www." does not count.
    rest = url_or_domain.split("://", 1)[-1]
    return rest.split("/", 1)[0].lower().removeprefix("www.")


def moodle_registration_refusal(tool_configuration: dict[str, Any]) -> str | None:
    """The code Moodle 4.5 answers a registration whose ``domain`` it refuses (its
    registration_helper checks it against ``target_link_uri``, port included), or None."""
    domain = tool_configuration.get("domain")
    if not isinstance(domain, str) or not domain:
        return "missing_domain"
    target = tool_configuration.get("target_link_uri") or "https://" + domain
    if not isinstance(target, str) or _moodle_domain(domain) != _moodle_domain(target):
        return "domain_targetlinkuri_mismatch"
    return None
