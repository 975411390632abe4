"""Names and Role Provisioning: bring a course's membership from the LMS into its team.

All pages are fetched first, then applied in one transaction: a sync that fails part-way
changes nothing. Members the LMS no longer lists are marked inactive, never deleted, so their
history stays. Malformed members are skipped and reported; the good ones are applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from lms.models import ContextServices, Platform
from lms.platform_client import (
    NRPS_TYPE,
    SCOPE_NRPS,
    PlatformClient,
    ServiceError,
    error_from_response,
)
from people.models import Membership, Team, User
from people.roles import role_from_lti
from people.services import PersonClaims, upsert_membership, upsert_person

MAX_PAGES = 1000
NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?', re.IGNORECASE)
STATUSES = {"Active", "Inactive", "Deleted"}


class RosterError(Exception):
    pass


@dataclass
class RosterReport:
    added: int = 0
    updated: int = 0
    deactivated: int = 0
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.added} added, {self.updated} updated, {self.deactivated} marked as left"
        if self.skipped:
            text += f", {len(self.skipped)} skipped: " + "; ".join(self.skipped[:5])
        return text


def next_page(link_header: str | None) -> str | None:
    match = NEXT_LINK.search(link_header or "")
    return match.group(1) if match else None


def fetch_members(client: PlatformClient, platform: Platform, url: str) -> list[Any]:
    members: list[Any] = []
    seen_urls: set[str] = set()
    next_url: str | None = url
    while next_url and next_url not in seen_urls and len(seen_urls) < MAX_PAGES:
        seen_urls.add(next_url)
        response = client.call(
            platform, [SCOPE_NRPS], "GET", next_url, what="memberships refused", accept=NRPS_TYPE
        )
        if not response.ok:
            raise error_from_response(response, "memberships refused")
        try:
            page = response.json()["members"]
        except (ValueError, KeyError, TypeError) as error:
            raise ServiceError(
                "the LMS's membership answer has no members list", retryable=False
            ) from error
        if not isinstance(page, list):
            raise ServiceError("the LMS's members are not a list", retryable=False)
        members.extend(page)
        next_url = next_page(response.headers.get("Link"))
    return members


def _member_problem(member: Any) -> str | None:
    if not isinstance(member, dict):
        return "not an object"
    if not isinstance(member.get("user_id"), str) or not member["user_id"].strip():
        return "no user_id"
    roles = member.get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        return f"user {member['user_id']}: roles are not a list of strings"
    if member.get("status", "Active") not in STATUSES:
        return f"user {member['user_id']}: unknown status {member.get('status')!r}"
    return None


def _text(member: dict[str, Any], key: str) -> str:
    value = member.get(key)
    return value[:255] if isinstance(value, str) else ""


def apply_members(session: Session, team: Team, members: list[Any]) -> RosterReport:
    report = RosterReport()
    listed: set[int] = set()
    for index, member in enumerate(members):
        problem = _member_problem(member)
        if problem:
            report.skipped.append(f"member {index + 1}: {problem}")
            continue
        known = session.scalar(
            select(User.id).where(
                User.platform_id == team.platform_id, User.sub == member["user_id"]
            )
        )
        user_id = upsert_person(
            session,
            team.platform_id,
            PersonClaims(
                sub=member["user_id"],
                name=_text(member, "name"),
                given_name=_text(member, "given_name"),
                family_name=_text(member, "family_name"),
                email=_text(member, "email") or None,
                lms_username=_text(member, "ext_user_username") or None,
            ),
            launched=False,  # known from the roster, not a launch
        )
        membership = upsert_membership(
            session,
            user_id,
            team.id,
            member["roles"],
            role_from_lti(member["roles"]),
            active=member.get("status", "Active") == "Active",
        )
        listed.add(membership.id)
        if known is None:
            report.added += 1
        else:
            report.updated += 1
    for membership in session.scalars(
        select(Membership).where(Membership.team_id == team.id, Membership.active.is_(True))
    ):
        if membership.id not in listed:
            membership.active = False
            report.deactivated += 1
    return report


def sync_roster(session: Session, client: PlatformClient, team_id: int) -> RosterReport:
    team = session.get(Team, team_id)
    services = session.get(ContextServices, team_id)
    if team is None or services is None or not services.memberships_url:
        raise RosterError(
            "The LMS has not offered a membership service for this course yet; "
            "it arrives with the next launch from the course."
        )
    platform = session.get(Platform, team.platform_id)
    assert platform is not None
    try:
        members = fetch_members(client, platform, services.memberships_url)
    except ServiceError as error:
        session.rollback()
        raise RosterError(f"The LMS did not give the roster: {error}") from error
    report = apply_members(session, team, members)
    services.last_sync_at = utcnow()
    services.last_sync_report = {"summary": report.summary(), "skipped": report.skipped}
    session.flush()
    return report


def teams_with_roster_service(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(ContextServices.team_id).where(ContextServices.memberships_url.is_not(None))
        )
    )


def roster_status(team_id: int | None) -> ContextServices | None:
    """For templates: the team's membership service and its last sync, if any."""
    from core.db import db

    return db.session.get(ContextServices, team_id) if team_id else None
