"""Training done before the tool arrived, or outside it, brought in from a file.

An organisation that trained half its teams last quarter in classrooms or another LMS brings
those completions in, so the impact analysis sees them. A row names a person (by e-mail, in
this LMS only), a training and the day it was completed, and optionally a score. The training
is one of the LMS's catalogue courses (by slug or title), or, when the row names a provider,
an outside training kept by its name.

Every row is checked before anything is written: one pass over the file checks each row's
cells and stages it in a temporary table (PostgreSQL's COPY), and a few set-based statements
then match the people, count the bad rows and store the good ones, so a million rows need no
more memory than the few hundred distinct days, scores and trainings they name. A completion
already brought in (same person, training and day) is not counted twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.bulk import (
    COPY_NULL,
    analyse_temporary,
    copy_lines,
    copy_text,
    create_temporary,
    drop_temporary,
    is_postgres,
    load_rows,
    plan_for_bulk,
)
from core.db import insert_for, utcnow
from core.numbers import NumberFormatError, parse_number
from core.tabular import (
    Column,
    DateReader,
    ImportOutcome,
    Problem,
    TableRefused,
    find_columns,
    open_table,
    settle_date_format,
)
from core.tabular import Table as FileTable  # a file's table, not the database's
from courses.models import Course, PastTraining
from courses.services import visible_to
from people.models import User

COLUMNS = (
    Column("email", ("e-mail", "email address", "mail", "learner email")),
    Column("course", ("training", "course name", "course title", "module")),
    Column("date", ("completed", "completed on", "completion date", "date completed")),
    Column("score", ("score %", "result", "grade", "percent"), required=False),
    Column("provider", ("where", "vendor", "delivered by", "source"), required=False),
)
MAX_PROBLEMS = 1000
DATE_SAMPLE = 5000


@dataclass
class CompletionsReport(ImportOutcome):
    rows: int = 0
    stored: int = 0
    already: int = 0
    outside: int = 0  # of the rows, outside trainings

    def summary(self) -> str:
        return (
            f"{self.stored} completions brought in ({self.outside} of outside trainings), "
            f"{self.already} already there"
            + (f", {self.bad_rows} bad rows skipped" if self.bad_rows else "")
        )


# A staged row: its line, the e-mail folded, the training, the day, the score, and whether
# the row's own cells are bad (a bad row is staged too: its e-mail may be unknown as well).
STAGED = (
    "line",
    "email",
    "course_id",
    "training_key",
    "training_name",
    "completed_on",
    "score_percent",
    "bad",
)
MEMO = 10_000  # distinct cell values remembered per column (dates, scores, courses)
ORDER = {"email": 0}  # a line's problems: its e-mail's first, then the cells' in file order


class _Checker:
    """Turns one record into the row to stage and the problems of its own cells. Whether the
    e-mail is a person of the LMS is asked of the database for all rows at once, after.

    A staged row is a tuple, or on PostgreSQL a line of COPY's text format (``as_text``):
    formatting it here, from parts read once per distinct value, costs less than handing
    psycopg a tuple a row."""

    def __init__(
        self,
        session: Session,
        platform_id: int,
        table: FileTable,
        columns: dict[str, str | None],
        dates: DateReader,
        *,
        as_text: bool = False,
    ) -> None:
        at = find_columns(table, COLUMNS, columns)
        self.at = tuple(at.get(label, -1) for label in ("email", "course", "date", "score"))
        self.provider_at = at.get("provider", -1)
        self.as_text = as_text
        self.dates, self.today = dates, utcnow().date()
        self.courses: dict[str, Course] = {}
        for course in session.scalars(select(Course).where(visible_to(platform_id))):
            for name in (course.slug, course.title):
                self.courses.setdefault(_fold(name), course)
        # A file of a million rows holds a few hundred distinct days, scores and trainings:
        # each is read once (the memos are emptied when a file has too many to remember).
        self.days: dict[str, tuple[date, str] | str] = {}
        self.scores: dict[str, tuple[float | None, str, str]] = {}
        self.trainings: dict[tuple[str, bool], _Training | str] = {}

    def check(self, line: int, record: list[str]) -> tuple[tuple | str, list[Problem]]:
        problems = []
        size = len(record)
        at_email, at_course, at_date, at_score = self.at
        email = record[at_email].strip().lower() if at_email < size else ""
        if not email:
            problems.append(Problem(line, "email", "no e-mail address"))
        name = " ".join(record[at_course].split()) if at_course < size else ""
        provider = 0 <= self.provider_at < size and bool(record[self.provider_at].strip())
        training = _remember(self.trainings, (name, provider), self.training)
        if isinstance(training, str):
            problems.append(Problem(line, "course", training))
        day = _remember(self.days, record[at_date].strip() if at_date < size else "", self.day)
        if isinstance(day, str):
            problems.append(Problem(line, "date", day))
        score_text = record[at_score].strip() if 0 <= at_score < size else ""
        score, why, score_copied = _remember(self.scores, score_text, _score)
        if why:
            problems.append(Problem(line, "score", why))
        if problems or isinstance(training, str) or isinstance(day, str):  # (the types)
            if self.as_text:
                return f"{line}\t{copy_text(email)}\t{BAD_ROW_REST}", problems
            return (line, email, None, None, None, None, None, True), problems
        if self.as_text:
            return (
                f"{line}\t{copy_text(email)}\t{training.copied}\t{day[1]}\t{score_copied}\tf\n",
                problems,
            )
        return (line, email, *training.stored, day[0], score, False), problems

    def training(self, named: tuple[str, bool]) -> _Training | str:
        """The training a row names: a catalogue course, or an outside one when the row
        names a provider; else why not."""
        name, provider = named
        course = self.courses.get(_fold(name))
        if not name:
            return "no course or training named"
        if course is None and not provider:
            return (
                f"no course {name!r} in this LMS's catalogue: name one by its slug or "
                "title, or fill in the provider column for training done elsewhere"
            )
        if course is not None and not provider:
            return _Training((course.id, f"course:{course.slug}", course.title))
        return _Training((None, f"outside:{_fold(name)}"[:200], name[:200]))

    def day(self, text: str) -> tuple[date, str] | str:
        moment = self.dates.read(text)
        if isinstance(moment, str):
            return moment
        if moment.date() > self.today:
            return f"{moment.date():%d %B %Y} is in the future"
        return moment.date(), moment.date().isoformat()


BAD_ROW_REST = "\t".join([COPY_NULL] * 5) + "\tt\n"  # a bad row's training, day, score


class _Training:
    """A training as stored (course id, key, name) and as a COPY text fragment."""

    def __init__(self, stored: tuple[int | None, str, str]) -> None:
        self.stored = stored
        self.copied = "\t".join(
            COPY_NULL if value is None else copy_text(str(value)) for value in stored
        )


def _remember(memo: dict, key: Any, read: Callable[[Any], Any]) -> Any:
    found = memo.get(key, memo)
    if found is memo:
        if len(memo) >= MEMO:
            memo.clear()
        found = memo[key] = read(key)
    return found


def _fold(name: str) -> str:
    return " ".join(name.split()).casefold()


def _score(text: str) -> tuple[float | None, str, str]:
    """The score, why it is not one, and the score as COPY's text."""
    if not text:
        return None, "", COPY_NULL
    try:
        value = parse_number(text).value
    except NumberFormatError as refused:
        return None, str(refused), COPY_NULL
    if not 0 <= value <= 100:
        return None, f"a score is a percentage from 0 to 100, not {text!r}", COPY_NULL
    return value, "", repr(float(value))


