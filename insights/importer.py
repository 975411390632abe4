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

import codecs
import csv
import hashlib
import io
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    Column,
    ColumnElement,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    case,
    cast,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from insights.models import (
    METRICS,
    AgentWeeklyRollup,
    SurveyImport,
    SurveyResponse,
    TeamDailyRollup,
)
from people.models import Team, User

DATE_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y")
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

    @property
    def ok(self) -> bool:
        return not self.refused


class ImportRefused(ValueError):
    def __init__(self, reason: str, problems: list[Problem] | None = None) -> None:
        super().__init__(reason)
        self.problems = problems or []


def parse_moment(value: str) -> datetime | None:
    """ISO 8601 (with or without a time or an offset), or day-first dates."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(value, pattern)
        except ValueError:
            continue
    return None


def _lines(stream: BinaryIO) -> Iterator[str]:
    """The stream's lines as text; a line that is not UTF-8 stops the import with its number."""
    decode = codecs.getincrementaldecoder("utf-8-sig")().decode
    for number, raw in enumerate(stream, start=1):
        try:
            yield decode(raw)
        except UnicodeDecodeError as error:
            raise ImportRefused(
                f"Line {number} is not UTF-8 text; save the file as UTF-8 CSV."
            ) from error


class _Checker:
    """Turns CSV records into staging tuples, or into the problems that make them bad."""

    def __init__(
        self,
        header: list[str],
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
                f"The file has no column {names}. Its columns: {', '.join(header)}."
            )
        position = {name: header.index(name) for name in wanted}
        self.mapping, self.metric, self.zone = mapping, metric, zone
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
        self.weeks: dict[str, str] = {}  # day -> its Monday (as many as the file has days)

    def check(self, line: int, record: list[str]) -> tuple | list[Problem]:
        if len(record) < self.width:
            return [Problem(line, "", f"{len(record)} values where the header has {self.width}")]
        problems = []
        team_text = record[self.team_at].strip()
        team_id = self.teams.get(team_text.lower())
        if team_id is None:
            reason = f"no team called {team_text!r} in this LMS" if team_text else "no team"
            problems.append(Problem(line, self.mapping.team, reason))
        raw_moment = record[self.date_at]
        when = self._moment(raw_moment)
        if not when:
            problems.append(Problem(line, self.mapping.date, f"not a date: {raw_moment!r}"))
        raw_score = record[self.score_at].strip()
        score = self.scores.get(raw_score)
        if score is None:
            problems.append(Problem(line, self.mapping.score, f"{self.scale}, not {raw_score!r}"))
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
        stamp, day, week = when
        return (team_id, agent_id, score, stamp, day, week, channel, source[:100])

    def _moment(self, raw: str) -> tuple[str, str, str] | tuple[()]:
        """(UTC time as the database reads it, local day, Monday of that week), or () when
        not a date."""
        moment = parse_moment(raw.strip())
        if moment is None:
            return ()
        if moment.tzinfo is not None:
            day = moment.astimezone(self.zone).date()
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        else:
            day = moment.date()
            if not self.utc_zone:
                moment = moment.replace(tzinfo=self.zone).astimezone(UTC).replace(tzinfo=None)
        day_text = day.isoformat()
        week = self.weeks.get(day_text)
        if week is None:
            week = self.weeks[day_text] = (day - timedelta(days=day.weekday())).isoformat()
        return moment.isoformat(" ", "microseconds") + self.offset, day_text, week


STAGED = ("team_id", "agent_id", "score", "answered_at", "day", "channel", "source_id")
STAGING_ONLY = ("week",)  # the Monday of ``day``, for the agents' weekly roll-ups


def _staging_table(postgres: bool) -> Table:
    return Table(
        "survey_staging",
        MetaData(),
        Column("team_id", Integer, nullable=False),
        Column("agent_id", Integer),
        Column("score", Integer, nullable=False),
        Column("answered_at", DateTime(timezone=postgres), nullable=False),
        Column("day", Date, nullable=False),
        Column("week", Date, nullable=False),
        Column("channel", String(30), nullable=False),
        Column("source_id", String(100), nullable=False),
        prefixes=["TEMPORARY"],
    )


