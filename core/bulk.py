"""Loading many rows at once, as fast as each database takes them: PostgreSQL's ``COPY``,
SQLite's ``executemany`` on the raw connection. Every bulk import goes through here, inside
the session's transaction, so a refused import rolls back with everything else.
"""

from __future__ import annotations

from collections.abc import Iterable

from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import Table
from sqlalchemy.orm import Session

SQLITE_BATCH = 20_000  # rows per executemany
COPY_BATCH = 10_000  # text lines per write to COPY
COPY_NULL = "\\N"  # COPY's text format for NULL


def is_postgres(session: Session) -> bool:
    return session.connection().dialect.name == "postgresql"


def load_rows(
    session: Session,
    table: str,
    columns: tuple[str, ...],
    rows: Iterable[tuple],
    *,
    skip_conflicts: bool = False,
) -> int:
    """Write ``rows`` (tuples in ``columns`` order) into ``table`` on the session's connection;
    returns how many were written. ``skip_conflicts`` (SQLite only: COPY cannot) leaves out a
    row whose key is stored already; on PostgreSQL load into a staging table instead and move
    the rows with ``INSERT … SELECT … ON CONFLICT DO NOTHING``."""
    connection = session.connection()
    raw = connection.connection.driver_connection  # type: ignore[union-attr]
    cursor = raw.cursor()  # type: ignore[union-attr]
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        written = 0
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                written += 1
        return written
    before = raw.total_changes  # type: ignore[union-attr]
    marks = ", ".join("?" * len(columns))
    conflict = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
    insert = f"INSERT INTO {table} ({names}) VALUES ({marks}){conflict}"  # noqa: S608 - our names
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) == SQLITE_BATCH:
            cursor.executemany(insert, batch)
            batch.clear()
    if batch:
        cursor.executemany(insert, batch)
    return raw.total_changes - before  # type: ignore[union-attr]


def copy_text(value: str) -> str:
    """A value as COPY's text format needs it: backslash, tab and line ends escaped (most
    values have none, and the four look-ups cost less than one replace)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def copy_lines(session: Session, table: str, columns: tuple[str, ...], lines: Iterable[str]) -> int:
    """PostgreSQL: ``COPY`` lines already in its text format (tab-separated, ``COPY_NULL``,
    values through ``copy_text``, each ending in a newline) into ``table``; returns how many.
    For millions of rows of known columns: one f-string per row and one write per thousands
    of rows cost less than handing psycopg each row as a tuple (a Python call per row)."""
    connection = session.connection()
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    written = 0
    # A thread sends to the server while this one formats the next rows (a bounded queue:
    # at most 1024 blocks of 128 kB wait).
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) == COPY_BATCH:
                copy.write("".join(batch))
                written += COPY_BATCH
                batch.clear()
        if batch:
            copy.write("".join(batch))
            written += len(batch)
    return written


def create_temporary(session: Session, table: Table) -> Table:
    """A temporary table for this transaction's staging (dropped first if left over)."""
    drop_temporary(session, table)
    table.create(session.connection())
    return table


def drop_temporary(session: Session, table: Table) -> None:
    session.connection().exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")


def analyse_temporary(session: Session, table: Table) -> None:
    """Statistics for a staging table just loaded, so PostgreSQL's planner joins its rows by
    hashing instead of guessing (autovacuum never sees a temporary table); SQLite needs
    none: its staging joins go through a primary key."""
    if is_postgres(session):
        session.connection().exec_driver_sql(f"ANALYZE {table.name}")


def plan_for_bulk(session: Session) -> None:
    """PostgreSQL, for the rest of this transaction: no JIT compilation (it costs more than
    the few statements of an import save by it, up to 0.6 s each) and room to hash a staging
    table's join in memory. SQLite has neither."""
    if is_postgres(session):
        connection = session.connection()
        connection.exec_driver_sql("SET LOCAL jit = off")
        connection.exec_driver_sql("SET LOCAL work_mem = '64MB'")