def import_completions(
    session: Session,
    *,
    platform_id: int,
    data: bytes | BinaryIO,
    source: str,
    columns: dict[str, str | None] | None = None,
    date_format: str = "auto",
    skip_bad: bool = False,
) -> CompletionsReport:
    """Bring in a file of completions. Does not commit: the caller commits when
    ``report.ok``.

    One pass over the file checks each row's cells and stages every row (COPY on
    PostgreSQL); then a few statements over the staged rows find the people by e-mail (in
    this LMS only), count the bad rows, and store the good ones when the file is good (or
    bad rows are skipped): a file with a bad row stores nothing."""
    report = CompletionsReport()
    plan_for_bulk(session)
    stream = BytesSource(data)
    staging = _staging_table()
    people = _people_table()
    try:
        dates = _dates(stream, columns or {}, date_format)
        postgres = is_postgres(session)
        checker = _Checker(
            session,
            platform_id,
            open_table(stream.fresh()),
            columns or {},
            dates,
            as_text=postgres,
        )
        create_temporary(session, staging)
        load = copy_lines if postgres else load_rows
        load(session, staging.name, STAGED, _staged(checker, stream, report))
    except TableRefused as refused:
        report.refused = str(refused)
        drop_temporary(session, staging)
        return report
    try:
        analyse_temporary(session, staging)
        create_temporary(session, people)
        _match_people(session, people, platform_id)
        _count(session, staging, people, report)
        if report.bad_rows and not skip_bad:
            report.refuse_bad_rows("Nothing was brought in")
            return report
        report.stored = _store(session, staging, people, platform_id, source)
        report.already = report.rows - report.bad_rows - report.stored
        return report
    finally:
        drop_temporary(session, staging)
        drop_temporary(session, people)


