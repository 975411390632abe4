"""Durations in the words an operator reads ("2 days", "90 seconds"), not ``timedelta``'s
"2 days, 0:00:00"."""

from __future__ import annotations

from datetime import timedelta

UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def duration(span: timedelta) -> str:
    """Whole units from largest to smallest, e.g. "1 day 6 hours", "2 days", "0 seconds"."""
    left = int(span.total_seconds())
    parts = []
    for name, size in UNITS:
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count} {name}{'s' if count != 1 else ''}")
    return " ".join(parts) or "0 seconds"
