"""No score left behind: a result a person already holds reaches every graded activity that
opens it.

A score is queued where its result is written, for the activity the person was in then. That
leaves two gaps this module closes:

* the result was made outside a graded activity (a course finished from a plain launch, a
  conversation started from the dashboard), or before the activity was placed: when the
  person later launches a graded activity that opens it, the launch queues the score;
* the same course, scenario or quiz is placed as several graded activities (two courses of
  the LMS, or twice in one): a result written in one goes to every activity of the person's
  courses that opens it.

Domain packages say what a person holds: a registered target source may also be a
``ResultSource``. ``lms`` never imports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lms.grades import FULLY_GRADED, SUPERSEDED, enqueue_score
from lms.models import GradeDelivery, ResourceLink
from people.models import Membership, User


@dataclass(frozen=True)
class HeldResult:
    """A result a person holds for what a target opens, as its gradebook score.

    ``key`` names the result itself (e.g. ``course-result:12``): with the activity's id it is
    the outbox row's ``source``, so one result is queued once per activity however often the
    person launches."""

    key: str
    score_given: float
    score_maximum: float = 100.0
    comment: str = ""


@runtime_checkable
class ResultSource(Protocol):
    def held_result(
        self, session: Session, user_id: int, platform_id: int, target: str
    ) -> HeldResult | None:
        """The person's result for what ``target`` opens, if this source owns the target and
        the person has one (None otherwise). Called on launches of graded activities only."""
        ...


def _result_sources() -> list[ResultSource]:
    return [
        source
        for source in current_app.extensions.get("lti_target_sources", [])
        if isinstance(source, ResultSource)
    ]


def held_result(session: Session, user_id: int, platform_id: int, target: str) -> HeldResult | None:
    if not target:
        return None
    for source in _result_sources():
        found = source.held_result(session, user_id, platform_id, target)
        if found is not None:
            return found
    return None


def _graded(link: ResourceLink) -> bool:
    """Whether the activity has its own gradebook column. One that only offers the line
    items service is not graded (Moodle offers it to every activity of a tool with grade
    sync): a column is never made here for a result nobody asked that activity to grade."""
    return bool(link.ags_lineitem_url)


def _already_carries(session: Session, user_id: int, link_id: int, held: HeldResult) -> bool:
    """Whether the activity's latest score for the person is this result's: sent or on its
    way. A result queued where it was made needs no second copy."""
    latest = session.scalar(
        select(GradeDelivery)
        .where(
            GradeDelivery.resource_link_id == link_id,
            GradeDelivery.user_id == user_id,
            GradeDelivery.status != SUPERSEDED,
        )
        .order_by(GradeDelivery.timestamp.desc(), GradeDelivery.id.desc())
        .limit(1)
    )
    return (
        latest is not None
        and latest.grading_progress == FULLY_GRADED
        and latest.score_given == held.score_given
        and latest.score_maximum == held.score_maximum
    )


def queue_held(
    session: Session, user_id: int, link: ResourceLink, held: HeldResult
) -> GradeDelivery | None:
    """Queue ``held`` for ``link``'s gradebook column unless it is there or on its way
    (``enqueue_score`` refuses a person of another LMS)."""
    if not _graded(link) or _already_carries(session, user_id, link.id, held):
        return None
    return enqueue_score(
        session,
        user_id=user_id,
        resource_link_id=link.id,
        score_given=held.score_given,
        score_maximum=held.score_maximum,
        comment=held.comment,
        source=f"{held.key}@link:{link.id}",
    )


def on_launch(
    session: Session, *, user_id: int, platform_id: int, link_id: int, target: str
) -> GradeDelivery | None:
    """A launch of a graded activity (the caller knows it offered a gradebook): queue the
    score of a result the person already holds for what it opens. The activity's row is read
    only when there is such a result, so a first launch costs the source's one query."""
    held = held_result(session, user_id, platform_id, target)
    if held is None:
        return None
    link = session.get(ResourceLink, link_id)
    return queue_held(session, user_id, link, held) if link is not None else None


def everywhere(session: Session, user: User, target: str, held: HeldResult) -> list[GradeDelivery]:
    """A result was just written: queue it for every graded activity opening ``target`` (or
    a part of it, ``target/part``, as a course's module) in the courses the person is a
    current member of (an LMS takes scores only for its course's members)."""
    if not target:
        return []
    links = session.scalars(
        select(ResourceLink)
        .join(Membership, Membership.team_id == ResourceLink.team_id)
        .where(
            ResourceLink.platform_id == user.platform_id,
            Membership.user_id == user.id,
            Membership.active.is_(True),
            or_(
                ResourceLink.target == target,
                ResourceLink.target.startswith(target + "/", autoescape=True),
            ),
        )
        .order_by(ResourceLink.id)
    )
    queued = []
    for link in links:
        row = queue_held(session, user.id, link, held)
        if row is not None:
            queued.append(row)
    return queued
