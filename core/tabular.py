"""Spreadsheet files as people export them: CSV with any common separator and encoding, or an
Excel workbook; columns found by the names people give them; dates read in a stated format.

Used by every import (rosters, past training, survey results) so each reads files the same
way and refuses them with the same words. Reading streams: a file is never held whole in
memory.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, BinaryIO

from core.uploads import zip_refusal

ZIP_MAGIC = b"PK\x03\x04"  # how every .xlsx file begins; no CSV does
# A genuine export of a million rows unpacks to a few hundred MB of sheet XML, which
# compresses 10-30 times; a zip bomb is refused before openpyxl inflates any of it.
NOT_A_WORKBOOK = (
    "This looks like a zip file but is not an Excel workbook (.xlsx) we can read; "
    "save it as .xlsx or CSV."
)
WORKBOOK_MAX_FILES = 1000
WORKBOOK_MAX_BYTES = 2_000_000_000
WORKBOOK_MAX_RATIO = 200
SEPARATORS = {",": "','", ";": "';'", "\t": "tabs", "|": "'|'"}
SAMPLE_BYTES = 64 * 1024


class TableRefused(ValueError):
    """A file that cannot be read as a table; the message says why and what to do."""


@dataclass(frozen=True)
class Problem:
    """Why one row of an imported file is bad: its line, the column, the reason."""

    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}, {self.column}" if self.column else f"line {self.line}"
        return f"{where}: {self.reason}"


@dataclass
class ImportOutcome:
    """What every file import reports: its problems (the first ``MAX_PROBLEMS``), how many
    rows were bad, and why nothing was imported, if not."""

    problems: list[Problem] = field(default_factory=list)
    bad_rows: int = 0
    refused: str = ""

    @property
    def ok(self) -> bool:
        return not self.refused

    def refuse_bad_rows(self, nothing: str = "Nothing was imported") -> None:
        """A file with bad rows stores nothing unless the person chose to skip them."""
        self.refused = (
            f"{nothing}: {self.bad_rows} rows have problems. Correct them, or choose to skip "
            "bad rows."
        )


@dataclass
class Table:
    """A file's header and its records, read lazily: ``records`` as the CSV reader gives
    them (a blank line is []), the fast way for millions of rows, with ``line`` the line
    number of the last one read; or ``rows``, (line number, values) without blank lines."""

    header: list[str]
    records: Iterator[list[str]]
    separator: str
    encoding: str
    _reader: Any = None

    @property
    def line(self) -> int:
        return self._reader.line_num + 1  # + 1: the header was read before the reader began

    @property
    def rows(self) -> Iterator[tuple[int, list[str]]]:
        for record in self.records:
            if record:
                yield self.line, record

    @property
    def read_as(self) -> str:
        """How the file was read, for messages: "separated by ';', Windows-1252"."""
        return (
            f"separated by {SEPARATORS.get(self.separator, repr(self.separator))}, {self.encoding}"
        )


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def workbook_as_csv(stream: BinaryIO) -> BinaryIO:
    """The first sheet of an Excel workbook as UTF-8 CSV, read row by row (openpyxl's
    read-only mode) into a spooled file, so a large workbook is checked like any CSV."""
    from openpyxl import load_workbook

    try:
        archive = zipfile.ZipFile(stream)
    except zipfile.BadZipFile as error:
        raise TableRefused(NOT_A_WORKBOOK) from error
    refusal = zip_refusal(
        archive,
        max_files=WORKBOOK_MAX_FILES,
        max_bytes=WORKBOOK_MAX_BYTES,
        max_ratio=WORKBOOK_MAX_RATIO,
    )
    if refusal:
        raise TableRefused(
            "This workbook unpacks to far more than it holds "
            f"({refusal[0]}{': ' + refusal[1] if refusal[1] else ''}). "
            "If it is a genuine export, save it as CSV and import that."
        )
    stream.seek(0)
    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except Exception as error:
        raise TableRefused(NOT_A_WORKBOOK) from error
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - returned
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    writer = csv.writer(text)
    for row in book.worksheets[0].iter_rows(values_only=True):
        writer.writerow([_cell_text(value) for value in row])
    book.close()
    text.flush()
    text.detach()
    spool.seek(0)
    return spool  # type: ignore[return-value]


def sniff_encoding(sample: bytes) -> str:
    """The encoding of a text file from its first bytes: a byte-order mark says UTF-8 or
    UTF-16; otherwise UTF-8 if the sample decodes as UTF-8 (the last character may be cut),
    else Windows-1252, which Excel on Windows writes and which decodes any byte."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def sniff_separator(header_line: str) -> str:
    """The separator of a CSV file from its header line: the candidate that appears most
    often outside quotes (a comma when none does: a one-column file)."""
    outside_quotes = re.sub(r'"[^"]*"', "", header_line)
    counts = {sep: outside_quotes.count(sep) for sep in SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


ENCODING_NAMES = {
    "utf-8-sig": "UTF-8",
    "utf-8": "UTF-8",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
}


def open_table(data: bytes | BinaryIO) -> Table:
    """Open a CSV (any of ``SEPARATORS``; UTF-8 with or without BOM, UTF-16 or
    Windows-1252) or .xlsx file as a table. Raises ``TableRefused`` for an empty file or an
    unreadable workbook."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    stream.seek(0)
    if stream.read(4) == ZIP_MAGIC:
        stream.seek(0)
        stream = workbook_as_csv(stream)
    stream.seek(0)
    encoding = sniff_encoding(stream.read(SAMPLE_BYTES))
    stream.seek(0)
    lines = _lines(stream, encoding)
    first = next(lines, "")
    if not first.strip():
        raise TableRefused("The file is empty: it needs a header line naming its columns.")
    separator = sniff_separator(first)
    header = [name.strip() for name in next(csv.reader([first], delimiter=separator))]
    reader = csv.reader(lines, delimiter=separator)
    return Table(
        header=header,
        records=_records(reader),
        separator=separator,
        encoding=ENCODING_NAMES[encoding],
        _reader=reader,
    )


def _lines(stream: BinaryIO, encoding: str) -> Iterator[str]:
    """The stream's lines as text, decoded a megabyte at a time (faster than a text wrapper's
    line iteration, which matters at millions of rows); bytes that are not text in the
    encoding stop the read with the line they are on."""
    decode = codecs.getincrementaldecoder(encoding)().decode
    lines_before, carry = 0, ""
    for block in iter(lambda: stream.read(1 << 20), b""):
        try:
            text = carry + decode(block)
        except UnicodeDecodeError as error:
            bad_at = block[: error.start].count(b"\n") + carry.count("\n")
            raise TableRefused(
                f"Line {lines_before + bad_at + 1} is not {ENCODING_NAMES[encoding]} text; "
                "save the file as UTF-8 CSV."
            ) from error
        lines = text.splitlines(keepends=True)
        carry = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
        lines_before += len(lines)
        yield from lines
    if carry:
        yield carry


def _records(reader: Any) -> Iterator[list[str]]:
    try:
        yield from reader
    except csv.Error as error:
        raise TableRefused(f"Line {reader.line_num + 1} is not valid CSV: {error}.") from error


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class Column:
    """A column an import reads: its label in messages and the header names it goes by."""

    label: str
    aliases: tuple[str, ...]
    required: bool = True


def find_columns(
    table: Table, wanted: Sequence[Column], given: dict[str, str | None]
) -> dict[str, int]:
    """Each wanted column's position, by the name the person gave (``given[label]``) or else
    by a common name for it. Raises ``TableRefused`` naming every column not found, the
    file's columns and how it was read (a semicolon file read as commas has one column)."""
    keys = {_key(name): at for at, name in enumerate(table.header) if name}
    found: dict[str, int] = {}
    missing = []
    for column in wanted:
        chosen = given.get(column.label)
        names = (chosen,) if chosen else (column.label, *column.aliases)
        at = next((keys[_key(n)] for n in names if _key(n) in keys), None)
        if at is not None:
            found[column.label] = at
        elif chosen or column.required:
            missing.append(
                repr(chosen)
                if chosen
                else f"{column.label!r} (or {', '.join(repr(a) for a in column.aliases)})"
            )
    if missing:
        raise TableRefused(
            f"The file has no column {'; no column '.join(missing)}. It was read as "
            f"{table.read_as}, and its columns are: {', '.join(table.header) or 'none'}."
        )
    return found


