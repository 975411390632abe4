"""Survey import: a CSV file checked row by row, then stored whole (or without its bad rows,
when the person asks), with the per-team daily roll-ups updated in the same transaction.

Every bad row is reported (line, column, reason). A file imported twice is refused; a row whose
source id was imported before is counted once. Dates are read in the time zone the person
states (ISO 8601 times with their own offset keep it) and stored in UTC.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from insights.models import METRICS, SurveyImport, SurveyResponse, TeamDailyRollup
from people.models import Team, User

DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%d/%m/%Y %H:%M", "%d/%m/%Y")
CHUNK = 5000
MAX_PROBLEMS = 1000


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

    @property
    def ok(self) -> bool:
        return not self.refused


class ImportRefused(ValueError):
    def __init__(self, reason: str, problems: list[Problem] | None = None) -> None:
        super().__init__(reason)
        self.problems = problems or []


def parse_moment(text: str, zone: ZoneInfo) -> datetime | None:
    value = text.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
        for pattern in DATE_FORMATS:
            try:
                parsed = datetime.strptime(value, pattern)
                break
            except ValueError:
                continue
        if parsed is None:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class Row:
    line: int
    team: str
    agent: str
    score: int
    answered_at: datetime
    channel: str
    source_id: str


def read_rows(text: str, mapping: Mapping, metric: str, zone: ZoneInfo) -> Iterator[Row | Problem]:
    """Each data row as a ``Row`` or as the ``Problem``(s) that make it bad."""
    low, high = METRICS[metric]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    needed = [c for c in (mapping.team, mapping.date, mapping.score) if c]
    optional = [c for c in (mapping.agent, mapping.channel, mapping.source_id) if c]
    missing = [c for c in needed + optional if c not in header]
    if missing:
        wanted = ", ".join(repr(c) for c in missing)
        raise ImportRefused(f"The file has no column {wanted}. Its columns: {', '.join(header)}.")
    for record in reader:
        line = reader.line_num
        problems = []
        team = (record.get(mapping.team) or "").strip()
        if not team:
            problems.append(Problem(line, mapping.team, "no team"))
        moment = parse_moment(record.get(mapping.date) or "", zone)
        if moment is None:
            problems.append(
                Problem(line, mapping.date, f"not a date: {record.get(mapping.date)!r}")
            )
        raw = (record.get(mapping.score) or "").strip()
        try:
            score = int(raw)
            if not low <= score <= high or str(score) != raw.lstrip("+"):
                raise ValueError
        except ValueError:
            problems.append(
                Problem(
                    line,
                    mapping.score,
                    f"{metric.upper()} scores are whole numbers {low}-{high}, not {raw!r}",
                )
            )
            score = 0
        if problems:
            yield from problems
            continue
        source = (record.get(mapping.source_id) or "").strip() if mapping.source_id else ""
        if not source:
            source = hashlib.sha256(
                "\x1f".join(f"{k}={record[k]}" for k in sorted(record) if k).encode()
            ).hexdigest()[:40]
        agent = (record.get(mapping.agent) or "").strip() if mapping.agent else ""
        channel = (record.get(mapping.channel) or "").strip()[:30] if mapping.channel else ""
        yield Row(line, team, agent, score, moment, channel, source[:100])  # type: ignore[arg-type]


def import_survey(
    session: Session,
    *,
    platform_id: int,
    creator_id: int | None,
    filename: str,
    data: bytes,
    mapping: Mapping,
    metric: str,
    timezone: str = "UTC",
    skip_bad: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a survey file. Without ``skip_bad`` a file with any bad row imports nothing and
    the report lists every bad row; with it the good rows are imported and the bad listed."""
    if metric not in METRICS:
        raise ImportRefused(f"The metric must be one of {', '.join(METRICS)}.")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ImportRefused(f"Unknown time zone {timezone!r} (e.g. Europe/London).") from error
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportRefused(
            f"Line {line} is not UTF-8 text; save the file as UTF-8 CSV."
        ) from error
    digest = hashlib.sha256(data).hexdigest()
    earlier = session.scalar(
        select(SurveyImport).where(
            SurveyImport.platform_id == platform_id, SurveyImport.file_sha256 == digest
        )
    )
    if earlier is not None:
        when = f"{earlier.created_at:%d %B %Y}"
        raise ImportRefused(f"This file was already imported on {when} ({earlier.imported} rows).")

    teams: dict[str, int] = {}
    for team in session.scalars(select(Team).where(Team.platform_id == platform_id)):
        for key in (team.external_id, team.title, team.label):
            if key:
                teams.setdefault(key.strip().lower(), team.id)
    agents: dict[str, int] = {}
    if mapping.agent:
        for user in session.scalars(select(User).where(User.platform_id == platform_id)):
            for key in (user.email, user.sub, user.lms_username):
                if key:
                    agents.setdefault(key.strip().lower(), user.id)

    report = ImportReport()
    good: list[tuple[Row, int, int | None]] = []
    bad_lines: set[int] = set()
    for item in read_rows(text, mapping, metric, zone):
        if isinstance(item, Problem):
            bad_lines.add(item.line)
            if len(report.bad) < MAX_PROBLEMS:
                report.bad.append(item)
            continue
        team_id = teams.get(item.team.lower())
        agent_id = agents.get(item.agent.lower()) if item.agent else None
        problems = []
        if team_id is None:
            problems.append(
                Problem(item.line, mapping.team, f"no team called {item.team!r} in this LMS")
            )
        if item.agent and agent_id is None:
            problems.append(
                Problem(item.line, mapping.agent, f"no person {item.agent!r} in this LMS")
            )
        if problems:
            bad_lines.add(item.line)
            report.bad.extend(problems[: max(0, MAX_PROBLEMS - len(report.bad))])
            continue
        good.append((item, team_id, agent_id))  # type: ignore[arg-type]
    report.bad_rows = len(bad_lines)
    if bad_lines and not skip_bad:
        report.refused = (
            f"{report.bad_rows} row(s) have problems, so nothing was imported. Fix them, or "
            "import without the bad rows."
        )
        return report
    if not good:
        report.refused = "The file has no rows to import."
        return report

    record = SurveyImport(platform_id=platform_id, metric=metric, filename=filename[:255],
                          file_sha256=digest, created_by_id=creator_id)  # fmt: skip
    session.add(record)
    session.flush()
    seen = set(
        session.scalars(
            select(SurveyResponse.source_id).where(
                SurveyResponse.platform_id == platform_id,
                SurveyResponse.metric == metric,
                SurveyResponse.source_id.in_({row.source_id for row, _, _ in good}),
            )
        )
    ) if len(good) <= 20_000 else _all_source_ids(session, platform_id, metric)  # fmt: skip
    fresh = []
    for row, team_id, agent_id in good:
        if row.source_id in seen:
            report.duplicates += 1
            continue
        seen.add(row.source_id)
        fresh.append((row, team_id, agent_id))
    for start in range(0, len(fresh), CHUNK):
        chunk = fresh[start : start + CHUNK]
        session.execute(insert(SurveyResponse), [
            {"platform_id": platform_id, "import_id": record.id, "team_id": team_id,
             "agent_id": agent_id, "metric": metric, "score": row.score,
             "answered_at": row.answered_at, "day": row.answered_at.date(),
             "channel": row.channel, "source_id": row.source_id}
            for row, team_id, agent_id in chunk
        ])  # fmt: skip
        _roll_up(
            session,
            platform_id,
            metric,
            [(team_id, row.answered_at.date(), row.score) for row, team_id, _ in chunk],
        )
        if progress is not None:
            progress(len(chunk))
    report.imported = len(fresh)
    record.imported, record.skipped_bad, record.skipped_duplicate = (
        report.imported, report.bad_rows, report.duplicates,
    )  # fmt: skip
    session.flush()
    return report


