"""Training done before the tool arrived, or outside it, brought in from a file.

An organisation that trained half its teams last quarter in classrooms or another LMS brings
those completions in, so the impact analysis sees them. A row names a person (by e-mail, in
this LMS only), a training and the day it was completed, and optionally a score. The training
is one of the LMS's catalogue courses (by slug or title), or, when the row names a provider,
an outside training kept by its name.

Every row is checked before anything is written, in a first pass over the file; the second
pass stores rows in slices, so a million rows need no more memory than a slice. A completion
already brought in (same person, training and day) is not counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.bulk import create_temporary, drop_temporary, is_postgres, load_rows
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


@dataclass(frozen=True)
class _Row:
    user_id: int
    course_id: int | None
    key: str
    name: str
    completed_on: date
    score: float | None


class _Checker:
    """Turns one record into a row to store, or the problems that make it bad."""

    def __init__(
        self,
        session: Session,
        platform_id: int,
        table: FileTable,
        columns: dict[str, str | None],
        dates: DateReader,
    ) -> None:
        self.at = find_columns(table, COLUMNS, columns)
        self.dates, self.today = dates, utcnow().date()
        self.people = {
            email.lower(): user_id
            for user_id, email in session.execute(
                select(User.id, User.email).where(
                    User.platform_id == platform_id, User.email.is_not(None)
                )
            )
        }
        self.courses: dict[str, Course] = {}
        for course in session.scalars(select(Course).where(visible_to(platform_id))):
            for name in (course.slug, course.title):
                self.courses.setdefault(_fold(name), course)

    def cell(self, record: list[str], label: str) -> str:
        at = self.at.get(label)
        return record[at].strip() if at is not None and at < len(record) else ""

    def check(self, line: int, record: list[str]) -> _Row | list[Problem]:
        problems = []
        email = self.cell(record, "email").lower()
        user_id = self.people.get(email)
        if not email:
            problems.append(Problem(line, "email", "no e-mail address"))
        elif user_id is None:
            problems.append(
                Problem(
                    line,
                    "email",
                    (
                        f"no person with the e-mail {email} in this LMS (bring in the roster "
                        "first, or check the address)"
                    ),
                )
            )
        name = " ".join(self.cell(record, "course").split())
        provider = self.cell(record, "provider")
        course = self.courses.get(_fold(name))
        if not name:
            problems.append(Problem(line, "course", "no course or training named"))
        elif course is None and not provider:
            problems.append(
                Problem(
                    line,
                    "course",
                    (
                        f"no course {name!r} in this LMS's catalogue: name one by its slug or "
                        "title, or fill in the provider column for training done elsewhere"
                    ),
                )
            )
        moment = self.dates.read(self.cell(record, "date"))
        if isinstance(moment, str):
            problems.append(Problem(line, "date", moment))
        elif moment.date() > self.today:
            problems.append(Problem(line, "date", f"{moment.date():%d %B %Y} is in the future"))
        score, why = _score(self.cell(record, "score"))
        if why:
            problems.append(Problem(line, "score", why))
        if problems:
            return problems
        assert user_id is not None and not isinstance(moment, str)
        if course is not None and not provider:
            return _Row(
                user_id, course.id, f"course:{course.slug}", course.title, moment.date(), score
            )
        return _Row(user_id, None, f"outside:{_fold(name)}"[:200], name[:200], moment.date(), score)


def _fold(name: str) -> str:
    return " ".join(name.split()).casefold()


def _score(text: str) -> tuple[float | None, str]:
    if not text:
        return None, ""
    try:
        value = parse_number(text).value
    except NumberFormatError as refused:
        return None, str(refused)
    if not 0 <= value <= 100:
        return None, f"a score is a percentage from 0 to 100, not {text!r}"
    return value, ""


def _rows(checker: _Checker, table: FileTable) -> Iterator[tuple[int, _Row | list[Problem]]]:
    for line, record in table.rows:
        yield line, checker.check(line, record)


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
    ``report.ok``."""
    report = CompletionsReport()
    stream = BytesSource(data)
    now = utcnow()

    def good_rows(checker: _Checker) -> Iterator[tuple]:
        """Checks every row, once; yields the good ones to store while the file is good (or
        bad rows are skipped): a file with a bad row stores nothing."""
        for _, checked in _rows(checker, open_table(stream.fresh())):
            report.rows += 1
            if isinstance(checked, list):
                report.bad_rows += 1
                report.problems.extend(checked[: max(0, MAX_PROBLEMS - len(report.problems))])
                continue
            if report.bad_rows and not skip_bad:
                continue
            report.outside += checked.course_id is None
            yield (
                platform_id,
                checked.user_id,
                checked.course_id,
                checked.key,
                checked.name,
                checked.completed_on,
                checked.score,
                source[:255],
                now,
            )

    try:
        dates = _dates(stream, columns or {}, date_format)
        checker = _Checker(session, platform_id, open_table(stream.fresh()), columns or {}, dates)
        report.stored = _store(session, good_rows(checker))
    except TableRefused as refused:
        report.refused = str(refused)
        return report
    if report.bad_rows and not skip_bad:
        report.refuse_bad_rows("Nothing was brought in")
        return report
    report.already = report.rows - report.bad_rows - report.stored
    return report


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


def _store(session: Session, rows: Iterable[tuple]) -> int:
    """Store the rows, leaving out a completion brought in before; returns how many are new.
    SQLite skips repeats itself; PostgreSQL's COPY cannot, so the rows go to a staging table
    first and move in one ``INSERT … SELECT … ON CONFLICT DO NOTHING``."""
    if not is_postgres(session):
        return load_rows(session, "past_trainings", STORED, rows, skip_conflicts=True)
    table = PastTraining.__table__
    staging = create_temporary(
        session,
        sa.Table(
            "past_training_staging",
            sa.MetaData(),
            *(sa.Column(c, table.c[c].type) for c in STORED),
            prefixes=["TEMPORARY"],
        ),
    )
    load_rows(session, staging.name, STORED, rows)
    moved = (
        insert_for("postgresql")(table)
        .from_select(list(STORED), select(*(staging.c[c] for c in STORED)))
        .on_conflict_do_nothing(index_elements=["user_id", "training_key", "completed_on"])
    )
    stored = session.execute(moved.execution_options(preserve_rowcount=True)).rowcount
    drop_temporary(session, staging)
    return stored


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
