"""Registering LMS platforms and deployments: plain functions used by the CLI and the demo."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from blinker import Namespace
from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms.models import Deployment, Platform

# Sent (with the session and ``platform_id``) just before a platform is removed.
platform_removing = Namespace().signal("platform-removing")


class RegistryError(ValueError):
    pass


def _check_url(name: str, url: str) -> str:
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
    auth_login_url: str,
    auth_token_url: str,
    key_set_url: str,
    name: str = "",
    auth_audience: str | None = None,
    frame_origins: Sequence[str] = (),
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
        name=name,
        auth_login_url=_check_url("--auth-login-url", auth_login_url),
        auth_token_url=_check_url("--auth-token-url", auth_token_url),
        key_set_url=_check_url("--key-set-url", key_set_url),
        auth_audience=auth_audience or None,
        frame_origins=" ".join(
            _check_url("--frame-origin", o.replace("*.", "")) and o for o in frame_origins
        ),
    )
    session.add(platform)
    for deployment_id in dict.fromkeys(deployment_ids):
        platform.deployments.append(Deployment(deployment_id=deployment_id))
    session.flush()
    return platform


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
    deployment = Deployment(
        platform=platform,
        deployment_id=deployment_id,
        name=name,
        trust_role_parameter=trust_role_parameter,
    )
    session.add(deployment)
    session.flush()
    return deployment


def list_platforms(session: Session) -> list[Platform]:
    return list(session.scalars(select(Platform).order_by(Platform.id)))


def remove_platform(session: Session, platform: Platform) -> None:
    """Remove the registration and, through cascades (and the ``platform_removing`` signal's
    receivers, for tables without foreign keys), everything recorded under it."""
    platform_removing.send(session, platform_id=platform.id)
    session.delete(platform)
    session.flush()
