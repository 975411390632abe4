"""What ``flask doctor`` checks for the LMS side: the tool's signing key, the registered
platforms and their deployments, and whether scores are leaving."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from sqlalchemy import func, select

from core.db import db, utcnow
from core.doctor import Finding, fail, ok, warn
from lms.keys import TOOL, published_keys
from lms.models import Deployment, GradeDelivery, Platform


def lms_checks() -> Iterator[Finding]:
    keys = published_keys(db.session, TOOL)
    if keys:
        yield ok(f"The tool publishes {len(keys)} signing key(s) at /lms/jwks.")
    else:
        yield warn(
            "No signing key yet: one is made on the first launch, or run `flask lms keys ensure`."
        )
    platforms = db.session.scalars(select(Platform)).all()
    if not platforms:
        yield warn("No LMS registered: `flask lms platform add …` (see docs/deployment.md).")
    for platform in platforms:
        deployments = db.session.scalar(
            select(func.count()).where(Deployment.platform_id == platform.id)
        )
        label = f"{platform.name or platform.issuer} (client {platform.client_id})"
        if not deployments:
            yield fail(
                f"{label} has no deployment id: launches from it are refused. "
                "Add one with `flask lms deployment add`."
            )
        else:
            yield ok(f"{label}: {deployments} deployment(s).")
    oldest = db.session.scalar(
        select(func.min(GradeDelivery.created_at)).where(GradeDelivery.status == "pending")
    )
    if oldest is not None and oldest < utcnow() - timedelta(hours=1):
        yield warn(
            f"Scores have waited since {oldest:%Y-%m-%d %H:%M} UTC: is `flask lms "
            "worker` running, and is the LMS reachable? See Grade deliveries."
        )
