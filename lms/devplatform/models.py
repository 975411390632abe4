"""The development platform's own records (the platform side, not the tool's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow
from people.models import platform_key


class DevPlatformSetup(Base):
    """Where the development platform and the tool it launches live (one row)."""

    __tablename__ = "dev_platform_setup"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = platform_key(indexed=False)
    platform_base_url: Mapped[str] = mapped_column(String(1024))
    tool_base_url: Mapped[str] = mapped_column(String(1024))
    # Course members beyond the four personas, as NRPS returns them (Moodle's shape).
    roster: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")


class DevLaunchRequest(Base):
    """A launch the platform started; its id is the ``lti_message_hint``, usable once
    (as Moodle's is)."""

    __tablename__ = "dev_platform_launches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    persona: Mapped[str] = mapped_column(String(32))
    message_type: Mapped[str] = mapped_column(
        String(64), default="LtiResourceLinkRequest", server_default="LtiResourceLinkRequest"
    )
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("dev_platform_links.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column()


class DevLineItem(Base):
    """A gradebook column of the development platform's demo course."""

    __tablename__ = "dev_platform_lineitems"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_link_id: Mapped[str | None] = mapped_column(String(255))
    label: Mapped[str] = mapped_column(String(255))
    score_maximum: Mapped[float] = mapped_column(Float)
    resource_id: Mapped[str] = mapped_column(String(255), default="")
    tag: Mapped[str] = mapped_column(String(255), default="")


class DevScore(Base):
    """Every score the platform accepted (``current`` marks the gradebook's value)."""

    __tablename__ = "dev_platform_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    lineitem_id: Mapped[int] = mapped_column(
        ForeignKey("dev_platform_lineitems.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(String(255))
    score_given: Mapped[float | None] = mapped_column(Float)
    score_maximum: Mapped[float | None] = mapped_column(Float)
    activity_progress: Mapped[str] = mapped_column(String(32))
    grading_progress: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text, default="")
    timestamp: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class DevAccessToken(Base):
    __tablename__ = "dev_platform_tokens"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    scopes: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column()


class DevFault(Base):
    """Failures the platform plays back on purpose, in order, for fault tests:
    ``endpoint`` is ``token`` or ``scores``; ``status`` the HTTP status to answer."""

    __tablename__ = "dev_platform_faults"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(32))
    status: Mapped[int] = mapped_column()


class DevResourceLink(Base):
    """An activity a trainer added to the demo course through deep linking."""

    __tablename__ = "dev_platform_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(1024))
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lineitem_id: Mapped[int | None] = mapped_column(
        ForeignKey("dev_platform_lineitems.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
