"""A person's own data: every package says what it holds about someone
(``register_personal_data``), so "download my data" is complete without the kernel knowing
the domain. (Erasure is ``people.privacy.erase_person``.)"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from core.db import Base

Exporter = Callable[[Session, int], Any]  # (session, user id) -> JSON-ready data


def register_personal_data(app: Flask, section: str, exporter: Exporter) -> None:
    app.extensions.setdefault("personal_data", {})[section] = exporter


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def rows_of(
    session: Session, model: type[Base], *where: ColumnElement[bool], leave_out: Sequence[str] = ()
) -> list[dict[str, object]]:
    """Every column of the matching rows, as plain JSON values."""
    table = model.__table__
    columns = [c for c in table.columns if c.name not in leave_out]
    query = select(*columns).where(*where)
    return [
        {c.name: _plain(value) for c, value in zip(columns, row, strict=True)}
        for row in session.execute(query)
    ]


def personal_data(session: Session, user_id: int) -> dict[str, object]:
    """What every package holds about the person, section by section."""
    exporters: dict[str, Exporter] = current_app.extensions.get("personal_data", {})
    return {section: exporter(session, user_id) for section, exporter in exporters.items()}


# -- retention --------------------------------------------------------------------------------

RetentionRule = Callable[[Session, datetime], str]  # (session, now) -> what it removed


def register_retention(app: Flask, name: str, rule: RetentionRule) -> None:
    """A package removes what its retention setting says has been kept long enough. A rule
    reads its own setting, does nothing when it is 0 (keep), and says what it removed."""
    app.extensions.setdefault("retention_rules", {})[name] = rule


def apply_retention(session: Session, now: datetime) -> dict[str, str]:
    """Run every package's rule; the caller commits."""
    rules: dict[str, RetentionRule] = current_app.extensions.get("retention_rules", {})
    return {name: rule(session, now) for name, rule in rules.items()}
