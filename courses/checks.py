"""Knowledge checks: the course side of the one question engine (``core.questions``), and the
trainer's answer policy. Plain Python, no Flask.

Marking happens only on the server, from the pack's answer key, under the seal the page was
rendered with: a crafted form can name unknown options or leave questions out, and still
scores only what it got right.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.questions import QUESTION_KINDS, Form, correct_ids, kind_keys, mark_all, option_ids

__all__ = [
    "QUESTION_KINDS",
    "CheckPolicy",
    "CheckResult",
    "QuestionResult",
    "Reveal",
    "correct_ids",
    "kind_keys",
    "mark_check",
    "next_attempt_at",
    "option_ids",
]


@dataclass
class QuestionResult:
    question_id: str
    correct: bool
    points: float
    maximum: float
    given: list[str]


@dataclass
class CheckResult:
    questions: list[QuestionResult]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return sum(q.points for q in self.questions)

    @property
    def maximum(self) -> float:
        return sum(q.maximum for q in self.questions)

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.maximum if self.maximum else 0.0

    def passed(self, pass_mark: float) -> bool:
        return not self.errors and self.percent + 1e-9 >= pass_mark


def mark_check(questions: list[dict[str, Any]], form: Form, secret: str | bytes) -> CheckResult:
    """Mark a submitted check: ``form`` is the whole submitted form (values as lists), read
    under the seal it was rendered with. A question earns its points times its score, so
    all-or-nothing kinds earn all or nothing and an ordering earns a share."""
    _, marked = mark_all(questions, secret, form)
    result = CheckResult(questions=[])
    for question, mark in zip(questions, marked, strict=True):
        if mark.error:
            result.errors[question["id"]] = mark.error
        points = float(question.get("points", 1))
        result.questions.append(
            QuestionResult(
                question_id=question["id"],
                correct=mark.correct,
                points=points * mark.score if mark.error is None else 0.0,
                maximum=points,
                given=mark.given,
            )
        )
    return result


# -- the trainer's policy ------------------------------------------------------------------


class Reveal(enum.StrEnum):
    """When a check's feedback shows the right answers (and the explanations, which state
    them). Holding them back until a pass keeps a retry from being passed by copying."""

    AFTER_ATTEMPT = "after_attempt"
    AFTER_PASSING = "after_passing"
    NEVER = "never"

    @property
    def label(self) -> str:
        return {
            Reveal.AFTER_ATTEMPT: "After every attempt",
            Reveal.AFTER_PASSING: "Once the check is passed",
            Reveal.NEVER: "Never",
        }[self]


@dataclass(frozen=True)
class CheckPolicy:
    """One LMS's choice for one course's checks. ``max_attempts`` None: no limit.
    ``wait`` None with a limit: the limit is final (until the trainer changes it)."""

    reveal: Reveal = Reveal.AFTER_PASSING
    max_attempts: int | None = None
    wait: timedelta | None = None

    def reveals(self, passed: bool) -> bool:
        return self.reveal is Reveal.AFTER_ATTEMPT or (
            self.reveal is Reveal.AFTER_PASSING and passed
        )


DEFAULT_POLICY = CheckPolicy()
FINAL = datetime.max.replace(tzinfo=UTC)  # "no more attempts", comparable with aware times


def next_attempt_at(
    policy: CheckPolicy, attempts: Sequence[datetime], now: datetime
) -> datetime | None:
    """When the next attempt may start, or None when it may start now.

    Attempts come in runs: a run ends when the learner waited at least ``wait`` since the
    last attempt. A run may hold ``max_attempts`` attempts; after that the next one opens
    ``wait`` after the run's last. Without a wait, the limit is final (``FINAL``).
    """
    if policy.max_attempts is None or not attempts:
        return None
    times = sorted(attempts)
    run = 1
    for before, after in itertools.pairwise(times):
        run = 1 if policy.wait is not None and after - before >= policy.wait else run + 1
    if run < policy.max_attempts:
        return None
    if policy.wait is None:
        return FINAL
    opens = times[-1] + policy.wait
    return opens if now < opens else None
