"""LTI registry (platforms, deployments), the tool's signing keys, protocol state and links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from people.models import PlatformRow, platform_key


class Platform(Base):
    """One LMS registration. Canvas shares one issuer across institutions, so a registration
    is identified by issuer *and* client id."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(1024))
    auth_token_url: Mapped[str] = mapped_column(String(1024))
    auth_audience: Mapped[str | None] = mapped_column(String(1024))
    key_set_url: Mapped[str] = mapped_column(String(1024))
    # Sites allowed to show the tool in an iframe besides the issuer's and login URL's origins
    # (space-separated), e.g. a Canvas institution's own domain.
    frame_origins: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A disabled registration is kept with everything recorded under it, but no login or
    # launch through it is accepted (an administrator pauses an LMS without losing its data).
    disabled_at: Mapped[datetime | None] = mapped_column()

    deployments: Mapped[list[Deployment]] = relationship(
        back_populates="platform", cascade="all, delete-orphan", order_by="Deployment.id"
    )

    @property
    def display_name(self) -> str:
        return self.name or self.issuer


class Deployment(PlatformRow, Base):
    """A place in the LMS where the tool is installed (Moodle: the tool type id)."""

    __tablename__ = "lti_deployments"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)

    deployment_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    # When set, a ``role=manager`` custom parameter is honoured from any launch of this
    # deployment, because the administrator controls where it is placed.
    trust_role_parameter: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # As a platform's: kept, but its launches are refused.
    disabled_at: Mapped[datetime | None] = mapped_column()

    platform: Mapped[Platform] = relationship(back_populates="deployments")


class PlatformKeySet(Base):
    """Cache of a platform's public JWKS (public data: not part of any launch's writes)."""

    __tablename__ = "lti_platform_key_sets"

    platform_id: Mapped[int] = platform_key(primary_key=True)
    jwks: Mapped[dict[str, Any]] = mapped_column(JSON)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class SigningKey(Base):
    """An RSA key pair we sign with. ``purpose`` is ``tool`` (our JWKS) or ``dev-platform``.

    The newest unretired key of a purpose signs; retired keys stay published until
    ``retired_at`` + the grace period, so tokens signed with them still verify."""

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(32), index=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column()


class LtiStateEntry(Base):
    """pylti1p3's key-value storage (used nonces, launch data), shared by every process."""

    __tablename__ = "lti_state"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ResourceLink(PlatformRow, Base):
    """An activity placed in an LMS course; ``target`` says which page of ours it opens."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (UniqueConstraint("deployment_id", "lti_id"),)

    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("lti_deployments.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    lti_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    target: Mapped[str] = mapped_column(String(255), default="")
    # Assignment and Grade Services endpoints from the latest launch of this link.
    ags_lineitem_url: Mapped[str | None] = mapped_column(String(1024))
    ags_lineitems_url: Mapped[str | None] = mapped_column(String(1024))
    ags_scopes: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContextServices(Base):
    """LTI service endpoints of a team's LMS course (names and roles), from its launches."""

    __tablename__ = "lti_context_services"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    memberships_url: Mapped[str | None] = mapped_column(String(1024))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sync_at: Mapped[datetime | None] = mapped_column()
    last_sync_report: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AccessToken(Base):
    """An OAuth2 access token from a platform's token endpoint, shared by every worker until
    shortly before it expires (Moodle's last an hour)."""

    __tablename__ = "lti_access_tokens"

    platform_id: Mapped[int] = platform_key(primary_key=True)
    scope_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column()


class GradeDelivery(PlatformRow, Base):
    """One score on its way to an LMS gradebook: the outbox row written in the same
    transaction as the result, sent by ``flask lms worker``."""

    __tablename__ = "lti_grade_deliveries"
    __table_args__ = (
        Index("ix_lti_grade_deliveries_due", "status", "next_attempt_at"),
        Index("ix_lti_grade_deliveries_pair", "resource_link_id", "user_id"),
    )

    deployment_id: Mapped[int] = mapped_column(ForeignKey("lti_deployments.id", ondelete="CASCADE"))
    resource_link_id: Mapped[int] = mapped_column(
        ForeignKey("lti_resource_links.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    lti_user_id: Mapped[str] = mapped_column(String(255))
    # Idempotency key of the result that produced the score (e.g. "courses:completion:42").
    source: Mapped[str | None] = mapped_column(String(255), unique=True)
    score_given: Mapped[float] = mapped_column(Float)
    score_maximum: Mapped[float] = mapped_column(Float)
    comment: Mapped[str] = mapped_column(Text, default="")
    activity_progress: Mapped[str] = mapped_column(String(32))
    grading_progress: Mapped[str] = mapped_column(String(32))
    # Fixed when the score is recorded, so a resend carries the same timestamp and the LMS
    # can recognise it (Moodle answers 409 to a timestamp not later than the stored one).
    timestamp: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column()
    last_status: Mapped[int | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
