"""The refusal every assessment service raises: a request the rules refuse."""

from __future__ import annotations


class AssessmentError(ValueError):
    """A request the rules refuse; the message is safe to show."""
