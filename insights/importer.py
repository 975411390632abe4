"""Survey import: a CSV stream checked row by row, then stored whole (or without its bad rows,
when the person asks), with the per-team daily and per-agent weekly roll-ups updated in the
same transaction.

Every bad row is reported (line, column, reason). A file imported twice is refused; a row whose
source id was imported before is counted once. Dates are read in the time zone the person
states (ISO 8601 times with their own offset keep it), stored in UTC, and counted on the day
they fell in that time zone.

Memory stays bounded whatever the file's size: the file is read line by line and the checked
rows go straight into a temporary staging table (PostgreSQL's COPY, SQLite's executemany);
one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` then moves them into place, so duplicates are
found by the unique index rather than by a set in memory.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from core.db import insert_for
from core.numbers import NumberFormatError, parse_number
from core.tabular import (
    ZIP_MAGIC,
    DateReader,
    TableRefused,
    open_table,
    settle_date_format,
    workbook_as_csv,
)
from insights.models import (
    METRICS,
    SurveyImport,
    SurveyResponse,
    TeamDailyRollup,
    TeamWeeklyRollup,
)
from people.models import Membership, Team, User

DATE_SAMPLE = 2000  # rows read first to settle an "auto" date format
CHUNK = 20_000
MAX_PROBLEMS = 1000

Progress = Callable[[str, int], None]  # (phase, rows done in that phase so far)


@dataclass(frozen=True)
class Mapping:
    team: str
    date: str
    score: str
    agent: str = ""
    channel: str = ""
    source_id: str = ""
    # iso, day-first, month-first, a strptime pattern, or auto: settled from the file's
    # first rows (refused when they could be either day-first or month-first).
    date_format: str = "auto"


@dataclass(frozen=True)
class Problem:
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return (
            f"line {self.line}, {self.column}: {self.reason}"
            if self.column
            else f"line {self.line}: {self.reason}"
        )


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: int = 0
    bad: list[Problem] = field(default_factory=list)
    bad_rows: int = 0
    refused: str = ""  # why nothing was imported, when it was not
    import_id: int | None = None
    read: int = 0  # good rows read (imported + duplicates)

    @property
    def ok(self) -> bool:
        return not self.refused


class ImportRefused(ValueError):
    def __init__(self, reason: str, problems: list[Problem] | None = None) -> None:
        super().__init__(reason)
        self.problems = problems or []


class _Checker:
    """Turns CSV records into staging tuples, or into the problems that make them bad."""

    def __init__(
        self,
        header: list[str],
        read_as: str,
        dates: DateReader,
        mapping: Mapping,
        metric: str,
        zone: ZoneInfo,
        teams: dict[str, int],
        agents: dict[str, int],
        postgres: bool,
    ) -> None:
        wanted = [mapping.team, mapping.date, mapping.score]
        wanted += [c for c in (mapping.agent, mapping.channel, mapping.source_id) if c]
        missing = [c for c in wanted if c not in header]
        if missing:
            names = ", ".join(repr(c) for c in missing)
            raise ImportRefused(
                f"The file has no column {names}. It was read as {read_as}, and its columns "
                f"are: {', '.join(header)}."
            )
        position = {name: header.index(name) for name in wanted}
        self.mapping, self.metric, self.zone, self.dates = mapping, metric, zone, dates
        self.team_at, self.date_at = position[mapping.team], position[mapping.date]
        self.score_at = position[mapping.score]
        self.agent_at = position.get(mapping.agent) if mapping.agent else None
        self.channel_at = position.get(mapping.channel) if mapping.channel else None
        self.id_at = position.get(mapping.source_id) if mapping.source_id else None
        self.width = len(header)
        low, high = METRICS[metric]
        self.scores = {str(s): s for s in range(low, high + 1)}
        self.scale = f"{metric.upper()} scores are whole numbers {low}-{high}"
        self.teams, self.agents = teams, agents
        self.utc_zone = zone.key == "UTC"
        # How each database reads a UTC time from text: SQLAlchemy keeps SQLite's naive.
        self.offset = "+00:00" if postgres else ""
        self.quick = self._quick_check()

    def _quick_check(self) -> Callable[[list[str]], tuple | None]:
        """The common case, fast: a well-formed row with ISO dates in UTC and a response id.
        Anything else (None) goes through ``check``, which says what is wrong or handles it.
        Locals instead of attributes: this runs once per row, millions of times."""
        teams, agents, scores = self.teams, self.agents, self.scores
        team_at, date_at, score_at, agent_at = (
            self.team_at,
            self.date_at,
            self.score_at,
            self.agent_at,
        )
        channel_at, id_at, width, offset = self.channel_at, self.id_at, self.width, self.offset
        if not self.utc_zone or id_at is None:
            return lambda record: None
        from_iso = datetime.fromisoformat

        def quick(record: list[str]) -> tuple | None:
            if len(record) < width:
                return None
            try:
                team_id = teams[record[team_at].strip().lower()]
                score = scores[record[score_at].strip()]
                moment = from_iso(record[date_at].strip())
                agent_text = record[agent_at].strip() if agent_at is not None else ""
                agent_id = agents[agent_text.lower()] if agent_text else None
            except (KeyError, ValueError):
                return None
            source = record[id_at].strip()
            if moment.tzinfo is not None or not source:
                return None
            stamp = moment.isoformat(" ", "microseconds")
            channel = record[channel_at].strip()[:30] if channel_at is not None else ""
            return (team_id, agent_id, score, stamp + offset, stamp[:10], channel, source[:100])

        return quick

    def check(self, line: int, record: list[str]) -> tuple | list[Problem]:
        if len(record) < self.width:
            return [Problem(line, "", f"{len(record)} values where the header has {self.width}")]
        problems = []
        team_text = record[self.team_at].strip()
        team_id = self.teams.get(team_text.lower())
        if team_id is None:
            reason = f"no team called {team_text!r} in this LMS" if team_text else "no team"
            problems.append(Problem(line, self.mapping.team, reason))
        when = self._moment(record[self.date_at])
        if isinstance(when, str):
            problems.append(Problem(line, self.mapping.date, when))
        score, reason = self._score(record[self.score_at].strip())
        if score is None:
            problems.append(Problem(line, self.mapping.score, reason))
        agent_id = None
        if self.agent_at is not None:
            agent_text = record[self.agent_at].strip()
            if agent_text:
                agent_id = self.agents.get(agent_text.lower())
                if agent_id is None:
                    problems.append(
                        Problem(line, self.mapping.agent, f"no person {agent_text!r} in this LMS")
                    )
        if problems:
            return problems
        source = record[self.id_at].strip() if self.id_at is not None else ""
        if not source:
            source = hashlib.blake2b("\x1f".join(record).encode(), digest_size=16).hexdigest()
        channel = record[self.channel_at].strip()[:30] if self.channel_at is not None else ""
        stamp, day = when
        return (team_id, agent_id, score, stamp, day, channel, source[:100])

    def _score(self, raw: str) -> tuple[int | None, str]:
        """The score, or why the cell is not one. Plain digits are a dictionary look-up, as in
        the quick path; anything else ("4.0", "4,0", "+4", "1e3", "1,500") goes through the
        one number reader, so spreadsheets' shapes are read and a refusal says how to write
        the number."""
        score = self.scores.get(raw)
        if score is not None or not raw:
            return score, f"{self.scale}, not {raw!r}"
        try:
            value = parse_number(raw, allow_percent=False).value
        except NumberFormatError as refused:
            return None, f"{refused} ({self.scale}.)"
        whole = str(int(value)) if value.is_integer() else ""
        score = self.scores.get(whole)
        return score, f"{self.scale}, not {raw!r}"

    def _moment(self, raw: str) -> tuple[str, str] | str:
        """(UTC time as the database reads it, the local day), or why it is not a date."""
        moment = self.dates.read(raw)
        if isinstance(moment, str):
            return moment
        if moment.tzinfo is not None:
            day = moment.astimezone(self.zone).date()
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        else:
            day = moment.date()
            if not self.utc_zone:
                moment = moment.replace(tzinfo=self.zone).astimezone(UTC).replace(tzinfo=None)
        return moment.isoformat(" ", "microseconds") + self.offset, day.isoformat()


STAGED = ("team_id", "agent_id", "score", "answered_at", "day", "channel", "source_id")
STORED = ("platform_id", "import_id", "metric", *STAGED)
UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE
ROLLED = ("responses", "score_sum", "top_two_box", "promoters", "passives", "detractors")


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


def _rollup_table() -> Table:
    return _temporary(
        "survey_rollup_staging",
        Column("team_id", Integer, nullable=False),
        Column("day", Date, nullable=False),
        *(Column(name, Integer, nullable=False) for name in ROLLED),
    )


class _Bulk:
    """Loads rows into a table on the session's connection in bulk: PostgreSQL's COPY,
    SQLite's executemany (with ``ON CONFLICT DO NOTHING`` where asked)."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.postgres = self.connection.dialect.name == "postgresql"

    def create(self, table: Table) -> Table:
        self.drop(table)
        table.create(self.connection)
        return table

    def drop(self, table: Table) -> None:
        self.connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")

    def load(self, table: str, columns: tuple[str, ...], rows: Iterable[tuple],
             skip_conflicts: bool = False) -> int:  # fmt: skip
        """Load ``rows``; returns how many were stored."""
        cursor = self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        names = ", ".join(columns)
        if self.postgres:
            stored = 0
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    stored += 1
            return stored
        before = self.connection.connection.driver_connection.total_changes  # type: ignore[union-attr]
        marks = ", ".join("?" * len(columns))
        conflict = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
        insert = f"INSERT INTO {table} ({names}) VALUES ({marks}){conflict}"  # noqa: S608 - constant names
        batch: list[tuple] = []
        for row in rows:
            batch.append(row)
            if len(batch) == CHUNK:
                cursor.executemany(insert, batch)
                batch.clear()
        if batch:
            cursor.executemany(insert, batch)
        return self.connection.connection.driver_connection.total_changes - before  # type: ignore[union-attr]