class _Staging:
    """A temporary table on the session's connection that checked rows are loaded into."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.postgres = self.connection.dialect.name == "postgresql"
        self.table = _staging_table(self.postgres)
        if not self.postgres:
            self.connection.exec_driver_sql("PRAGMA cache_size=-262144")
        self.drop()
        self.table.create(self.connection)

    def load(self, rows: Iterable[tuple]) -> None:
        cursor = self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        if self.postgres:
            with cursor.copy("COPY survey_staging FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        batch: list[tuple] = []
        insert = "INSERT INTO survey_staging VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        for row in rows:
            batch.append(row)
            if len(batch) == CHUNK:
                cursor.executemany(insert, batch)
                batch.clear()
        if batch:
            cursor.executemany(insert, batch)

    def drop(self) -> None:
        self.connection.exec_driver_sql("DROP TABLE IF EXISTS survey_staging")


ROLLED = ("responses", "score_sum", "top_two_box", "promoters", "passives", "detractors")


def _counted(metric: str, score: ColumnElement[int]) -> list:
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


def _store(
    session: Session,
    staging: _Staging,
    staged_count: int,
    import_id: int,
    platform_id: int,
    metric: str,
) -> int:
    """Move staged rows into place (the unique index drops rows imported before) and add them
    to the roll-ups. Returns how many rows were new."""
    upsert = postgresql_insert if staging.postgres else sqlite_insert
    staged = staging.table.c
    if staging.postgres:  # temporary tables are never analysed on their own
        session.connection().exec_driver_sql("ANALYZE survey_staging")
    moved = upsert(SurveyResponse.__table__).from_select(
        ["platform_id", "import_id", "metric", *STAGED],
        # In index order: appending to the unique index instead of inserting at random
        # places in it keeps a large import from thrashing the database's cache.
        select(literal(platform_id), literal(import_id), literal(metric),
               *(staged[c] for c in STAGED)).where(true()).order_by(staged.source_id),
    ).on_conflict_do_nothing(index_elements=["platform_id", "metric", "source_id"])  # fmt: skip
    inserted = session.execute(moved.execution_options(preserve_rowcount=True)).rowcount
    # Without duplicates the staged rows are exactly the new rows: roll them up from the
    # staging table (a plain scan); otherwise from the rows this import added.
    responses = SurveyResponse.__table__.c
    if inserted == staged_count:
        rows, only_new, week = staged, true(), staged.week
    else:
        rows, only_new = responses, responses.import_id == import_id
        week = (
            rows.day - (cast(func.extract("isodow", rows.day), Integer) - 1)
            if staging.postgres
            else func.date(rows.day, "weekday 0", "-6 days")
        )
    for model, unit, period, named in (
        (TeamDailyRollup, rows.team_id, rows.day, true()),
        (AgentWeeklyRollup, rows.agent_id, week, rows.agent_id.is_not(None)),
    ):
        grouped = (
            select(unit, literal(metric), period, literal(platform_id),
                   *_counted(metric, rows.score))
            .where(only_new, named)
            .group_by(unit, period)
        )  # fmt: skip
        keys = [c.name for c in model.__table__.primary_key.columns]
        statement = upsert(model.__table__).from_select([*keys, "platform_id", *ROLLED], grouped)
        session.execute(statement.on_conflict_do_update(
            index_elements=keys,
            set_={c: model.__table__.c[c] + statement.excluded[c] for c in ROLLED},
        ))  # fmt: skip
    return inserted


def _digest(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(1 << 20), b""):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


def _lookups(session: Session, platform_id: int, with_agents: bool) -> tuple[dict, dict]:
    teams: dict[str, int] = {}
    for team in session.scalars(select(Team).where(Team.platform_id == platform_id)):
        for key in (team.external_id, team.title, team.label):
            if key:
                teams.setdefault(key.strip().lower(), team.id)
    agents: dict[str, int] = {}
    if with_agents:
        for user_id, *keys in session.execute(
            select(User.id, User.email, User.sub, User.lms_username).where(
                User.platform_id == platform_id
            )
        ):
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
    earlier = session.scalar(
        select(SurveyImport).where(
            SurveyImport.platform_id == platform_id, SurveyImport.file_sha256 == digest
        )
    )
    if earlier is not None:
        when = f"{earlier.created_at:%d %B %Y}"
        raise ImportRefused(f"This file was already imported on {when} ({earlier.imported} rows).")
    teams, agents = _lookups(session, platform_id, bool(mapping.agent))

    reader = csv.reader(_lines(stream))
    header = [name.strip() for name in next(reader, [])]
    staging = _Staging(session)
    checker = _Checker(header, mapping, metric, zone, teams, agents, staging.postgres)
    report = ImportReport()
    staged = 0

    def checked_rows() -> Iterator[tuple]:
        nonlocal staged
        for record in reader:
            if not record:
                continue
            row = checker.check(reader.line_num, record)
            if isinstance(row, list):
                report.bad_rows += 1
                report.bad.extend(row[: max(0, MAX_PROBLEMS - len(report.bad))])
                continue
            staged += 1
            if progress is not None and staged % CHUNK == 0:
                progress("read", staged)
            if skip_bad or not report.bad_rows:
                yield row

    try:
        staging.load(checked_rows())
    except csv.Error as error:
        raise ImportRefused(f"Line {reader.line_num} is not valid CSV: {error}.") from error
    if report.bad_rows and not skip_bad:
        report.refused = (
            f"{report.bad_rows} row(s) have problems, so nothing was imported. Fix them, or "
            "import without the bad rows."
        )
        staging.drop()
        return report
    if not staged:
        report.refused = "The file has no rows to import."
        staging.drop()
        return report
    if progress is not None:
        progress("storing", staged)
    record = SurveyImport(platform_id=platform_id, metric=metric, filename=filename[:255],
                          file_sha256=digest, created_by_id=creator_id)  # fmt: skip
    session.add(record)
    session.flush()
    report.imported = _store(session, staging, staged, record.id, platform_id, metric)
    staging.drop()
    report.duplicates = staged - report.imported
    report.import_id = record.id
    record.imported, record.skipped_bad, record.skipped_duplicate = (
        report.imported, report.bad_rows, report.duplicates,
    )  # fmt: skip
    session.flush()
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
