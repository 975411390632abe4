"""The grading queue a trainer works through: the conversations of their course context that
wait for a grade, filtered and counted by the database and read one page at a time.

A batch upload puts thousands of conversations in the queue at once, so nothing here reads
the whole queue into Python: the filters (skill, person, the suggestion's level and
confidence) are conditions of one SQL query, the page is a LIMIT/OFFSET of it in a stable
order (oldest first, then by id), and only the page's rows and, when a skill is chosen, only
their suggestions are loaded. The suggestions are a JSON list per conversation; the level and
confidence filters look inside it with the database's own JSON functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from math import ceil
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Float,
    and_,
    column,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, defer, selectinload
from sqlalchemy.sql.functions import Function

from assessments.grading import CONFIDENCE_FILTERS, UNSURE_BELOW
from assessments.library import scenarios
from assessments.models import AWAITING, TRANSCRIPT, Assessment
from assessments.suggest import CRITERIA
from people.models import User

PAGE_SIZE = 50
LEVELS = (1, 2, 3, 4)  # the levels suggestions are made on (the built-in rubric's)

# The SQL function that turns a JSON array into rows of its elements (each in ``value``), by
# database: the level and confidence filters read the stored suggestions where they are.
JSON_ELEMENTS: dict[str, Callable[[Any], Function[Any]]] = {
    "sqlite": func.json_each,
    "postgresql": func.json_array_elements,
}


@dataclass(frozen=True)
class QueueFilters:
    """What the trainer narrowed the queue to; empty values mean "any"."""

    skill: str = ""
    learner: int = 0
    level: int = 0
    confidence: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        """The filters of a queue link; values that are not choices of the form are ignored."""
        skill = args.get("skill", "")
        confidence = args.get("confidence", "")
        return cls(
            skill=skill if skill in CRITERIA else "",
            learner=_whole_number(args.get("learner")),
            level=level if (level := _whole_number(args.get("level"))) in LEVELS else 0,
            confidence=confidence if confidence in CONFIDENCE_FILTERS else "",
        )

    @property
    def any(self) -> bool:
        return bool(self.skill or self.learner or self.level or self.confidence)

    @property
    def by_suggestion(self) -> bool:
        return bool(self.level or self.confidence)

    def link_args(self) -> dict[str, str | int]:
        """The filters as a link's query arguments (only those chosen), kept across pages."""
        chosen = {
            "skill": self.skill,
            "learner": self.learner,
            "level": self.level,
            "confidence": self.confidence,
        }
        return {name: value for name, value in chosen.items() if value}


@dataclass(frozen=True)
class QueuePlace:
    """Where a grader is in the queue: its filters and page. Carried from the queue to the
    grade page and through its form, so that "save and open the next" stays in the queue they
    filtered, and the way back lands on their page."""

    filters: QueueFilters = field(default_factory=QueueFilters)
    page: int = 1

    def link_args(self) -> dict[str, str | int]:
        """The place as a link's query arguments (the first page and "any" left out)."""
        return self.filters.link_args() | ({"page": self.page} if self.page > 1 else {})


@dataclass(frozen=True)
class QueuePage:
    """One page of the filtered queue, with the counts a trainer is shown."""

    items: list[Assessment]
    number: int  # 1-based
    pages: int  # at least 1, so "Page 1 of 1" when nothing matches
    matching: int  # conversations that pass the filters, on every page
    waiting: int  # every conversation of the course context waiting for a grade
    size: int = PAGE_SIZE
    # The chosen skill's suggestion of each of this page's conversations scored so far.
    suggested: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def first(self) -> int:
        """Position of the page's first conversation in the filtered queue (0 when empty)."""
        return (self.number - 1) * self.size + 1 if self.items else 0

    @property
    def last(self) -> int:
        return (self.number - 1) * self.size + len(self.items)

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None


def queue_page(
    session: Session,
    deployment_id: int,
    team_id: int | None,
    filters: QueueFilters,
    page: int = 1,
    size: int = PAGE_SIZE,
) -> QueuePage:
    """Page ``page`` of the conversations of this course context waiting for a grade that pass
    ``filters``, oldest first. A page past the end shows the last one (after grading the last
    page's conversations, its link still lands somewhere useful)."""
    if team_id is None:
        return QueuePage(items=[], number=1, pages=1, matching=0, waiting=0, size=size)
    waiting = _count(session, _waiting(deployment_id, team_id))
    conditions = _filtered(session, deployment_id, team_id, filters)
    matching = _count(session, conditions) if filters.any else waiting
    pages = max(1, ceil(matching / size))
    number = min(max(page, 1), pages)
    items = list(
        session.scalars(
            select(Assessment)
            .where(*conditions)
            # The list shows who, what and when: the conversations and suggestions (JSON, the
            # bulk of each row) are not read, and touching them raises instead of a query each.
            .options(
                selectinload(Assessment.learner),
                defer(Assessment.conversation, raiseload=True),
                defer(Assessment.suggestions, raiseload=True),
            )
            .order_by(Assessment.submitted_at, Assessment.id)
            .limit(size)
            .offset((number - 1) * size)
        )
    )
    suggested = _suggested(session, [a.id for a in items], filters.skill) if filters.skill else {}
    return QueuePage(items, number, pages, matching, waiting, size, suggested)


