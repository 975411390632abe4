"""The grade outbox: scores are written with their result and delivered to the LMS later.

``enqueue_score`` is the one call domain packages make, inside the transaction that records
the result. ``deliver_due`` (run by ``flask lms worker``) claims due rows, sends each with a
cached client-credentials token, and records the outcome:

* 2xx: sent. 409: the LMS already holds this or a newer score (Moodle's answer to a timestamp
  that is not later than its own): delivered.
* 401: the token is dropped and the score retried soon with a fresh one.
* 5xx, 429, timeouts, connection errors: retried with exponential backoff and jitter
  (``Retry-After`` honoured), forever — a score is never dropped.
* Any other 4xx: failed, with the LMS's answer kept for a trainer to read and retry.

Scores of one user on one line item go out in order, one at a time, with timestamps at least a
second apart; a newer score supersedes an older one still waiting. Claiming is an atomic
``UPDATE … WHERE status='pending'`` (plus ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and a
claim is a lease: a worker killed mid-send leaves a row that another worker takes over when the
lease ends, resending the same timestamp, which the LMS recognises.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from core.db import added, utcnow
from lms.models import GradeDelivery, Platform, ResourceLink
from lms.platform_client import PlatformClient, ServiceError, error_from_response
from people.models import User

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, FAILED, SUPERSEDED = "pending", "sending", "sent", "failed", "superseded"
FULLY_GRADED, PENDING_MANUAL = "FullyGraded", "PendingManual"
ACTIVITY_PROGRESS = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING_PROGRESS = {FULLY_GRADED, "Pending", PENDING_MANUAL, "Failed", "NotReady"}
LEASE = timedelta(seconds=60)
RECORD_AFTER = timedelta(seconds=1)  # outcomes of a batch are written at least this often
BACKOFF_BASE = 5.0
BACKOFF_CAP = 3600.0


class GradeError(ValueError):
    pass


def _whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def gradebook_available(session: Session, resource_link_id: int) -> bool:
    """Whether the activity's LMS offered a gradebook (AGS) in its launches."""
    link = session.get(ResourceLink, resource_link_id)
    return link is not None and bool(link.ags_lineitem_url or link.ags_lineitems_url)


def enqueue_score(
    session: Session,
    *,
    user_id: int,
    resource_link_id: int,
    score_given: float,
    score_maximum: float,
    activity_progress: str = "Completed",
    grading_progress: str = FULLY_GRADED,
    comment: str = "",
    source: str | None = None,
) -> GradeDelivery | None:
    """Queue a score for the LMS gradebook, in the caller's transaction. Returns the outbox
    row, the existing one for an already queued ``source``, or None when nothing must be sent
    (a PendingManual after a grade was given would wipe that grade in Moodle)."""
    if not 0 <= score_given <= score_maximum or score_maximum <= 0:
        raise GradeError("A score must lie between 0 and a positive maximum.")
    if activity_progress not in ACTIVITY_PROGRESS or grading_progress not in GRADING_PROGRESS:
        raise GradeError("Unknown activity or grading progress.")
    if source is not None:
        existing = session.scalar(select(GradeDelivery).where(GradeDelivery.source == source))
        if existing is not None:
            return existing
    link = session.get(ResourceLink, resource_link_id)
    user = session.get(User, user_id)
    if link is None or user is None or user.platform_id != link.platform_id:
        raise GradeError("The score's user and activity do not belong to one LMS.")
    earlier = list(
        session.scalars(
            select(GradeDelivery)
            .where(
                GradeDelivery.resource_link_id == link.id,
                GradeDelivery.user_id == user.id,
                GradeDelivery.status != SUPERSEDED,
            )
            .order_by(GradeDelivery.timestamp.desc())
        )
    )
    graded_before = any(row.grading_progress == FULLY_GRADED for row in earlier)
    if grading_progress == PENDING_MANUAL and graded_before:
        return None
    now = utcnow()
    timestamp = now
    if earlier and _whole_second(earlier[0].timestamp) >= _whole_second(now):
        timestamp = _whole_second(earlier[0].timestamp) + timedelta(seconds=1)
    for row in earlier:
        if row.status == PENDING:
            row.status = SUPERSEDED
    return added(
        session,
        GradeDelivery(
            platform_id=link.platform_id,
            deployment_id=link.deployment_id,
            resource_link_id=link.id,
            user_id=user.id,
            lti_user_id=user.sub,
            source=source,
            score_given=score_given,
            score_maximum=score_maximum,
            comment=comment[:1000],
            activity_progress=activity_progress,
            grading_progress=grading_progress,
            timestamp=timestamp,
            status=PENDING,
            next_attempt_at=now,
        ),
    )


