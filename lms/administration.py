"""Who may change which LMS registration from the administration page, and the changes.

An administrator's authority is the deployment they launched through (``core.auth``): the
LMS vouches for their role there and nowhere else. Hence:

* their own **platform** (the LMS registration: its URLs, keys and frame origins) may be
  edited, disabled or removed only while it has no other deployment. A platform with several
  deployments is shared with other tenants (a Canvas sub-account, another Moodle tool type):
  a change would alter their launches too, so it is made on the server (``flask lms
  platform …``) by the tool's operator. Another platform is not found (404).
* **deployments**: any administrator of a platform may add one to it (the platform signs
  every launch through it, so nothing is trusted that was not already); only their own may be
  renamed, given ``role=manager`` trust, disabled or removed. Another deployment of the same
  platform belongs to another tenant (403).
* **another LMS** may be registered (as the dynamic-registration URL this page shows already
  allows); it is then managed by its own administrators, from their launches.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from lms.forms import NewDeploymentForm, NewPlatformForm, PlatformForm, lines
from lms.models import Deployment, Platform
from lms.registry import PlatformDetails, add_deployment, add_platform, update_platform


class NotYours(Exception):
    """The administrator may see it but not change it (403), with the reason to show."""


def own_platform(session: Session, platform_id: int) -> Platform | None:
    return session.get(Platform, platform_id)


def others_sharing(platform: Platform, deployment_id: int) -> list[Deployment]:
    """The platform's deployments other than the administrator's."""
    return [d for d in platform.deployments if d.id != deployment_id]


def check_platform_change(platform: Platform, deployment_id: int) -> None:
    shared = others_sharing(platform, deployment_id)
    if shared:
        names = ", ".join(d.deployment_id for d in shared)
        raise NotYours(
            f"This LMS registration is shared with {len(shared)} other deployment"
            f"{'s' if len(shared) != 1 else ''} ({names}): a change would change their "
            "launches too. Ask the tool's operator to make it with flask lms platform on "
            "the server."
        )


def deployment_of(platform: Platform, row_id: int) -> Deployment | None:
    """One of the platform's deployments, by its row id; None for another platform's."""
    return next((d for d in platform.deployments if d.id == row_id), None)


def check_deployment_change(deployment: Deployment, deployment_id: int) -> None:
    if deployment.id != deployment_id:
        raise NotYours(
            f"Deployment {deployment.deployment_id} is another tenant's: only an "
            "administrator who launches through it may change it."
        )


def platform_form_values(form: PlatformForm) -> PlatformDetails:
    return {
        "name": form.name.data or "",
        "auth_login_url": form.auth_login_url.data or "",
        "auth_token_url": form.auth_token_url.data or "",
        "key_set_url": form.key_set_url.data or "",
        "auth_audience": form.auth_audience.data or None,
        "frame_origins": lines(form.frame_origins.data),
    }


def edit_platform(session: Session, platform: Platform, form: PlatformForm) -> Platform:
    return update_platform(session, platform, **platform_form_values(form))


def register_platform(session: Session, form: NewPlatformForm) -> Platform:
    return add_platform(
        session,
        issuer=form.issuer.data or "",
        client_id=form.client_id.data or "",
        deployment_ids=lines(form.deployment_ids.data),
        **platform_form_values(form),
    )


def new_deployment(session: Session, platform: Platform, form: NewDeploymentForm) -> Deployment:
    return add_deployment(
        session,
        platform,
        (form.deployment_id.data or "").strip(),
        name=(form.name.data or "").strip(),
        trust_role_parameter=bool(form.trust_role_parameter.data),
    )