def next_in_queue(
    session: Session, deployment_id: int, team_id: int | None, place: QueuePlace, after: Assessment
) -> int | None:
    """The conversation that follows ``after`` in the queue filtered as ``place`` says and
    still waits for a grade (its id): where "save and open the next" goes. None when none
    follows; the grader then goes back to the queue, which shows any they passed over."""
    if team_id is None:
        return None
    conditions = _filtered(session, deployment_id, team_id, place.filters)
    if after.submitted_at is not None:
        # After it in the queue's order: oldest first, then by id.
        conditions.append(
            or_(
                Assessment.submitted_at > after.submitted_at,
                and_(Assessment.submitted_at == after.submitted_at, Assessment.id > after.id),
            )
        )
    return session.scalar(
        select(Assessment.id)
        .where(*conditions)
        .order_by(Assessment.submitted_at, Assessment.id)
        .limit(1)
    )


def queue_people(session: Session, deployment_id: int, team_id: int | None) -> list[User]:
    """The people with a conversation waiting for a grade here (the person filter's choices),
    by name."""
    if team_id is None:
        return []
    learners = select(Assessment.learner_id).where(*_waiting(deployment_id, team_id))
    found = session.scalars(select(User).where(User.id.in_(learners)))
    return sorted(found, key=lambda user: (user.display_name.casefold(), user.id))


def _whole_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 10 else 0


def _waiting(deployment_id: int, team_id: int) -> list[ColumnElement[bool]]:
    return [
        Assessment.deployment_id == deployment_id,
        Assessment.team_id == team_id,
        Assessment.status == AWAITING,
    ]


def _count(session: Session, conditions: list[ColumnElement[bool]]) -> int:
    return session.scalar(select(func.count()).select_from(Assessment).where(*conditions)) or 0


def _filtered(
    session: Session, deployment_id: int, team_id: int, filters: QueueFilters
) -> list[ColumnElement[bool]]:
    conditions = _waiting(deployment_id, team_id)
    if filters.skill:
        # A transcript is graded on every skill, a scenario on its focus skills.
        focused = [key for key, s in scenarios().items() if filters.skill in s.focus]
        conditions.append(or_(Assessment.kind == TRANSCRIPT, Assessment.scenario.in_(focused)))
    if filters.learner:
        conditions.append(Assessment.learner_id == filters.learner)
    if filters.by_suggestion:
        conditions.append(_suggestion_condition(session, filters))
    return conditions


def _suggestion_condition(session: Session, filters: QueueFilters) -> ColumnElement[bool]:
    """The level and confidence filters as SQL: some suggestion of the skill (any skill) is
    at the level (any level); "low" wants one of those uncertain (``grading.uncertain``),
    "high" none. A conversation not scored yet has no suggestion to match."""
    elements = JSON_ELEMENTS[session.get_bind().dialect.name]

    def some(unsure: bool = False) -> ColumnElement[bool]:
        s = elements(Assessment.suggestions).table_valued(column("value", JSON)).alias("s")
        value = s.c.value
        wanted: list[ColumnElement[bool]] = []
        if filters.skill:
            wanted.append(value["criterion"].as_string() == filters.skill)
        if filters.level:
            wanted.append(value["level"].as_integer() == filters.level)
        if unsure:
            # ``grading.uncertain``: flagged low confidence when made, or an unlikely level.
            wanted.append(
                or_(
                    func.coalesce(value["low_confidence"].as_boolean(), false()),
                    func.coalesce(value["confidence"].as_float(), 0.0, type_=Float) < UNSURE_BELOW,
                )
            )
        return exists(select(1).select_from(s).where(and_(true(), *wanted)).correlate(Assessment))

    if filters.confidence == "low":
        return some(unsure=True)
    if filters.confidence == "high":
        return and_(some(), not_(some(unsure=True)))
    return some()


def _suggested(session: Session, ids: list[int], skill: str) -> dict[int, dict[str, Any]]:
    """The suggestion for ``skill`` of each of these conversations that has one."""
    if not ids:
        return {}
    found: dict[int, dict[str, Any]] = {}
    for assessment_id, suggestions in session.execute(
        select(Assessment.id, Assessment.suggestions).where(Assessment.id.in_(ids))
    ):
        for suggestion in suggestions or []:
            if suggestion.get("criterion") == skill:
                found[assessment_id] = suggestion
    return found