def _all_source_ids(session: Session, platform_id: int, metric: str) -> set[str]:
    return set(
        session.scalars(
            select(SurveyResponse.source_id).where(
                SurveyResponse.platform_id == platform_id, SurveyResponse.metric == metric
            )
        )
    )


def _roll_up(
    session: Session, platform_id: int, metric: str, rows: list[tuple[int, date, int]]
) -> None:
    """Add rows to the per-team daily roll-ups (insert, or add to the existing counts)."""
    sums: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    for team_id, day, score in rows:
        s = sums[(team_id, day)]
        s[0] += 1
        s[1] += score
        s[2] += metric == "csat" and score >= 4
        s[3] += metric == "nps" and score >= 9
        s[4] += metric == "nps" and 7 <= score <= 8
        s[5] += metric == "nps" and score <= 6
    values = [
        {"team_id": team_id, "metric": metric, "day": day, "platform_id": platform_id,
         "responses": s[0], "score_sum": s[1], "top_two_box": s[2], "promoters": s[3],
         "passives": s[4], "detractors": s[5]}
        for (team_id, day), s in sums.items()
    ]  # fmt: skip
    dialect = session.get_bind().dialect.name
    upsert = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(TeamDailyRollup)
    columns = ("responses", "score_sum", "top_two_box", "promoters", "passives", "detractors")
    session.execute(
        upsert.on_conflict_do_update(
            index_elements=["team_id", "metric", "day"],
            set_={c: getattr(TeamDailyRollup, c) + getattr(upsert.excluded, c) for c in columns},
        ),
        values,
    )


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
