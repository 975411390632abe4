"""An administrator removes an LMS and everything recorded under it: nothing about its people
is left in any table."""

from __future__ import annotations

from tests.lti import row_counts
from tests.security.conftest import World

# Rows that belong to no LMS: the shared course catalogue, built-in badges and rubric, the
# tool's keys, the development platform's own (LMS-side) tables, and kernel bookkeeping.
NOT_TENANT_DATA = (
    "courses", "course_versions", "course_assets", "badges", "rubrics", "rubric_versions",
    "signing_keys", "rate_limit_windows", "alembic_version",
)  # fmt: skip


def test_removing_a_platform_leaves_nothing_of_its_people(app, world: World, runner):
    before = row_counts(app)
    assert before["users"] >= 8 and before["assessments"] >= 1 and before["badge_awards"] >= 1
    result = runner.invoke(args=[
        "lms", "platform", "remove", "--issuer", world.tara.platform_base + "/dev-platform",
        "--client-id", "cx-academy-dev-tool", "--yes",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    left = {
        table: count
        for table, count in row_counts(app).items()
        if count and not table.startswith("dev_") and table not in NOT_TENANT_DATA
    }
    assert left == {}
