"""What recognition holds about a person (badges received), for their data download."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.privacy import rows_of
from recognition.models import Award


def recognition_data(session: Session, user_id: int) -> dict[str, object]:
    return {"badges_received": rows_of(session, Award, Award.user_id == user_id)}
