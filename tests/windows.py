"""Rate limits count in fixed windows of wall-clock time (``core.ratelimit``): a test that
sends up to a limit and expects the next request refused must not straddle a window's end."""

from __future__ import annotations

import time


def with_time_left_in_the_window(per: int = 60, needed: float = 15.0) -> None:
    """Wait, when the current ``per``-second window has less than ``needed`` seconds left,
    until the next one begins."""
    left = per - time.time() % per
    if left < needed:
        time.sleep(left + 0.05)
