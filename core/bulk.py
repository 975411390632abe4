"""Loading many rows at once, as fast as each database takes them: PostgreSQL's ``COPY``,
SQLite's ``executemany`` on the raw connection. Every bulk import goes through here, inside
the session's transaction, so a refused import rolls back with everything else.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Table
from sqlalchemy.orm import Session

SQLITE_BATCH = 20_000  # rows per executemany


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


def create_temporary(session: Session, table: Table) -> Table:
    """A temporary table for this transaction's staging (dropped first if left over)."""
    drop_temporary(session, table)
    table.create(session.connection())
    return table


def drop_temporary(session: Session, table: Table) -> None:
    session.connection().exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")
