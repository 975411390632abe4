"""Survey import: a CSV stream checked row by row, then stored whole (or without its bad rows,
when the person asks), with the per-team daily and per-agent weekly roll-ups updated in the
same transaction.

Every bad row is reported (line, column, reason). A file imported twice is refused; a row whose
source id was imported before is counted once. Dates are read in the time zone the person
states (ISO 8601 times with their own offset keep it), stored in UTC, and counted on the day
they fell in that time zone.

Memory stays bounded whatever the file's size: the file is read line by line and the checked
rows go straight to the database (``insights.bulk``: COPY or executemany), so duplicates are
found by the unique index rather than by a set in memory. What a score counts for comes from
its metric (``insights.metrics``).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import secrets
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from core.numbers import NumberFormatError, parse_number
from core.tabular import (
    ZIP_MAGIC,
    DateReader,
    Problem,
    TableRefused,
    open_table,
    settle_date_format,
    workbook_as_csv,
)
from insights.bulk import STAGED, BulkLoader, DaySpan
from insights.metrics import METRICS, RESPONSES, SCORE_SUM, UNCOUNTED, Metric
from insights.models import SurveyImport, SurveyResponse, TeamDailyRollup, TeamWeeklyRollup
from people.models import Membership, Team, User

PROGRESS_EVERY = 20_000  # rows between progress reports

DATE_SAMPLE = 2000  # rows read first to settle an "auto" date format
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


@dataclass(frozen=True)
class _Rules:
    """What a file's rows are checked against: its columns, the metric's scale, the time zone
    of dates without one, and the team and agent names of the LMS (lower case)."""

    mapping: Mapping
    metric: Metric
    zone: ZoneInfo
    teams: dict[str, int]
    agents: dict[str, int]


class _Checker:
    """Turns CSV records into staging tuples, or into the problems that make them bad."""

    def __init__(
        self, header: list[str], read_as: str, dates: DateReader, rules: _Rules, postgres: bool
    ) -> None:
        mapping, metric, zone = rules.mapping, rules.metric, rules.zone
        teams, agents = rules.teams, rules.agents
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
        self.scores = {str(s): s for s in metric.scores}
        self.scale = metric.scale
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
                written = record[date_at].strip()
                moment = from_iso(written)
                agent_text = record[agent_at].strip() if agent_at is not None else ""
                agent_id = agents[agent_text.lower()] if agent_text else None
            except (KeyError, ValueError):
                return None
            source = record[id_at].strip()
            if moment.tzinfo is not None or not source:
                return None
            # "2026-11-02 09:15", as most exports write it: a valid date (from_iso said so)
            # already in the stored shape but for its seconds; building it anew costs more.
            if len(written) == 16 and written[10] == " " and written[7] == "-":
                stamp = written + ":00.000000"
            else:
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


class _TeamDays:
    """Per team and day, the roll-up counts of the rows read so far (at most teams x days
    entries, whatever the number of rows). ``add`` runs once per row: each score adds to the
    one count its metric files it under (``Metric.slots``), or to a spare one left out.

    The counts lie in one flat array, ``WIDTH`` per team-day, found by offset: a list per
    team-day made the garbage collector walk hundreds of thousands of lists again and again
    while the file was read (a sixth of the tally's time at a million rows)."""

    WIDTH = UNCOUNTED + 1

    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        self.offsets: dict[tuple[int, str], int] = {}
        self.order: list[tuple[int, str]] | None = None
        self.counts = array("q")
        offsets, counts, blank = self.offsets, self.counts, array("q", [0] * self.WIDTH)
        slot = [UNCOUNTED] * (max(metric.scores) + 1)
        for score, field_at in metric.slots().items():
            slot[score] = field_at

        def add(team_id: int, day: str, score: int) -> None:
            at = offsets.get((team_id, day))
            if at is None:
                at = offsets[(team_id, day)] = len(counts)
                counts.extend(blank)
            counts[at + RESPONSES] += 1
            counts[at + SCORE_SUM] += score
            counts[at + slot[score]] += 1

        self.add = add

    def span(self) -> DaySpan:
        """The teams counted, and the first and last day."""
        days = {day for _, day in self.offsets}
        teams = sorted({team_id for team_id, _ in self.offsets})
        return teams, date.fromisoformat(min(days)), date.fromisoformat(max(days))

    def days(self) -> Iterator[tuple]:
        """(team, day, six counts), in team and day order: the roll-ups' key order, which
        PostgreSQL's B-tree takes faster than the file's, and in which weeks are summed."""
        if self.order is None:  # sorted once: the daily and the weekly roll-ups read both
            self.order = sorted(self.offsets)
        counts, offsets = self.counts, self.offsets
        for key in self.order:
            at = offsets[key]
            yield (*key, *counts[at : at + UNCOUNTED])


def _roll_up_read(bulk: BulkLoader, read: _TeamDays, platform_id: int) -> None:
    """Roll-ups from the counts gathered while reading (every row read was stored)."""
    bulk.add_counts(read.metric.key, platform_id, read.days, read.span())


def _roll_up_stored(bulk: BulkLoader, import_id: int, platform_id: int, metric: Metric) -> None:
    """Roll-ups from the rows this import stored (when some rows read were duplicates)."""
    rows = SurveyResponse.__table__.c
    for model, period in ((TeamDailyRollup, rows.day), (TeamWeeklyRollup, bulk.monday(rows.day))):
        grouped = (
            select(
                rows.team_id,
                literal(metric.key),
                period,
                literal(platform_id),
                *metric.sql_counts(rows.score),
            )
            .where(rows.import_id == import_id)
            .group_by(rows.team_id, period)
            .order_by(rows.team_id, period)
        )
        bulk.add_grouped(model, grouped)


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

    record = SurveyImport(
        platform_id=platform_id,
        metric=metric,
        filename=filename[:255],
        file_sha256=digest,
        created_by_id=creator_id,
    )
    session.add(record)
    session.flush()
    rules = _Rules(mapping, METRICS[metric], zone, teams, agents)
    report = _read_and_store(
        BulkLoader(session), stream, record.id, platform_id, rules, skip_bad, progress
    )
    if report.ok:
        report.import_id = record.id
        record.imported, record.skipped_bad, record.skipped_duplicate = (
            report.imported,
            report.bad_rows,
            report.duplicates,
        )
        session.flush()
    return report


# Where the checker's rows (``STAGED`` columns) hold what the tally needs.
TEAM_AT, SCORE_AT, DAY_AT = (STAGED.index(c) for c in ("team_id", "score", "day"))


def _read_and_store(
    bulk: BulkLoader,
    stream: BinaryIO,
    import_id: int,
    platform_id: int,
    rules: _Rules,
    skip_bad: bool,
    progress: Progress | None,
) -> ImportReport:
    """Read the stream once, checking every row, and hand the good ones to the bulk loader,
    which stores them straight into place while Python reads the next ones. If the loader
    must read them again (PostgreSQL, when the file repeats rows stored before), the count
    starts afresh from the file's start."""
    metric = rules.metric
    report = ImportReport()
    days = _TeamDays(metric)

    def checked(prefix: tuple) -> Iterator[tuple]:
        nonlocal report, days
        stream.seek(0)
        report, days = ImportReport(), _TeamDays(metric)
        try:
            dates = _date_reader(stream, rules.mapping)
            table = open_table(stream)
            checker = _Checker(table.header, table.read_as, dates, rules, bulk.postgres)
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
                if progress is not None and read % PROGRESS_EVERY == 0:
                    progress("read", read)
                if skip_bad or not report.bad_rows:
                    add(row[TEAM_AT], row[DAY_AT], row[SCORE_AT])
                    yield prefix + row
        except TableRefused as refused:
            raise ImportRefused(str(refused)) from refused
        report.read = read

    stored = bulk.store_responses(
        checked, platform_id=platform_id, import_id=import_id, metric=metric.key
    )
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
        _roll_up_stored(bulk, import_id, platform_id, metric)
    else:
        _roll_up_read(bulk, days, platform_id)
    return report


def rollup_totals(session: Session, team_id: int, metric: str) -> dict[str, int]:
    row = session.execute(
        select(
            func.sum(TeamDailyRollup.responses),
            func.sum(TeamDailyRollup.score_sum),
            func.sum(TeamDailyRollup.top_two_box),
            func.sum(TeamDailyRollup.promoters),
            func.sum(TeamDailyRollup.detractors),
        ).where(TeamDailyRollup.team_id == team_id, TeamDailyRollup.metric == metric)
    ).one()
    keys = ("responses", "score_sum", "top_two_box", "promoters", "detractors")
    return {k: int(v or 0) for k, v in zip(keys, row, strict=True)}
