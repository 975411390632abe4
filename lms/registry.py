"""Registering LMS platforms and deployments: plain functions used by the CLI, the
administration page and the demo, so each makes the same checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NotRequired, TypedDict, Unpack
from urllib.parse import urlsplit

from blinker import Namespace
from flask import current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import added, utcnow
from lms.models import Deployment, Platform

# Sent (with the session and ``platform_id``) just before a platform is removed.
platform_removing = Namespace().signal("platform-removing")


class RegistryError(ValueError):
    pass


class PlatformDetails(TypedDict):
    """A registration besides the issuer and client id that name it: what an administrator may
    change (the CLI's ``--name``, ``--auth-login-url``… and the administration page's fields)."""

    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    name: NotRequired[str]
    auth_audience: NotRequired[str | None]
    frame_origins: NotRequired[Sequence[str]]


def _check_url(name: str, url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise RegistryError(f"{name} must be an absolute http(s) URL, got {url!r}.")
    if parts.scheme == "http" and not _http_allowed():
        # Over http:// anyone on the path can swap the LMS's keys or read its access tokens.
        raise RegistryError(
            f"{name} is {url}: production needs https:// for an LMS's URLs. Set "
            "LMS_ALLOW_HTTP=1 only if this LMS is reached over a network you trust."
        )
    return url


def _http_allowed() -> bool:
    settings = current_app.extensions.get("settings") if has_app_context() else None
    return settings is None or not settings.is_production or settings.LMS_ALLOW_HTTP


def find_platform(session: Session, issuer: str, client_id: str) -> Platform | None:
    return session.scalar(
        select(Platform).where(Platform.issuer == issuer, Platform.client_id == client_id)
    )


def get_platform(session: Session, issuer: str, client_id: str) -> Platform:
    platform = find_platform(session, issuer, client_id)
    if platform is None:
        raise RegistryError(f"No platform with issuer {issuer} and client id {client_id}.")
    return platform


def add_platform(
    session: Session,
    *,
    issuer: str,
    client_id: str,
    deployment_ids: Sequence[str],
    **details: Unpack[PlatformDetails],
) -> Platform:
    if not issuer.strip() or not client_id.strip():
        raise RegistryError("Issuer and client id must not be empty.")
    if find_platform(session, issuer, client_id) is not None:
        raise RegistryError(
            f"A platform with issuer {issuer} and client id {client_id} is already registered."
        )
    if not deployment_ids:
        raise RegistryError("Give at least one --deployment-id.")
    platform = Platform(
        issuer=issuer.strip(),
        client_id=client_id.strip(),
        name=details.get("name", ""),
        **_endpoints(details),
    )
    session.add(platform)
    for deployment_id in dict.fromkeys(deployment_ids):
        platform.deployments.append(Deployment(deployment_id=deployment_id))
    session.flush()
    return platform


def _endpoints(details: PlatformDetails) -> dict[str, str | None]:
    """A platform's URLs, each checked (absolute, https in production); the names in the
    messages are the CLI's options, which the administration page's fields show too."""
    return {
        "auth_login_url": _check_url("--auth-login-url", details["auth_login_url"]),
        "auth_token_url": _check_url("--auth-token-url", details["auth_token_url"]),
        "key_set_url": _check_url("--key-set-url", details["key_set_url"]),
        "auth_audience": (details.get("auth_audience") or "").strip() or None,
        "frame_origins": " ".join(
            _check_url("--frame-origin", o.replace("*.", "")) and o.strip()
            for o in details.get("frame_origins", ())
            if o.strip()
        ),
    }


def update_platform(
    session: Session,
    platform: Platform,
    **details: Unpack[PlatformDetails],
) -> Platform:
    """Change a platform's name and URLs (issuer and client id name the registration: a
    different pair is another registration). Checked as ``add_platform`` checks them."""
    values = _endpoints(details)
    platform.name = details.get("name", "").strip()
    for field, value in values.items():
        setattr(platform, field, value)
    session.flush()
    return platform


def set_disabled(session: Session, row: Platform | Deployment, disabled: bool) -> None:
    """Pause (or resume) launches through a platform or one deployment; nothing is deleted."""
    row.disabled_at = (row.disabled_at or utcnow()) if disabled else None
    session.flush()


def update_deployment(
    session: Session, deployment: Deployment, *, name: str, trust_role_parameter: bool
) -> Deployment:
    deployment.name = name.strip()
    deployment.trust_role_parameter = trust_role_parameter
    session.flush()
    return deployment


def remove_deployment(session: Session, deployment: Deployment) -> None:
    """Remove one deployment and, through cascades, its courses' teams and records. The last
    deployment of a platform is not removed this way: remove the platform instead."""
    remaining = session.scalar(
        select(func.count())
        .select_from(Deployment)
        .where(Deployment.platform_id == deployment.platform_id)
    )
    if (remaining or 0) <= 1:
        raise RegistryError("This is the platform's only deployment: remove the platform instead.")
    session.delete(deployment)
    session.flush()


def add_deployment(
    session: Session,
    platform: Platform,
    deployment_id: str,
    *,
    name: str = "",
    trust_role_parameter: bool = False,
) -> Deployment:
    if not deployment_id.strip():
        raise RegistryError("The deployment id must not be empty.")
    existing = session.scalar(
        select(Deployment).where(
            Deployment.platform_id == platform.id, Deployment.deployment_id == deployment_id
        )
    )
    if existing is not None:
        raise RegistryError(f"Deployment {deployment_id} is already registered.")
    return added(
        session,
        Deployment(
            platform=platform,
            deployment_id=deployment_id,
            name=name,
            trust_role_parameter=trust_role_parameter,
        ),
    )


def list_platforms(session: Session) -> list[Platform]:
    return list(session.scalars(select(Platform).order_by(Platform.id)))


def remove_platform(session: Session, platform: Platform) -> None:
    """Remove the registration and, through cascades (and the ``platform_removing`` signal's
    receivers, for tables without foreign keys), everything recorded under it."""
    platform_removing.send(session, platform_id=platform.id)
    session.delete(platform)
    session.flush()
