"""Users, teams and memberships. Rows carry their LMS platform (and teams their deployment)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, MappedColumn, mapped_column, relationship

from core.auth import Role
from core.db import Base, utcnow
from people.roles import higher


def platform_key(
    *, primary_key: bool = False, indexed: bool = True, sort_order: int = 0
) -> MappedColumn[Any]:
    """The tenant column: the LMS platform a row belongs to, deleted with it. Indexed, as every
    query of a tenant's rows filters on it, unless it leads the primary key (which serves) or
    ``indexed=False`` says a composite index or unique constraint does.

    Here rather than in ``core.db`` because the kernel knows no tenant table; ``people`` is the
    lowest package whose rows have one, and names ``lti_platforms`` by string as it must."""
    return mapped_column(
        ForeignKey("lti_platforms.id", ondelete="CASCADE"),
        primary_key=primary_key,
        index=(indexed and not primary_key) or None,
        sort_order=sort_order,
    )


class PlatformRow:
    """Mixin: a row with its own id that belongs to one LMS platform (tenant). Both columns
    come first in the table, before the class's own (``sort_order``), as they always have."""

    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-1)
    platform_id: Mapped[int] = platform_key(sort_order=-1)


class User(PlatformRow, Base):
    """A person as one LMS platform knows them: ``sub`` is unique per platform only."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform_id", "sub"),)

    sub: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    given_name: Mapped[str] = mapped_column(String(255), default="")
    family_name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    lms_username: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_launch_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the person joined the training programme; None while they have not (or left).
    opted_in_at: Mapped[datetime | None] = mapped_column()

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", foreign_keys="Membership.user_id"
    )

    @property
    def display_name(self) -> str:
        full = " ".join(part for part in (self.given_name, self.family_name) if part)
        return self.name or full or self.lms_username or f"User {self.sub}"


LMS_CONTEXT = "lms_context"
ORGANISATION = "organisation"


class Team(PlatformRow, Base):
    """A group of people in one deployment: the people of one LMS course context
    (``source`` lms_context), or one of the organisation's own teams from its roster
    (``source`` organisation, ``external_id`` the team's name folded to lower case), which
    people join and leave on known dates whatever course they launch from."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("deployment_id", "source", "external_id"),)

    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("lti_deployments.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(32), default="lms_context")
    external_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255), default="")
    label: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # An archived team keeps its history (surveys, past members) but takes no new people.
    archived_at: Mapped[datetime | None] = mapped_column()

    memberships: Mapped[list[Membership]] = relationship(back_populates="team")

    @property
    def from_roster(self) -> bool:
        return self.source == ORGANISATION

    @property
    def display_name(self) -> str:
        return self.title or self.label or f"Course {self.external_id}"


class Membership(Base):
    """A user's place in a team: the role the LMS gave and the role assigned in the tool."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of its own: the unique key starts with it (a roster import wrote each
    # membership into both).
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    lti_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    lms_role: Mapped[str] = mapped_column(String(32), default=Role.GUEST.value)
    assigned_role: Mapped[str | None] = mapped_column(String(32))
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime | None] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # An organisation team's membership has dates: when the person joined, and left (a
    # roster that moves them). An analysis counts a person in the team they were in then.
    joined_on: Mapped[date | None] = mapped_column()
    left_on: Mapped[date | None] = mapped_column()
    # The person manages this organisation team (whether or not it is their own team).
    leads: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship(back_populates="memberships", foreign_keys=[user_id])
    team: Mapped[Team] = relationship(back_populates="memberships")

    @property
    def role(self) -> Role:
        return effective_role(self.lms_role, self.assigned_role)


def effective_role(lms_role: str, assigned_role: str | None) -> Role:
    """The higher of the LMS role and a role assigned in the tool."""
    from_lms = Role(lms_role)
    return higher(from_lms, Role(assigned_role)) if assigned_role else from_lms


class ConsentEvent(Base):
    """One change of a person's choice to take part in the training programme: who, when,
    from where. Never updated or deleted by the tool: it is the record of consent."""

    __tablename__ = "programme_consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    platform_id: Mapped[int] = platform_key()
    opted_in: Mapped[bool] = mapped_column()
    # Where the choice was made: the page, and the LMS course it was launched from.
    source: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    team: Mapped[Team | None] = relationship()


class InCourseContext:
    """Columns of a row that belongs to one LMS course context: its platform and deployment
    (tenancy: every query is scoped by them) and the course's team."""

    platform_id: Mapped[int] = platform_key()
    deployment_id: Mapped[int] = mapped_column(ForeignKey("lti_deployments.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )


class ErasureRequest(PlatformRow, Base):
    """A person asked for their data to be deleted. Kept after the erasure (without the
    person) as the record that it was done, and when."""

    __tablename__ = "erasure_requests"

    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column()
