"""Bulk loading of survey rows and roll-up counts, behind one interface: PostgreSQL's COPY,
SQLite's executemany. The import rules (``insights.importer``) hand rows over and never see a
cursor, a temporary table or a savepoint.

Survey rows go straight into place. PostgreSQL's COPY cannot skip a row whose key is already
stored, so it is tried whole behind a savepoint; if the file repeats rows stored before, the
savepoint is rolled back and the rows are read again into a temporary staging table, from
which one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` moves the new ones, in unique-index
order (appending to the index instead of scattering into it). SQLite skips repeats itself.
Roll-up counts go straight in when their days (and weeks) are new to the teams, the usual case;
otherwise they are loaded into a temporary table and added to the roll-ups in one upsert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date

from sqlalchemy import (
    Column,
    ColumnElement,
    Date,
    DateTime,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    cast,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from core.bulk import (
    COPY_NULL,
    copy_lines,
    copy_text,
    create_temporary,
    drop_temporary,
    load_rows,
)
from core.db import insert_for
from insights.metrics import FIELDS
from insights.models import SurveyResponse, TeamDailyRollup, TeamWeeklyRollup


def _monday(day: date) -> date:
    return date.fromordinal(day.toordinal() - day.weekday())


def _weeks(days: Iterable[tuple]) -> Iterator[tuple]:
    """Daily rows (team, ISO day, six counts), in team and day order, summed per team and
    week (Monday) in the same order: a team's days are consecutive, so one week is held at
    a time."""
    mondays: dict[str, str] = {}
    team_week: tuple | None = None
    sums: list[int] = []
    for team, day, *counts in days:
        monday = mondays.get(day)
        if monday is None:
            monday = mondays[day] = _monday(date.fromisoformat(day)).isoformat()
        if (team, monday) != team_week:
            if team_week is not None:
                yield (*team_week, *sums)
            team_week, sums = (team, monday), list(counts)
        else:
            sums = [a + b for a, b in zip(sums, counts, strict=True)]
    if team_week is not None:
        yield (*team_week, *sums)


# A survey row as the importer hands it over, and as stored (behind its import's key).
STAGED = ("team_id", "agent_id", "score", "answered_at", "day", "channel", "source_id")
STORED = ("platform_id", "import_id", "metric", *STAGED)
UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE

# Called with the values to put before each row (none when the rows go to staging); each call
# reads the rows afresh: on PostgreSQL it is called again when the first try found repeats.
RowReader = Callable[[tuple], Iterable[tuple]]
# The teams and the first and last day that roll-up counts cover.
DaySpan = tuple[list[int], date, date]


def _copy_lines(rows: Iterable[tuple], prefix: tuple) -> Iterator[str]:
    """Survey rows (``STAGED`` columns, after ``prefix``) as COPY text lines. The ids, score
    and times are the checker's own ints and ISO strings, so only channel and source id,
    which come from the file, need escaping."""
    head = "".join(f"{copy_text(str(value))}\t" for value in prefix)
    null, text = COPY_NULL, copy_text
    for team_id, agent_id, score, stamp, day, channel, source in rows:
        agent = null if agent_id is None else agent_id
        yield (
            f"{head}{team_id}\t{agent}\t{score}\t{stamp}\t{day}\t{text(channel)}\t{text(source)}\n"
        )


def _temporary(name: str, *columns: Column) -> Table:
    return Table(name, MetaData(), *columns, prefixes=["TEMPORARY"])


def _staging_table(postgres: bool) -> Table:
    return _temporary(
        "survey_staging",
        Column("team_id", Integer, nullable=False),
        Column("agent_id", Integer),
        Column("score", Integer, nullable=False),
        Column("answered_at", DateTime(timezone=postgres), nullable=False),
        Column("day", Date, nullable=False),
        Column("channel", String(30), nullable=False),
        Column("source_id", String(100), nullable=False),
    )


def _counts_table() -> Table:
    return _temporary(
        "survey_rollup_staging",
        Column("team_id", Integer, nullable=False),
        Column("day", Date, nullable=False),
        *(Column(name, Integer, nullable=False) for name in FIELDS),
    )


class BulkLoader:
    """Bulk writes on the session's connection (and in its transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.connection = session.connection()
        self.postgres = self.connection.dialect.name == "postgresql"

    # -- survey rows -----------------------------------------------------------------------

    def store_responses(
        self, read: RowReader, *, platform_id: int, import_id: int, metric: str
    ) -> int:
        """Store the rows ``read`` gives (``STAGED`` columns) under the import; returns how
        many were new (a row whose source id is stored already is skipped)."""
        prefix = (platform_id, import_id, metric)
        if not self.postgres:  # SQLite skips repeats itself (its savepoints are unreliable)
            return self.load("survey_responses", STORED, read(prefix), skip_conflicts=True)
        savepoint = self.session.begin_nested()
        self.session.connection()  # emits the SAVEPOINT now: the COPY bypasses the session
        try:
            stored = copy_lines(
                self.session, "survey_responses", STORED, _copy_lines(read(()), prefix)
            )
        except Exception as error:
            if getattr(error, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
            savepoint.rollback()  # a row stored before: read again through staging
        else:
            savepoint.commit()
            return stored
        return self._store_through_staging(read(()), prefix)

    def _store_through_staging(self, rows: Iterable[tuple], prefix: tuple) -> int:
        """PostgreSQL, when the rows repeat rows stored before: COPY into a temporary table,
        then one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` in unique-index order."""
        staging = self.create(_staging_table(self.postgres))
        copy_lines(self.session, staging.name, STAGED, _copy_lines(rows, ()))
        self.connection.exec_driver_sql("ANALYZE survey_staging")
        staged = staging.c
        moved = (
            insert_for("postgresql")(SurveyResponse.__table__)
            .from_select(
                list(STORED),
                select(*map(literal, prefix), *(staged[c] for c in STAGED)).order_by(
                    staged.source_id
                ),
            )
            .on_conflict_do_nothing(index_elements=["platform_id", "metric", "source_id"])
        )
        inserted = self.session.execute(moved.execution_options(preserve_rowcount=True)).rowcount
        self.drop(staging)
        return inserted

    # -- roll-up counts --------------------------------------------------------------------

    def add_counts(
        self, metric: str, platform_id: int, days: Callable[[], Iterable[tuple]], span: DaySpan
    ) -> None:
        """Add rows of (team, day, six counts in ``FIELDS`` order), which ``days`` gives each
        time it is called (in team and day order), to the daily roll-ups, and the same counts
        summed per team and week to the weekly ones (a team-year is 365 rows by day, 52 by
        week). ``span`` is the teams and first and last day the rows cover."""
        if self._load_new_days(metric, platform_id, days, span):
            return
        table = self.create(_counts_table())
        self.load(table.name, ("team_id", "day", *FIELDS), days())
        c = table.c
        fields = [c[f] for f in FIELDS]
        self.add_grouped(
            TeamDailyRollup,
            select(c.team_id, literal(metric), c.day, literal(platform_id), *fields).order_by(
                c.team_id, c.day
            ),
        )
        self._add_weeks(metric, platform_id, table)
        self.drop(table)

    def _load_new_days(
        self, metric: str, platform_id: int, days: Callable[[], Iterable[tuple]], span: DaySpan
    ) -> bool:
        """When none of the teams has a daily roll-up yet in the days the rows cover (the
        usual case: each export brings new days), load the rows straight in: a third of the
        time of loading them aside and upserting. The weeks too, summed here, when none of
        the teams has a weekly roll-up in those weeks either (a file that starts mid-week
        after one that ended in it adds to that week instead). False, having stored nothing,
        when a day is there already (or, on PostgreSQL, a concurrent import added one since
        the look; SQLite lets one writer in at a time)."""
        teams, first, last = span
        daily, weekly = TeamDailyRollup.__table__.c, TeamWeeklyRollup.__table__.c
        in_span = (daily.team_id.in_(teams), daily.metric == metric, daily.day.between(first, last))
        if self.session.scalar(select(exists().where(*in_span))):
            return False
        first_week, last_week = _monday(first), _monday(last)
        weeks_taken = self.session.scalar(
            select(
                exists().where(
                    weekly.team_id.in_(teams),
                    weekly.metric == metric,
                    weekly.week.between(first_week, last_week),
                )
            )
        )
        savepoint = self.session.begin_nested() if self.postgres else None
        self.session.connection()  # emits the SAVEPOINT now: the COPY bypasses the session
        try:
            self._load_counts(TeamDailyRollup, metric, platform_id, days())
            if not weeks_taken:
                self._load_counts(TeamWeeklyRollup, metric, platform_id, _weeks(days()))
        except Exception as error:
            if savepoint is None or getattr(error, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
            savepoint.rollback()
            return False
        if savepoint is not None:
            savepoint.commit()
        if weeks_taken:
            # The span held no daily rows before, so what it holds now is this import's.
            self._add_weeks(metric, platform_id, TeamDailyRollup.__table__, *in_span)
        return True

    def _load_counts(
        self, model: type, metric: str, platform_id: int, counts: Iterable[tuple]
    ) -> None:
        """Rows of (team, period, six counts) straight into a roll-up table."""
        table = model.__table__  # type: ignore[attr-defined]
        period = "day" if model is TeamDailyRollup else "week"
        columns = ("team_id", "metric", period, "platform_id", *FIELDS)
        if self.postgres:
            lines = (
                f"{team}\t{metric}\t{day}\t{platform_id}\t" + "\t".join(map(str, rest)) + "\n"
                for team, day, *rest in counts
            )
            copy_lines(self.session, table.name, columns, lines)
        else:
            rows = ((team, metric, day, platform_id, *rest) for team, day, *rest in counts)
            self.load(table.name, columns, rows)

    def _add_weeks(
        self, metric: str, platform_id: int, days: Table, *where: ColumnElement[bool]
    ) -> None:
        c = days.c
        week = self.monday(c.day)
        self.add_grouped(
            TeamWeeklyRollup,
            select(
                c.team_id,
                literal(metric),
                week,
                literal(platform_id),
                *(func.sum(c[f]) for f in FIELDS),
            )
            .where(*where)
            .group_by(c.team_id, week)
            .order_by(c.team_id, week),
        )

    def monday(self, day: ColumnElement) -> ColumnElement:
        """The Monday of ``day``'s week, in SQL."""
        if self.postgres:
            return day - (cast(func.extract("isodow", day), Integer) - 1)
        return func.date(day, "weekday 0", "-6 days")

    def add_grouped(self, model: type, grouped: Select) -> None:
        """Add grouped counts (team, metric, period, platform, six counts) to a roll-up table."""
        table = model.__table__  # type: ignore[attr-defined]
        keys = [c.name for c in table.primary_key.columns]
        upsert = insert_for("postgresql" if self.postgres else "sqlite")(table)
        statement = upsert.from_select([*keys, "platform_id", *FIELDS], grouped)
        self.session.execute(
            statement.on_conflict_do_update(
                index_elements=keys,
                set_={c: table.c[c] + statement.excluded[c] for c in FIELDS},
            )
        )

    # -- the primitives --------------------------------------------------------------------

    def create(self, table: Table) -> Table:
        return create_temporary(self.session, table)

    def drop(self, table: Table) -> None:
        drop_temporary(self.session, table)

    def load(
        self,
        table: str,
        columns: tuple[str, ...],
        rows: Iterable[tuple],
        skip_conflicts: bool = False,
    ) -> int:
        """Load ``rows``; returns how many were stored."""
        return load_rows(self.session, table, columns, rows, skip_conflicts=skip_conflicts)
