"""An administrator removes an LMS and everything recorded under it: nothing about its people
is left in any table."""

from __future__ import annotations

from sqlalchemy import func, select

from core.db import db
from lms.models import LtiStateEntry
from lms.storage import USED_NONCE_PREFIX
from tests.lti import row_counts
from tests.security.conftest import World

# Rows that belong to no LMS: the shared course catalogue, built-in badges and rubric, the
# tool's keys, the development platform's own (LMS-side) tables, and kernel bookkeeping.
NOT_TENANT_DATA = (
    "courses",
    "course_versions",
    "course_assets",
    "badges",
    "rubrics",
    "rubric_versions",
    "signing_keys",
    "rate_limit_windows",
    "alembic_version",
)


def test_removing_a_platform_leaves_nothing_of_its_people(app, world: World, runner):
    before = row_counts(app)
    assert before["users"] >= 8 and before["assessments"] >= 1 and before["badge_awards"] >= 1
    result = runner.invoke(
        args=[
            "lms",
            "platform",
            "remove",
            "--issuer",
            world.tara.platform_base + "/dev-platform",
            "--client-id",
            "cx-academy-dev-tool",
            "--yes",
        ]
    )
    assert result.exit_code == 0, result.output
    left = {
        table: count
        for table, count in row_counts(app).items()
        if count and not table.startswith("dev_") and table not in NOT_TENANT_DATA
    }
    # A used login nonce is a random value the tool signed, kept until it would have expired
    # anyway; it says nothing about anyone. Anything else in the LTI state is tenant data.
    with app.app_context():
        used_nonces = db.session.scalar(
            select(func.count()).where(LtiStateEntry.key.startswith(USED_NONCE_PREFIX))
        )
        db.session.remove()
    if left.get("lti_state") == used_nonces:
        del left["lti_state"]
    assert left == {}