def rollup_counts(metric: str, score: ColumnElement[int]) -> list:
    """The roll-up counts of a group of survey rows, for one metric."""

    def count_if(condition: ColumnElement[bool], applies: bool) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0)) if applies else literal(0)

    return [
        func.count(),
        func.sum(score),
        count_if(score >= 4, metric == "csat"),
        count_if(score >= 9, metric == "nps"),
        count_if(score.between(7, 8), metric == "nps"),
        count_if(score <= 6, metric == "nps"),
    ]


class _TeamDays:
    """Per team and day, the roll-up counts of the rows read so far (at most teams x days
    entries, whatever the number of rows)."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.counts: dict[tuple[int, str], list[int]] = {}

    def add(self, team_id: int, day: str, score: int) -> None:
        counts = self.counts.get((team_id, day))
        if counts is None:
            counts = self.counts[(team_id, day)] = [0, 0, 0, 0, 0, 0]
        counts[0] += 1
        counts[1] += score
        if self.metric == "csat":
            counts[2] += score >= 4
        elif self.metric == "nps":
            counts[3 if score >= 9 else 4 if score >= 7 else 5] += 1

    def days(self) -> Iterator[tuple]:
        for (team_id, day), counts in self.counts.items():
            yield (team_id, day, *counts)

    def weeks(self) -> Iterator[tuple]:
        mondays: dict[str, str] = {}
        weekly: dict[tuple[int, str], list[int]] = {}
        for (team_id, day), counts in self.counts.items():
            monday = mondays.get(day)
            if monday is None:
                when = date.fromisoformat(day)
                monday = mondays[day] = (when - timedelta(days=when.weekday())).isoformat()
            total = weekly.setdefault((team_id, monday), [0] * len(counts))
            for i, count in enumerate(counts):
                total[i] += count
        for (team_id, monday), counts in weekly.items():
            yield (team_id, monday, *counts)


def _add_to_rollups(session: Session, bulk: _Bulk, model: type, grouped: Select) -> None:
    """Add grouped counts (team, metric, period, platform, six counts) to a roll-up table."""
    table = model.__table__  # type: ignore[attr-defined]
    keys = [c.name for c in table.primary_key.columns]
    upsert = insert_for("postgresql" if bulk.postgres else "sqlite")(table)
    statement = upsert.from_select([*keys, "platform_id", *ROLLED], grouped)
    session.execute(statement.on_conflict_do_update(
        index_elements=keys, set_={c: table.c[c] + statement.excluded[c] for c in ROLLED},
    ))  # fmt: skip


def _roll_up_read(session: Session, bulk: _Bulk, read: _TeamDays, platform_id: int) -> None:
    """Roll-ups from the counts gathered while reading (every row read was stored)."""
    for model, rows in ((TeamDailyRollup, read.days()), (TeamWeeklyRollup, read.weeks())):
        table = bulk.create(_rollup_table())
        bulk.load(table.name, ("team_id", "day", *ROLLED), rows)
        c = table.c
        _add_to_rollups(session, bulk, model, select(
            c.team_id, literal(read.metric), c.day, literal(platform_id),
            *(c[r] for r in ROLLED),
        ).order_by(c.team_id, c.day))  # fmt: skip
        bulk.drop(table)


def _roll_up_stored(session: Session, bulk: _Bulk, import_id: int, platform_id: int,
                    metric: str) -> None:  # fmt: skip
    """Roll-ups from the rows this import stored (when some rows read were duplicates)."""
    rows = SurveyResponse.__table__.c
    monday = (
        rows.day - (cast(func.extract("isodow", rows.day), Integer) - 1)
        if bulk.postgres
        else func.date(rows.day, "weekday 0", "-6 days")
    )
    for model, period in ((TeamDailyRollup, rows.day), (TeamWeeklyRollup, monday)):
        grouped = (
            select(rows.team_id, literal(metric), period, literal(platform_id),
                   *rollup_counts(metric, rows.score))
            .where(rows.import_id == import_id)
            .group_by(rows.team_id, period)
            .order_by(rows.team_id, period)
        )  # fmt: skip
        _add_to_rollups(session, bulk, model, grouped)


def _store_through_staging(session: Session, bulk: _Bulk, rows: Iterable[tuple],
                           import_id: int, platform_id: int, metric: str) -> int:  # fmt: skip
    """PostgreSQL, when the file repeats rows stored before: COPY into a temporary table, then
    one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` in unique-index order (appending to the
    index instead of scattering into it). Returns how many rows were new."""
    staging = bulk.create(_staging_table(bulk.postgres))
    bulk.load(staging.name, STAGED, rows)
    session.connection().exec_driver_sql("ANALYZE survey_staging")
    staged = staging.c
    moved = insert_for("postgresql")(SurveyResponse.__table__).from_select(
        list(STORED),
        select(literal(platform_id), literal(import_id), literal(metric),
               *(staged[c] for c in STAGED)).order_by(staged.source_id),
    ).on_conflict_do_nothing(index_elements=["platform_id", "metric", "source_id"])  # fmt: skip
    inserted = session.execute(moved.execution_options(preserve_rowcount=True)).rowcount
    bulk.drop(staging)
    return inserted


def _date_reader(stream: BinaryIO, mapping: Mapping) -> DateReader:
    """The reader of the file's dates. For "auto", the first rows' dates settle the format
    (a short read of its own; the caller reads the file from its start again)."""
    if mapping.date_format != "auto":
        return DateReader(mapping.date_format)
    table = open_table(stream)
    at = next((i for i, name in enumerate(table.header) if name == mapping.date), None)
    values = [
        (line, record[at])
        for line, record in itertools.islice(table.rows, DATE_SAMPLE)
        if at is not None and at < len(record)
    ]
    stream.seek(0)
    return DateReader(settle_date_format(values))


def data_lines(stream: BinaryIO) -> int:
    """Lines after the header (for a progress bar), counted a megabyte at a time."""
    total = sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 20), b""))
    stream.seek(0)
    return max(total - 1, 1)


def _digest(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(1 << 20), b""):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


def _lookups(
    session: Session, platform_id: int, with_agents: bool, deployment_id: int | None
) -> tuple[dict, dict]:
    """Team and agent names a file may use, within the LMS, or within one deployment when the
    import comes from a person launched there (one LMS may serve several organisations)."""
    team_query = select(Team).where(Team.platform_id == platform_id)
    agent_query = select(User.id, User.email, User.sub, User.lms_username).where(
        User.platform_id == platform_id
    )
    if deployment_id is not None:
        team_query = team_query.where(Team.deployment_id == deployment_id)
        agent_query = agent_query.where(
            User.id.in_(
                select(Membership.user_id)
                .join(Team, Team.id == Membership.team_id)
                .where(Team.deployment_id == deployment_id)
            )
        )
    teams: dict[str, int] = {}
    for team in session.scalars(team_query):
        for key in (team.external_id, team.title, team.label):
            if key:
                teams.setdefault(key.strip().lower(), team.id)
    agents: dict[str, int] = {}
    if with_agents:
        for user_id, *keys in session.execute(agent_query):
            for key in keys:
                if key:
                    agents.setdefault(key.strip().lower(), user_id)
    return teams, agents


def import_survey(
    session: Session,
    *,
    platform_id: int,
    creator_id: int | None,
    filename: str,
    data: bytes | BinaryIO,
    mapping: Mapping,
    metric: str,
    timezone: str = "UTC",
    skip_bad: bool = False,
    progress: Progress | None = None,
    once_per_file: bool = True,
    deployment_id: int | None = None,
) -> ImportReport:
    """Import a survey file (bytes or a seekable binary stream). Without ``skip_bad`` a file
    with any bad row imports nothing and the report lists every bad row; with it the good rows
    are imported and the bad listed. The caller commits when ``report.ok``, else rolls back.
    ``once_per_file`` refuses a file imported before; API batches, which carry response ids,
    rely on those instead (a batch sent twice imports nothing the second time)."""
    if metric not in METRICS:
        raise ImportRefused(f"The metric must be one of {', '.join(METRICS)}.")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ImportRefused(f"Unknown time zone {timezone!r} (e.g. Europe/London).") from error
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    digest = _digest(stream) if once_per_file else secrets.token_hex(32)
    if stream.read(4) == ZIP_MAGIC:  # an Excel workbook, not text
        stream.seek(0)
        try:
            stream = workbook_as_csv(stream)
        except TableRefused as refused:
            raise ImportRefused(str(refused)) from refused
    stream.seek(0)
    earlier = session.scalar(
        select(SurveyImport).where(
            SurveyImport.platform_id == platform_id, SurveyImport.file_sha256 == digest
        )
    )
    if earlier is not None:
        when = f"{earlier.created_at:%d %B %Y}"
        raise ImportRefused(f"This file was already imported on {when} ({earlier.imported} rows).")
    teams, agents = _lookups(session, platform_id, bool(mapping.agent), deployment_id)

    record = SurveyImport(platform_id=platform_id, metric=metric, filename=filename[:255],
                          file_sha256=digest, created_by_id=creator_id)  # fmt: skip
    session.add(record)
    session.flush()
    bulk = _Bulk(session)
    report = _read_and_store(session, bulk, stream, record.id, platform_id, mapping, metric,
                             zone, teams, agents, skip_bad, progress)  # fmt: skip
    if report.ok:
        report.import_id = record.id
        record.imported, record.skipped_bad, record.skipped_duplicate = (
            report.imported, report.bad_rows, report.duplicates,
        )  # fmt: skip
        session.flush()
    return report


def _read_and_store(
    session: Session,
    bulk: _Bulk,
    stream: BinaryIO,
    import_id: int,
    platform_id: int,
    mapping: Mapping,
    metric: str,
    zone: ZoneInfo,
    teams: dict[str, int],
    agents: dict[str, int],
    skip_bad: bool,
    progress: Progress | None,
) -> ImportReport:
    """Read the stream once, checking every row, and store the good ones straight into place:
    one streaming COPY (PostgreSQL) or executemany (SQLite). The database works through the
    rows while Python reads the next ones. If the file repeats rows stored before, PostgreSQL's
    COPY stops at the unique index: the savepoint is rolled back and the file read again
    through a staging table that drops the repeats."""
    report = ImportReport()
    days = _TeamDays(metric)

    def checked(prefix: tuple) -> Iterator[tuple]:
        try:
            dates = _date_reader(stream, mapping)
            table = open_table(stream)
            checker = _Checker(table.header, table.read_as, dates, mapping, metric, zone, teams,
                               agents, bulk.postgres)  # fmt: skip
            read = 0
            quick, add = checker.quick, days.add
            for record in table.records:
                row = quick(record)
                if row is None:
                    if not record:
                        continue
                    row = checker.check(table.line, record)
                    if isinstance(row, list):
                        report.bad_rows += 1
                        report.bad.extend(row[: max(0, MAX_PROBLEMS - len(report.bad))])
                        continue
                read += 1
                if progress is not None and read % CHUNK == 0:
                    progress("read", read)
                if skip_bad or not report.bad_rows:
                    add(row[0], row[4], row[2])
                    yield prefix + row
        except TableRefused as refused:
            raise ImportRefused(str(refused)) from refused
        report.read = read

    prefix = (platform_id, import_id, metric)
    repeats = False
    if bulk.postgres:  # COPY cannot skip conflicts: try it whole, behind a savepoint
        savepoint = session.begin_nested()
        session.connection()  # emits the SAVEPOINT now: the COPY bypasses the session
        try:
            stored = bulk.load("survey_responses", STORED, checked(prefix))
            savepoint.commit()
        except Exception as error:
            if getattr(error, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
            savepoint.rollback()  # a row stored before: read again through staging
            repeats = True
    else:  # SQLite skips repeats itself (and its driver's savepoints are unreliable)
        stored = bulk.load("survey_responses", STORED, checked(prefix), skip_conflicts=True)
    if repeats:
        stream.seek(0)
        report, days = ImportReport(), _TeamDays(metric)
        stored = _store_through_staging(session, bulk, checked(()), import_id, platform_id,
                                        metric)  # fmt: skip
    if report.bad_rows and not skip_bad:
        report.refused = (
            f"{report.bad_rows} row(s) have problems, so nothing was imported. Fix them, or "
            "import without the bad rows."
        )
        return report
    if not report.read:
        report.refused = "The file has no rows to import."
        return report
    if progress is not None:
        progress("storing", report.read)
    report.imported, report.duplicates = stored, report.read - stored
    if report.duplicates:
        _roll_up_stored(session, bulk, import_id, platform_id, metric)
    else:
        _roll_up_read(session, bulk, days, platform_id)
    return report


def rollup_totals(session: Session, team_id: int, metric: str) -> dict[str, int]:
    row = session.execute(
        select(
            func.sum(TeamDailyRollup.responses), func.sum(TeamDailyRollup.score_sum),
            func.sum(TeamDailyRollup.top_two_box), func.sum(TeamDailyRollup.promoters),
            func.sum(TeamDailyRollup.detractors),
        ).where(TeamDailyRollup.team_id == team_id, TeamDailyRollup.metric == metric)
    ).one()  # fmt: skip
    keys = ("responses", "score_sum", "top_two_box", "promoters", "detractors")
    return {k: int(v or 0) for k, v in zip(keys, row, strict=True)}