# -- dates -----------------------------------------------------------------------------------

DATE_FORMATS = {
    "iso": ("YYYY-MM-DD", ("%Y-%m-%d",)),
    "day-first": ("DD/MM/YYYY", ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y", "%d.%m.%y")),
    "month-first": ("MM/DD/YYYY", ("%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y")),
}
AMBIGUOUS = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})")


class DateReader:
    """Reads dates in one format: ``iso``, ``day-first``, ``month-first``, or an explicit
    strptime pattern (e.g. ``%d %b %Y``). ISO dates are read in every format (no one writes
    2026-12-25 meaning anything else); a time after the date is allowed."""

    def __init__(self, date_format: str = "iso") -> None:
        if date_format in DATE_FORMATS:
            self.described, self.patterns = DATE_FORMATS[date_format]
        elif "%" in date_format:
            try:
                datetime.now().strftime(date_format)
            except ValueError as error:
                raise TableRefused(f"{date_format!r} is not a date pattern.") from error
            self.described, self.patterns = date_format, (date_format,)
        else:
            raise TableRefused(
                f"Unknown date format {date_format!r}: use iso, day-first, month-first or a "
                "pattern such as %d.%m.%Y."
            )
        self.date_format = date_format

    def read(self, text: str) -> datetime | str:
        """The moment, or why the text is not a date in this format (a message)."""
        value = text.strip()
        if not value:
            return "no date"
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
        day_part, _, time_part = value.partition(" ")
        for pattern in self.patterns:
            for candidate, extra in ((value, ""), (day_part, time_part)):
                try:
                    moment = datetime.strptime(candidate, pattern)
                except ValueError:
                    continue
                if extra:
                    try:
                        clock = datetime.strptime(extra.strip(), "%H:%M").time()
                    except ValueError:
                        try:
                            clock = datetime.strptime(extra.strip(), "%H:%M:%S").time()
                        except ValueError:
                            continue
                    moment = datetime.combine(moment.date(), clock)
                return moment
        return self._why_not(value)

    def _why_not(self, value: str) -> str:
        shape = AMBIGUOUS.fullmatch(value.partition(" ")[0])
        if shape and self.date_format in ("day-first", "month-first"):
            first, second = int(shape[1]), int(shape[2])
            other = "month-first" if self.date_format == "day-first" else "day-first"
            if (first > 12 and self.date_format == "month-first") or (
                second > 12 and self.date_format == "day-first"
            ):
                return (
                    f"{value!r} is not a {self.described} date; it reads as a {other} date, "
                    f"so choose the date format {other}"
                )
        return f"{value!r} is not a date in the format {self.described}"


