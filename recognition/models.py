"""Badges, awards and the audit log of every award and revocation.

A badge is built in (``platform_id`` None: every LMS sees it) or added by a trainer of one LMS
platform (seen only there). An award belongs to the recipient's platform. Automatic awards
carry ``automatic_key`` (badge and user), unique, so a rule awards a badge once however often
it is evaluated; a manager's award carries the form's ``request_id``, unique, so a double
click awards once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from people.models import User, platform_key

KUDOS = "kudos"
BADGE_KINDS = ("course", "skill", "calibration", KUDOS, "custom")


class Badge(Base):
    __tablename__ = "badges"

    id: Mapped[int] = mapped_column(primary_key=True)
    # In public URLs (badge class, achievement, image): counting through row ids would list
    # every LMS's own badge names.
    public_id: Mapped[str] = mapped_column(
        String(36), unique=True, default=lambda: str(uuid.uuid4())
    )
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    platform_id: Mapped[int | None] = platform_key()
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    criteria: Mapped[str] = mapped_column(Text)
    # An automatic rule from recognition.rules, or None for badges only a manager awards.
    rule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    manager_awardable: Mapped[bool] = mapped_column(default=False)
    image: Mapped[bytes] = mapped_column(LargeBinary)
    image_type: Mapped[str] = mapped_column(String(20))  # image/svg+xml | image/png
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column()


class Award(Base):
    __tablename__ = "badge_awards"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Public identifier: in credential and verification URLs (the row id is not guessable).
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    badge_id: Mapped[int] = mapped_column(ForeignKey("badges.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    platform_id: Mapped[int] = platform_key()
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    awarded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    message: Mapped[str] = mapped_column(Text, default="")
    automatic_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    request_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Salt for the hashed recipient identity in the credentials.
    salt: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str] = mapped_column(Text, default="")
    # The reason stays in the audit log; the credential shows it only when the person who
    # withdrew the award chose to publish it.
    revoked_reason_public: Mapped[bool] = mapped_column(default=False)
    hidden_from_wall: Mapped[bool] = mapped_column(default=False)

    badge: Mapped[Badge] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    awarded_by: Mapped[User | None] = relationship(foreign_keys=[awarded_by_id])

    @property
    def automatic(self) -> bool:
        return self.awarded_by_id is None and self.automatic_key is not None


class AwardEvent(Base):
    """Who awarded, revoked, hid or showed an award, when, and why. Only ever appended."""

    __tablename__ = "badge_award_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    award_id: Mapped[int] = mapped_column(
        ForeignKey("badge_awards.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(20))  # awarded | revoked | hidden | shown
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