def _staged(checker: _Checker, stream: BytesSource, report: CompletionsReport) -> Iterator[Any]:
    """Every row of the file, checked once, as staged; the first problems kept."""
    for line, record in open_table(stream.fresh()).rows:
        report.rows += 1
        row, problems = checker.check(line, record)
        if problems and len(report.problems) < MAX_PROBLEMS:
            report.problems.extend(problems[: MAX_PROBLEMS - len(report.problems)])
        yield row


def _staging_table() -> sa.Table:
    stored = PastTraining.__table__.c
    return sa.Table(
        "past_training_staging",
        sa.MetaData(),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("email", sa.String, nullable=False),
        *(sa.Column(c, stored[c].type) for c in STAGED[2:-1]),
        sa.Column("bad", sa.Boolean, nullable=False),
        prefixes=["TEMPORARY"],
    )


def _people_table() -> sa.Table:
    return sa.Table(
        "past_training_people",
        sa.MetaData(),
        sa.Column("email", sa.String, primary_key=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        prefixes=["TEMPORARY"],
    )


def _match_people(session: Session, people: sa.Table, platform_id: int) -> None:
    """The LMS's people by e-mail, folded (the first user when two share one); never
    another LMS's."""
    email = sa.func.lower(User.email)
    session.execute(
        people.insert().from_select(
            ["email", "user_id"],
            select(email, sa.func.min(User.id))
            .where(User.platform_id == platform_id, User.email.is_not(None))
            .group_by(email),
        )
    )


def _count(
    session: Session, staging: sa.Table, people: sa.Table, report: CompletionsReport
) -> None:
    """How many rows are bad (their own cells, or an e-mail that is no person of this LMS)
    and how many good ones are outside trainings; the unknown e-mails join the problems."""
    s, p = staging.c, people.c
    unknown = p.user_id.is_(None)
    bad = sa.or_(s.bad, unknown)
    bad_rows, outside = session.execute(
        select(
            sa.func.count().filter(bad),
            sa.func.count().filter(sa.and_(sa.not_(bad), s.course_id.is_(None))),
        ).select_from(staging.outerjoin(people, p.email == s.email))
    ).one()
    report.bad_rows, report.outside = bad_rows, outside
    if not bad_rows:
        return
    strangers = session.execute(
        select(s.line, s.email)
        .select_from(staging.outerjoin(people, p.email == s.email))
        .where(unknown, s.email != "")
        .order_by(s.line)
        .limit(MAX_PROBLEMS)
    )
    merged = report.problems + [
        Problem(
            line,
            "email",
            (
                f"no person with the e-mail {email} in this LMS (bring in the roster "
                "first, or check the address)"
            ),
        )
        for line, email in strangers
    ]
    merged.sort(key=lambda problem: (problem.line, ORDER.get(problem.column, 1)))
    report.problems = merged[:MAX_PROBLEMS]


STORED = (
    "platform_id",
    "user_id",
    "course_id",
    "training_key",
    "training_name",
    "completed_on",
    "score_percent",
    "source",
    "imported_at",
)


def _store(
    session: Session, staging: sa.Table, people: sa.Table, platform_id: int, source: str
) -> int:
    """Store the good rows in one ``INSERT … SELECT``, leaving out a completion brought in
    before (or twice in the file); returns how many are new."""
    s, p = staging.c, people.c
    table = PastTraining.__table__
    rows = (
        select(
            sa.literal(platform_id, sa.Integer),
            p.user_id,
            s.course_id,
            s.training_key,
            s.training_name,
            s.completed_on,
            s.score_percent,
            sa.literal(source[:255], table.c.source.type),
            sa.literal(utcnow(), table.c.imported_at.type),
        )
        .select_from(staging.join(people, p.email == s.email))
        .where(sa.not_(s.bad))
    )
    moved = (
        insert_for(session.connection().dialect.name)(table)
        .from_select(list(STORED), rows)
        .on_conflict_do_nothing(index_elements=["user_id", "training_key", "completed_on"])
    )
    return session.execute(moved.execution_options(preserve_rowcount=True)).rowcount


class BytesSource:
    """The uploaded file, read from its start as often as the passes need."""

    def __init__(self, data: bytes | BinaryIO) -> None:
        self.data = data

    def fresh(self) -> bytes | BinaryIO:
        if not isinstance(self.data, bytes):
            self.data.seek(0)
        return self.data


def _dates(stream: BytesSource, columns: dict[str, str | None], date_format: str) -> DateReader:
    if date_format != "auto":
        return DateReader(date_format)
    table = open_table(stream.fresh())
    at = find_columns(table, COLUMNS, columns)["date"]
    values = []
    for line, record in table.rows:
        if at < len(record):
            values.append((line, record[at]))
        if len(values) >= DATE_SAMPLE:
            break
    return DateReader(settle_date_format(values))
