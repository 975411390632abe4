"""pylti1p3 tool configuration read from the database (not a JSON file).

Registrations are read on every login and launch but change only when an administrator
registers or removes an LMS, so each process keeps a snapshot of the ones it has seen
(``core.cache``, ``LTI_REGISTRY_CACHE_SECONDS``). A change made in this process clears the
snapshot at once (a flush touching a platform or deployment); other processes see it within
that time. Unknown registrations are never cached, so a newly registered LMS works at once
everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pylti1p3.deployment import Deployment as LtiDeployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.cache import forget_when_changed, process_cache
from lms.models import Deployment, Platform


@dataclass(frozen=True)
class PlatformRef:
    """The columns of a registration a launch needs, as plain values safe to share."""

    id: int
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    auth_audience: str | None
    key_set_url: str

    @classmethod
    def of(cls, row: Platform) -> PlatformRef:
        return cls(
            row.id,
            row.issuer,
            row.client_id,
            row.auth_login_url,
            row.auth_token_url,
            row.auth_audience,
            row.key_set_url,
        )


@dataclass(frozen=True)
class DeploymentRef:
    id: int
    platform_id: int
    deployment_id: str
    trust_role_parameter: bool

    @classmethod
    def of(cls, row: Deployment) -> DeploymentRef:
        return cls(row.id, row.platform_id, row.deployment_id, row.trust_role_parameter)


forget_when_changed(Platform, Deployment)


class DatabaseToolConf(ToolConfAbstract[Any]):
    """Looks registrations up by issuer and client id, as Canvas's shared issuer requires."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session
        self.platform: PlatformRef | None = None
        self.deployment: DeploymentRef | None = None
        self._found: dict[tuple[str, str | None], PlatformRef | None] = {}

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_platform(self, iss: str, client_id: str | None) -> PlatformRef | None:
        """Looked up once per request, however often pylti1p3 asks."""
        if (iss, client_id) not in self._found:
            cache = process_cache()
            found = cache.get(("platform", iss, client_id))
            if found is None:
                row = self._lookup(iss, client_id)
                found = PlatformRef.of(row) if row is not None else None
                if found is not None:
                    cache.put(("platform", iss, client_id), found)
            self._found[(iss, client_id)] = found
        return self._found[(iss, client_id)]

    def _lookup(self, iss: str, client_id: str | None) -> Platform | None:
        query = select(Platform).where(Platform.issuer == iss, Platform.disabled_at.is_(None))
        if client_id:
            return self._session.scalar(query.where(Platform.client_id == client_id))
        # A login without client_id is allowed when the issuer has exactly one registration.
        candidates = list(self._session.scalars(query.limit(2)))
        return candidates[0] if len(candidates) == 1 else None

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration:
        return self.find_registration_by_params(iss, None, *args, **kwargs)

    def find_registration_by_params(
        self, iss: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> Registration:
        platform = self.find_platform(iss, client_id)
        self.platform = platform
        if platform is None:
            # pylti1p3 annotates a Registration, but its callers test for None: that is how a
            # tool configuration says the platform is unknown.
            return None  # type: ignore[return-value]
        registration = (
            Registration()
            .set_issuer(platform.issuer)
            .set_client_id(platform.client_id)
            .set_auth_login_url(platform.auth_login_url)
            .set_auth_token_url(platform.auth_token_url)
            .set_key_set_url(platform.key_set_url)
        )
        if platform.auth_audience:  # otherwise the token URL is the audience
            registration.set_auth_audience(platform.auth_audience)
        return registration

    def find_deployment(self, iss: str, deployment_id: str) -> LtiDeployment | None:
        return None

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> LtiDeployment | None:
        platform = self.platform or self.find_platform(iss, client_id)
        if platform is None or not isinstance(deployment_id, str):
            return None
        cache = process_cache()
        deployment = cache.get(("deployment", platform.id, deployment_id))
        if deployment is None:
            row = self._session.scalar(
                select(Deployment).where(
                    Deployment.platform_id == platform.id,
                    Deployment.deployment_id == deployment_id,
                    Deployment.disabled_at.is_(None),
                )
            )
            deployment = DeploymentRef.of(row) if row is not None else None
            if deployment is not None:
                cache.put(("deployment", platform.id, deployment_id), deployment)
        self.deployment = deployment
        if deployment is None:
            return None
        return LtiDeployment().set_deployment_id(deployment.deployment_id)
