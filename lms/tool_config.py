"""pylti1p3 tool configuration read from the database (not a JSON file)."""

from __future__ import annotations

from typing import Any

from pylti1p3.deployment import Deployment as LtiDeployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms.models import Deployment, Platform


class DatabaseToolConf(ToolConfAbstract[Any]):
    """Looks registrations up by issuer and client id, as Canvas's shared issuer requires."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session
        self.platform: Platform | None = None
        self.deployment: Deployment | None = None
        self._found: dict[tuple[str, str | None], Platform | None] = {}

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_platform(self, iss: str, client_id: str | None) -> Platform | None:
        """Looked up once per request, however often pylti1p3 asks."""
        if (iss, client_id) not in self._found:
            self._found[(iss, client_id)] = self._lookup(iss, client_id)
        return self._found[(iss, client_id)]

    def _lookup(self, iss: str, client_id: str | None) -> Platform | None:
        query = select(Platform).where(Platform.issuer == iss)
        if client_id:
            return self._session.scalar(query.where(Platform.client_id == client_id))
        # A login without client_id is allowed when the issuer has exactly one registration.
        candidates = list(self._session.scalars(query.limit(2)))
        return candidates[0] if len(candidates) == 1 else None

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration:
        return self.find_registration_by_params(iss, None, *args, **kwargs)  # type: ignore[arg-type]

    def find_registration_by_params(
        self, iss: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Registration:
        platform = self.find_platform(iss, client_id)
        self.platform = platform
        if platform is None:
            return None  # type: ignore[return-value]
        return (
            Registration()
            .set_issuer(platform.issuer)
            .set_client_id(platform.client_id)
            .set_auth_login_url(platform.auth_login_url)
            .set_auth_token_url(platform.auth_token_url)
            .set_auth_audience(platform.auth_audience)  # type: ignore[arg-type]
            .set_key_set_url(platform.key_set_url)
        )

    def find_deployment(self, iss: str, deployment_id: str) -> LtiDeployment | None:
        return None

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> LtiDeployment | None:
        platform = self.platform or self.find_platform(iss, client_id)
        if platform is None or not isinstance(deployment_id, str):
            return None
        deployment = self._session.scalar(
            select(Deployment).where(
                Deployment.platform_id == platform.id,
                Deployment.deployment_id == deployment_id,
            )
        )
        self.deployment = deployment
        if deployment is None:
            return None
        return LtiDeployment().set_deployment_id(deployment.deployment_id)