def settle_date_format(values: Iterable[tuple[int, str]]) -> str:
    """The format of a file's dates when the person left it to the file ("auto"): ISO unless
    dates like 25/12/2026 show day-first or 12/25/2026 month-first. Refused when the dates
    could be either (all like 03/04/2026), or show both, naming the rows that show it."""
    day_first: list[str] = []
    month_first: list[str] = []
    either: list[str] = []
    for line, value in values:
        shape = AMBIGUOUS.fullmatch(value.strip().partition(" ")[0])
        if not shape:
            continue
        first, second = int(shape[1]), int(shape[2])
        where = f"line {line}: {value.strip()}"
        if first > 12:
            day_first.append(where)
        elif second > 12:
            month_first.append(where)
        elif first != second:
            either.append(where)
    if day_first and month_first:
        raise TableRefused(
            f"The dates are written both day-first ({day_first[0]}) and month-first "
            f"({month_first[0]}); correct the file so every date is written one way."
        )
    if day_first:
        return "day-first"
    if month_first:
        return "month-first"
    if either:
        raise TableRefused(
            "The dates could be day-first or month-first (" + "; ".join(either[:3]) + "): "
            "choose the date format, day-first (DD/MM/YYYY) or month-first (MM/DD/YYYY)."
        )
    return "iso"