def _lease_ended(row: type[GradeDelivery], now: datetime) -> ColumnElement[bool]:
    return and_(row.status == SENDING, row.lease_until < now)


def _pending_due(row: type[GradeDelivery], now: datetime) -> ColumnElement[bool]:
    return and_(row.status == PENDING, row.next_attempt_at <= now)


def _claim(
    session: Session,
    due: Callable[[type[GradeDelivery], datetime], ColumnElement[bool]],
    limit: int,
    now: datetime,
) -> list[int]:
    candidate = aliased(GradeDelivery, name="candidate")
    older = aliased(GradeDelivery, name="older")
    in_flight_before = exists().where(
        older.resource_link_id == candidate.resource_link_id,
        older.user_id == candidate.user_id,
        older.id < candidate.id,
        older.status.in_((PENDING, SENDING)),
    )
    candidates = (
        select(candidate.id)
        .where(due(candidate, now), ~in_flight_before)
        .order_by(candidate.next_attempt_at, candidate.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True, of=candidate)
    return list(
        session.scalars(
            update(GradeDelivery)
            .where(GradeDelivery.id.in_(candidates.scalar_subquery()), due(GradeDelivery, now))
            .values(status=SENDING, lease_until=now + LEASE)
            .returning(GradeDelivery.id)
            .execution_options(synchronize_session=False)
        )
    )


def claim_due(session: Session, limit: int, now: datetime | None = None) -> list[int]:
    """Take up to ``limit`` due deliveries for this worker: those whose lease ended, then
    pending ones in order, each kind in one ``UPDATE … RETURNING``.

    The kinds are claimed apart so that PostgreSQL can walk ``ix_lti_grade_deliveries_due``
    in order and stop after ``limit`` rows: one query with an OR of both scans and sorts the
    whole backlog (15 ms per claim for 10,000 waiting scores, growing with the backlog)."""
    now = now or utcnow()
    claimed = _claim(session, _lease_ended, limit, now)
    if len(claimed) < limit:
        claimed += _claim(session, _pending_due, limit - len(claimed), now)
    session.commit()
    return sorted(claimed)


@dataclass
class Outcome:
    status: str
    detail: str = ""


def backoff(
    attempts: int, retry_after: float | None = None, jitter: Callable[[], float] = random.random
) -> timedelta:
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    delay *= 0.5 + jitter()  # spread retries so recovering LMSs are not hit all at once
    if retry_after is not None:
        delay = max(delay, retry_after)
    return timedelta(seconds=delay)


def score_body(delivery: GradeDelivery) -> dict[str, object]:
    return {
        "userId": delivery.lti_user_id,
        "scoreGiven": delivery.score_given,
        "scoreMaximum": delivery.score_maximum,
        "comment": delivery.comment,
        "activityProgress": delivery.activity_progress,
        "gradingProgress": delivery.grading_progress,
        "timestamp": delivery.timestamp.isoformat(timespec="milliseconds"),
    }


def _lineitem_for(
    client: PlatformClient, platform: Platform, link: ResourceLink, score_maximum: float
) -> str:
    if link.ags_lineitem_url:
        return link.ags_lineitem_url
    if not link.ags_lineitems_url:
        raise ServiceError(
            "The LMS offered no gradebook service for this activity.", retryable=False
        )
    found = client.find_or_create_lineitem(
        platform,
        link.ags_lineitems_url,
        link.ags_scopes,
        resource_link_id=link.lti_id,
        label=link.title or "CX Quality Academy",
        score_maximum=score_maximum,
    )
    if found is None:
        raise ServiceError(
            "The LMS has no gradebook column for this activity and does not "
            "let the tool create one.",
            retryable=False,
        )
    return found


def _load_claimed(
    session: Session, delivery_ids: list[int]
) -> list[tuple[GradeDelivery, Platform, ResourceLink]]:
    """The claimed rows still ``sending``, with their platform and link, each loaded once and
    detached: commits do not expire them, so sending needs no further reads. Ends the read
    transaction: nothing is held while we talk to the LMS."""
    rows = list(
        session.scalars(
            select(GradeDelivery)
            .where(GradeDelivery.id.in_(delivery_ids), GradeDelivery.status == SENDING)
            .order_by(GradeDelivery.next_attempt_at, GradeDelivery.id)
        )
    )
    platforms = {
        p.id: p
        for p in session.scalars(
            select(Platform).where(Platform.id.in_({row.platform_id for row in rows}))
        )
    }
    links = {
        link.id: link
        for link in session.scalars(
            select(ResourceLink).where(ResourceLink.id.in_({row.resource_link_id for row in rows}))
        )
    }
    for obj in (*rows, *platforms.values(), *links.values()):
        session.expunge(obj)
    session.commit()
    return [(row, platforms[row.platform_id], links[row.resource_link_id]) for row in rows]


def _send(
    session: Session,
    client: PlatformClient,
    delivery: GradeDelivery,
    platform: Platform,
    link: ResourceLink,
) -> dict[str, object]:
    """Send one claimed, detached delivery; returns the row's new values (``_record`` writes
    them). A line item found on the way is stored at once."""
    status, error_text, sent = PENDING, "", False
    retry_wait: timedelta | None = None
    lineitem = None
    http_status: int | None = None
    attempts = delivery.attempts + 1
    known_lineitem = link.ags_lineitem_url
    try:
        lineitem = _lineitem_for(client, platform, link, delivery.score_maximum)
        response = client.post_score(platform, lineitem, score_body(delivery))
        http_status = response.status_code
        if response.ok or response.status_code == 409:
            status, sent = SENT, True
            if response.status_code == 409:
                error_text = "The LMS already had this or a newer score."
        else:
            raise error_from_response(response, "score refused")
    except ServiceError as error:
        http_status, error_text = error.status, str(error)[:2000]
        if error.retryable:
            # A rejected token was dropped: the next try fetches a new one at once.
            retry_wait = (
                timedelta(0)
                if error.token_rejected and attempts <= 2
                else backoff(attempts, error.retry_after)
            )
        else:
            status = FAILED
    if lineitem and lineitem != known_lineitem:
        session.execute(
            update(ResourceLink).where(ResourceLink.id == link.id).values(ags_lineitem_url=lineitem)
        )
        session.commit()
        link.ags_lineitem_url = lineitem  # the detached copy: the batch's next scores use it
    now = utcnow()
    return {
        "id": delivery.id,
        "attempts": attempts,
        "status": status,
        "last_status": http_status,
        "last_error": error_text,
        "lease_until": None,
        "sent_at": now if sent else None,
        "next_attempt_at": now + retry_wait if retry_wait is not None else delivery.next_attempt_at,
    }


def _record(session: Session, outcomes: list[dict[str, object]]) -> None:
    """Write the outcomes of sent deliveries, all in one executemany and one commit."""
    if outcomes:
        session.execute(update(GradeDelivery), outcomes)
        session.commit()
        outcomes.clear()


def _extend_lease(
    session: Session, delivery_ids: list[int], lease_until: datetime, new_until: datetime
) -> set[int]:
    """Extend our lease on claimed deliveries not sent yet; returns those still ours."""
    kept = session.scalars(
        update(GradeDelivery)
        .where(
            GradeDelivery.id.in_(delivery_ids),
            GradeDelivery.status == SENDING,
            GradeDelivery.lease_until == lease_until,
        )
        .values(lease_until=new_until)
        .returning(GradeDelivery.id)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return set(kept)


def deliver(session: Session, client: PlatformClient, delivery_id: int) -> Outcome:
    """Send one claimed delivery and record what happened. Commits.

    No write is pending while we talk to the LMS: on SQLite a pending write would hold the
    database lock for as long as the LMS takes to answer."""
    loaded = _load_claimed(session, [delivery_id])
    if not loaded:
        return Outcome("skipped")
    values = _send(session, client, *loaded[0])
    _record(session, [values])
    return Outcome(str(values["status"]), str(values["last_error"]))


def deliver_due(session: Session, client: PlatformClient, limit: int = 50) -> int:
    """Claim and send one batch; returns how many sends were attempted.

    Outcomes are written together, at least every ``RECORD_AFTER``: a worker killed before
    that leaves rows whose lease ends and that are sent again with the same timestamp (which
    the LMS recognises). No send starts that could outlive the batch's lease (another worker
    would send that score too): the outcomes so far are written and the lease is extended."""
    claimed_at = utcnow()
    claimed = claim_due(session, limit, claimed_at)
    if not claimed:
        return 0
    lease_until = claimed_at + LEASE
    loaded = _load_claimed(session, claimed)
    ours = {row.id for row, _, _ in loaded}
    outcomes: list[dict[str, object]] = []
    oldest = claimed_at
    attempted = 0

    def record() -> None:
        try:
            _record(session, outcomes)
        except Exception:  # kept in ``outcomes`` for the next try; the lease covers them
            session.rollback()
            log.exception("grade outcomes not recorded; retried after the next score")

    for position, (delivery, platform, link) in enumerate(loaded):
        now = utcnow()
        if now + client.longest_send > lease_until:
            record()
            if outcomes:  # not written: sending on could outlive their lease
                break
            remaining = [row.id for row, _, _ in loaded[position:] if row.id in ours]
            new_until = now + LEASE + client.longest_send
            ours = _extend_lease(session, remaining, lease_until, new_until)
            lease_until = new_until
        if delivery.id not in ours:  # taken over by another worker (we were paused)
            continue
        try:
            if not outcomes:
                oldest = utcnow()
            attempted += 1
            outcomes.append(_send(session, client, delivery, platform, link))
        except Exception:
            session.rollback()
            log.exception(
                "grade delivery %s crashed; its lease will expire and it is retried", delivery.id
            )
        if utcnow() - oldest >= RECORD_AFTER:
            record()
    record()
    return attempted


def delivery_in(
    session: Session, delivery_id: int, deployment_id: int, team_id: int | None = None
) -> GradeDelivery | None:
    """A score of this deployment (and of the course ``team_id`` when given), whatever its
    state; None for anyone else's."""
    query = select(GradeDelivery).where(
        GradeDelivery.id == delivery_id, GradeDelivery.deployment_id == deployment_id
    )
    if team_id is not None:
        query = query.join(ResourceLink, ResourceLink.id == GradeDelivery.resource_link_id).where(
            ResourceLink.team_id == team_id
        )
    return session.scalar(query)


def retry(session: Session, delivery_id: int, deployment_id: int) -> GradeDelivery | None:
    """A trainer asks to send a waiting or failed score again now (within their deployment)."""
    delivery = delivery_in(session, delivery_id, deployment_id)
    return delivery if delivery is not None and send_again(delivery) else None


def send_again(delivery: GradeDelivery) -> bool:
    """Make a waiting or failed score due now; False for one already sent or being sent."""
    if delivery.status not in (PENDING, FAILED):
        return False
    delivery.status, delivery.next_attempt_at = PENDING, utcnow()
    return True


def deliveries_for(
    session: Session,
    *,
    deployment_id: int,
    team_id: int | None,
    statuses: tuple[str, ...] = (PENDING, SENDING, FAILED),
    limit: int = 200,
) -> list[tuple[GradeDelivery, User, ResourceLink]]:
    """Deliveries a trainer may see: their deployment, and their course when ``team_id``."""
    query = (
        select(GradeDelivery, User, ResourceLink)
        .join(User, User.id == GradeDelivery.user_id)
        .join(ResourceLink, ResourceLink.id == GradeDelivery.resource_link_id)
        .where(GradeDelivery.deployment_id == deployment_id, GradeDelivery.status.in_(statuses))
        .order_by(GradeDelivery.created_at.desc())
        .limit(limit)
    )
    if team_id is not None:
        query = query.where(ResourceLink.team_id == team_id)
    return [(delivery, user, link) for delivery, user, link in session.execute(query)]


def waiting_for(session: Session, user_id: int) -> list[tuple[GradeDelivery, ResourceLink]]:
    """A person's own scores not in the LMS gradebook yet (waiting, being sent, or refused),
    newest first: what their page shows so a score on its way is not taken for a lost one."""
    query = (
        select(GradeDelivery, ResourceLink)
        .join(ResourceLink, ResourceLink.id == GradeDelivery.resource_link_id)
        .where(
            GradeDelivery.user_id == user_id,
            GradeDelivery.status.in_((PENDING, SENDING, FAILED)),
        )
        .order_by(GradeDelivery.created_at.desc())
        .limit(20)
    )
    return [(delivery, link) for delivery, link in session.execute(query)]


def waiting_count(session: Session, deployment_id: int, team_id: int | None) -> int:
    """How many scores ``deliveries_for`` lists as waiting or failed, counted in the database."""
    query = (
        select(func.count())
        .select_from(GradeDelivery)
        .where(
            GradeDelivery.deployment_id == deployment_id,
            GradeDelivery.status.in_((PENDING, SENDING, FAILED)),
        )
    )
    if team_id is not None:
        query = query.join(ResourceLink, ResourceLink.id == GradeDelivery.resource_link_id).where(
            ResourceLink.team_id == team_id
        )
    return session.scalar(query) or 0
