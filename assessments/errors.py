"""The refusal every assessment service raises (a request the rules refuse), and the rule a
reason or a reply is checked by before it is stored."""

from __future__ import annotations

from dataclasses import dataclass


class AssessmentError(ValueError):
    """A request the rules refuse; the message is safe to show."""


@dataclass(frozen=True)
class TextRule:
    """How long a reason or a reply must be, and what to say when it is not."""

    at_least: int
    at_most: int
    too_short: str
    too_long: str

    def check(self, text: str) -> str:
        """The text as the person wrote it (stripped), or the refusal that says why not."""
        text = text.strip()
        if len(text) < self.at_least:
            raise AssessmentError(self.too_short)
        if len(text) > self.at_most:
            raise AssessmentError(self.too_long)
        return text
