"""A person's data: what people holds about them, the download of everything every package
holds, the request to be forgotten, and the erasure an administrator carries out."""

from __future__ import annotations

from blinker import Namespace
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.db import added, utcnow
from core.privacy import rows_of
from people.models import ConsentEvent, ErasureRequest, Membership, User

# Sent with the session and ``user_id`` just before a person's row is deleted, for data that
# no foreign key reaches (e.g. survey rows naming the person as the agent).
person_erasing = Namespace().signal("person-erasing")


def people_data(session: Session, user_id: int) -> dict[str, object]:
    return {
        "person": rows_of(session, User, User.id == user_id),
        "memberships": rows_of(session, Membership, Membership.user_id == user_id),
        "programme_consent": rows_of(session, ConsentEvent, ConsentEvent.user_id == user_id),
        "erasure_requests": rows_of(session, ErasureRequest, ErasureRequest.user_id == user_id),
    }


def request_erasure(session: Session, user: User) -> ErasureRequest:
    """Record the request once (asking again keeps the first)."""
    pending = session.scalar(
        select(ErasureRequest).where(
            ErasureRequest.user_id == user.id, ErasureRequest.erased_at.is_(None)
        )
    )
    if pending is not None:
        return pending
    return added(session, ErasureRequest(platform_id=user.platform_id, user_id=user.id))


def erase_person(session: Session, request: ErasureRequest) -> bool:
    """Delete the person and everything that is theirs (foreign keys cascade; receivers of
    ``person_erasing`` remove the rest). The caller commits. False if already done."""
    if request.erased_at is not None or request.user_id is None:
        return False
    user_id = request.user_id
    person_erasing.send(session, user_id=user_id)
    # A bulk delete, so the database's cascades (not the ORM) remove the person's rows.
    session.execute(delete(User).where(User.id == user_id))
    request.erased_at = utcnow()
    session.flush()
    return True
