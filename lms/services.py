"""What a validated launch does: provision the person, the course and the link; pick the page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth import STAFF, Role, Viewer
from core.cache import process_cache
from core.db import db, utcnow
from lms import catch_up
from lms.errors import LaunchRefused
from lms.launch import CONTEXT, RESOURCE_LINK, ROLES, ValidatedLaunch
from lms.models import ContextServices, Platform, ResourceLink
from lms.targets import DEEP_LINKING_TARGET
from people.roles import role_from_lti
from people.services import ContextClaims, PersonClaims, led_teams, provision

EXT = "https://purl.imsglobal.org/spec/lti/claim/ext"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"


@dataclass(frozen=True)
class LaunchOutcome:
    viewer: Viewer
    target: str
    resource_link_id: int | None


def _text(value: Any, limit: int = 255) -> str:
    return value[:limit] if isinstance(value, str) else ""


def person_claims(claims: dict[str, Any]) -> PersonClaims:
    ext = claims.get(EXT) if isinstance(claims.get(EXT), dict) else {}
    custom = claims.get("https://purl.imsglobal.org/spec/lti/claim/custom") or {}
    username = ext.get("user_username") or custom.get("username") or None
    return PersonClaims(
        sub=claims["sub"],
        name=_text(claims.get("name")),
        given_name=_text(claims.get("given_name")),
        family_name=_text(claims.get("family_name")),
        email=_text(claims.get("email"), 320) or None,
        lms_username=_text(username) or None,
    )


def context_claims(claims: dict[str, Any]) -> ContextClaims | None:
    context = claims.get(CONTEXT)
    if not context:
        return None
    return ContextClaims(
        id=str(context["id"])[:255],
        title=_text(context.get("title")),
        label=_text(context.get("label")),
    )


def _url(value: Any) -> str | None:
    if isinstance(value, str) and urlsplit(value).scheme in {"http", "https"}:
        return value[:1024]
    return None


def record_context_services(session: Session, launch: ValidatedLaunch, team_id: int) -> None:
    nrps = launch.claims.get(NRPS_CLAIM)
    url = _url(nrps.get("context_memberships_url")) if isinstance(nrps, dict) else None
    if url is None:
        return
    cache = process_cache()
    if cache.get(("services", team_id)) == url:
        return
    services = session.get(ContextServices, team_id)
    if services is None:
        session.add(ContextServices(team_id=team_id, memberships_url=url))
    elif services.memberships_url != url:
        services.memberships_url, services.updated_at = url, utcnow()
    cache.put(("services", team_id), url)


def upsert_resource_link(
    session: Session, launch: ValidatedLaunch, team_id: int | None
) -> tuple[int, str]:
    """Create or update the activity the launch came from; returns its id and target. Each
    process remembers the links it has seen, so a launch of an unchanged activity reads and
    writes nothing (every launch of one activity would otherwise lock the same row)."""
    claim = launch.claims[RESOURCE_LINK]
    lti_id = str(claim["id"])[:255]
    values: dict[str, Any] = {
        "title": _text(claim.get("title")),
        "description": _text(claim.get("description"), 4000),
        "target": _text(launch.custom.get("target")),
    }
    ags = launch.claims.get(AGS_ENDPOINT)
    if isinstance(ags, dict):
        scopes = ags.get("scope")
        values.update(
            ags_lineitem_url=_url(ags.get("lineitem")),
            ags_lineitems_url=_url(ags.get("lineitems")),
            ags_scopes=[s for s in scopes if isinstance(s, str)]
            if isinstance(scopes, list)
            else [],
        )
    cache = process_cache()
    key = ("link", launch.deployment.id, lti_id)
    known = cache.get(key)
    if known is not None and known[1] == (values, team_id):
        return known[0], values["target"]
    link = session.scalar(
        select(ResourceLink).where(
            ResourceLink.deployment_id == launch.deployment.id, ResourceLink.lti_id == lti_id
        )
    )
    if link is None:
        link = ResourceLink(
            platform_id=launch.platform.id, deployment_id=launch.deployment.id, lti_id=lti_id
        )
        session.add(link)
    changes = dict(values, team_id=team_id if team_id is not None else link.team_id)
    # A launch without AGS keeps the endpoints an earlier launch gave.
    for name in ("ags_lineitem_url", "ags_lineitems_url"):
        if name in changes and changes[name] is None:
            changes[name] = getattr(link, name)
    if link.id is None or any(getattr(link, name) != value for name, value in changes.items()):
        for name, value in changes.items():
            setattr(link, name, value)
        link.updated_at = utcnow()
    session.flush()
    cache.put(key, (link.id, (values, team_id)))
    return link.id, values["target"]


def _graded_activity(claims: dict[str, Any]) -> bool:
    """Whether the launch comes from an activity with its own gradebook column (as
    ``lms.catch_up`` judges the link it records)."""
    ags = claims.get(AGS_ENDPOINT)
    return isinstance(ags, dict) and _url(ags.get("lineitem")) is not None


def complete_launch(session: Session, launch: ValidatedLaunch) -> LaunchOutcome:
    """Provision everything the launch names. Flushes; the caller commits once."""
    roles = launch.claims[ROLES]
    lms_role = role_from_lti(
        roles, launch.custom, trust_role_parameter=launch.deployment.trust_role_parameter
    )
    user_id = team_id = None
    role = Role.GUEST
    led: tuple[int, ...] = ()
    if not launch.is_anonymous:
        user_id, membership = provision(
            session,
            platform_id=launch.platform.id,
            deployment_id=launch.deployment.id,
            person=person_claims(launch.claims),
            context=context_claims(launch.claims),
            lti_roles=roles,
            lms_role=lms_role,
        )
        if membership is not None:
            team_id = membership.team_id
            role = membership.role
            record_context_services(session, launch, team_id)
        else:
            role = lms_role
        led = led_teams(session, user_id, launch.deployment.id)
        if led and role is Role.LEARNER:  # the roster names them a team's manager
            role = Role.MANAGER
    if launch.is_deep_linking:
        if role not in STAFF:
            raise LaunchRefused(
                "Only teachers and administrators can add this tool's activities to a course.",
                status=403,
                title="You cannot add activities here",
                hint="Ask your course's teacher to add the activity.",
            )
        target, link_id = DEEP_LINKING_TARGET, None
    else:
        link_id, target = upsert_resource_link(session, launch, team_id)
        if user_id is not None and target and _graded_activity(launch.claims):
            # A result made before this graded activity was opened (e.g. a course finished
            # from a plain launch) is owed to its column: nothing else would send it.
            catch_up.on_launch(
                session,
                user_id=user_id,
                platform_id=launch.platform.id,
                link_id=link_id,
                target=target,
            )
    viewer = Viewer(
        user_id=user_id,
        role=role,
        platform_id=launch.platform.id,
        deployment_id=launch.deployment.id,
        team_id=team_id,
        launch_id=launch.launch_id,
        resource_link_id=link_id,
        led_team_ids=led,
    )
    return LaunchOutcome(viewer=viewer, target=target, resource_link_id=link_id)


CANVAS_ISSUERS = {
    "https://canvas.instructure.com",
    "https://canvas.beta.instructure.com",
    "https://canvas.test.instructure.com",
}


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in {"http", "https"} and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def frame_origins_of(issuer: str, auth_login_url: str, extra: str) -> set[str]:
    origins = {o for o in (_origin(issuer), _origin(auth_login_url)) if o}
    if issuer in CANVAS_ISSUERS:
        # Canvas's issuer is shared; the course page lives on the institution's subdomain.
        origins.add("https://*.instructure.com")
    origins.update(o for o in extra.split() if _origin(o.replace("*.", "")))
    return origins


def platform_origins() -> set[str]:
    """Every origin allowed to frame the tool: the registered platforms' sites."""
    rows = db.session.execute(
        select(Platform.issuer, Platform.auth_login_url, Platform.frame_origins)
    )
    origins: set[str] = set()
    for issuer, login_url, extra in rows:
        origins |= frame_origins_of(issuer, login_url, extra or "")
    return origins
