"""Imported survey responses and the per-team daily roll-ups the analysis reads.

Raw responses are kept for audit and re-computation; dashboards and statistics read the
roll-ups, which each import updates in the same transaction as the rows it adds.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import DDL, ForeignKey, Index, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow
from people.models import PlatformRow

BYTEWISE_ID = String(100).with_variant(String(100, collation="C"), "postgresql")
BYTEWISE_METRIC = String(10).with_variant(String(10, collation="C"), "postgresql")


class SurveyImport(PlatformRow, Base):
    __tablename__ = "survey_imports"
    __table_args__ = (UniqueConstraint("platform_id", "file_sha256"),)

    metric: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    imported: Mapped[int] = mapped_column(default=0)
    skipped_bad: Mapped[int] = mapped_column(default=0)
    skipped_duplicate: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyResponse(Base):
    """One customer's answer, kept for audit and re-computation (the analysis reads roll-ups).

    Built for bulk loading: the primary key is the survey tool's response id within the LMS
    and metric (so a response imported twice is found by the one index every row needs), and
    the import is indexed with BRIN on PostgreSQL (an import's rows lie together; a B-tree
    would cost as much again per row). No foreign keys: PostgreSQL checks each one row by row,
    which made a 5-million-row import several times slower; the importer only writes ids it
    has just read in the same transaction, and ``insights.forget_platform`` removes the rows
    with their platform (see ``lms.registry.platform_removing``).
    """

    __tablename__ = "survey_responses"
    __table_args__ = (Index("ix_survey_responses_import_id", "import_id", postgresql_using="brin"),)

    platform_id: Mapped[int] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(BYTEWISE_METRIC, primary_key=True)
    # The survey tool's id of the response (or a hash of the row). Byte-wise collation on
    # PostgreSQL: the key compares ids, not words, and locale-aware comparison is slower.
    source_id: Mapped[str] = mapped_column(BYTEWISE_ID, primary_key=True)
    import_id: Mapped[int] = mapped_column()
    team_id: Mapped[int] = mapped_column()
    agent_id: Mapped[int | None] = mapped_column()
    score: Mapped[int] = mapped_column()
    answered_at: Mapped[datetime] = mapped_column()
    day: Mapped[date] = mapped_column()
    channel: Mapped[str] = mapped_column(String(30), default="")


class _RollupCounts:
    """A roll-up row's counts, in ``insights.metrics.FIELDS`` order; what each metric counts
    (CSAT 4-5 as top-two-box; NPS 9-10, 7-8, 0-6) is its ``Metric`` there."""

    responses: Mapped[int] = mapped_column(default=0)
    score_sum: Mapped[int] = mapped_column(default=0)
    top_two_box: Mapped[int] = mapped_column(default=0)
    promoters: Mapped[int] = mapped_column(default=0)
    passives: Mapped[int] = mapped_column(default=0)
    detractors: Mapped[int] = mapped_column(default=0)


class TeamDailyRollup(_RollupCounts, Base):
    """Per team, metric and day: what every statistic needs, kept up to date on import.

    No foreign key to the team (nor on the weekly roll-up): a year of a thousand teams is
    365,000 rows per import, and PostgreSQL checked the team of each, one by one. The
    importer writes only team ids it has just looked up within the LMS, in the same
    transaction, and the trigger ``ROLLUPS_FOLLOW_TEAMS`` removes a team's roll-ups with the
    team (a deployment's or a platform's removal cascades to its teams), as the cascade did.
    """

    __tablename__ = "survey_team_daily"

    team_id: Mapped[int] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(String(10), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    # Neither a foreign key (the team's removal takes the row) nor an index: nothing reads
    # days by LMS (the analysis reads weeks), and each import wrote one entry per team-day.
    platform_id: Mapped[int] = mapped_column()


class TeamWeeklyRollup(_RollupCounts, Base):
    """The same counts per team and week (Monday), added on import with the daily ones: the
    training-impact analysis reads weeks, a seventh of the rows."""

    __tablename__ = "survey_team_weekly"

    team_id: Mapped[int] = mapped_column(primary_key=True)  # see TeamDailyRollup
    metric: Mapped[str] = mapped_column(String(10), primary_key=True)
    week: Mapped[date] = mapped_column(primary_key=True)
    # No foreign key: goes with its team (see TeamDailyRollup). The analysis reads by LMS.
    platform_id: Mapped[int] = mapped_column(index=True)


# A team removed takes its roll-ups with it (they have no foreign key: see TeamDailyRollup).
# The same statements are in the migration that dropped the foreign keys; here they follow
# ``create_all`` (the tests' schema). PostgreSQL: once per statement, over the removed rows.
ROLLUPS_FOLLOW_TEAMS = {
    "postgresql": (
        """CREATE OR REPLACE FUNCTION survey_rollups_follow_teams() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM survey_team_daily WHERE team_id IN (SELECT id FROM removed);
            DELETE FROM survey_team_weekly WHERE team_id IN (SELECT id FROM removed);
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER survey_rollups_follow_teams AFTER DELETE ON teams
        REFERENCING OLD TABLE AS removed FOR EACH STATEMENT
        EXECUTE FUNCTION survey_rollups_follow_teams()""",
    ),
    "sqlite": (
        """CREATE TRIGGER survey_rollups_follow_teams AFTER DELETE ON teams FOR EACH ROW
        BEGIN
            DELETE FROM survey_team_daily WHERE team_id = OLD.id;
            DELETE FROM survey_team_weekly WHERE team_id = OLD.id;
        END""",
    ),
}
for _dialect, _statements in ROLLUPS_FOLLOW_TEAMS.items():
    for _statement in _statements:
        event.listen(Base.metadata, "after_create", DDL(_statement).execute_if(dialect=_dialect))


class SurveyApiToken(PlatformRow, Base):
    """A bearer token with which a survey tool sends results for one LMS (``POST
    /api/surveys``). Only its SHA-256 is kept; the token is shown once, when created."""

    __tablename__ = "survey_api_tokens"

    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
