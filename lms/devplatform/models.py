"""The development platform's own records (the platform side, not the tool's)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class DevPlatformSetup(Base):
    """Where the development platform and the tool it launches live (one row)."""

    __tablename__ = "dev_platform_setup"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    platform_base_url: Mapped[str] = mapped_column(String(1024))
    tool_base_url: Mapped[str] = mapped_column(String(1024))


class DevLaunchRequest(Base):
    """A launch the platform started; its id is the ``lti_message_hint``, usable once
    (as Moodle's is)."""

    __tablename__ = "dev_platform_launches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    persona: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column()
