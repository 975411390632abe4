"""One question engine for knowledge checks (courses) and quizzes (assessments). Pure Python.

Each question kind is registered once and knows how to present itself, read a submitted form
and mark it. A question is a plain dict as its pack or quiz file gives it: ``id``, ``type``,
and the kind's own keys (``options`` with ``text`` and ``correct``, ordered ``items``, a
numeric ``answer`` with ``tolerance`` and ``unit``).

**No answer in the page.** A page shows a question through a :class:`Seal`: a random nonce,
sent back in a hidden field, from which every form name, option value and element id is an
HMAC under a key only the server knows, and the options and items appear in an order sorted
by HMAC too. Nothing a browser sees (names, values, ids, order) correlates with the answer
key, two renders share no identifier, and a value copied from another render unseals to
nothing. The scheme is stateless: any worker that knows the secret can mark any render.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from core.numbers import NumberFormatError, parse_number

Question = dict[str, Any]
Form = Mapping[str, Sequence[str]]

NONCE_FIELD = "attempt"
# A person types a few characters per field; longer values or more of them are crafted,
# and cutting them keeps a hostile form from costing anything to mark.
MAX_VALUE_LENGTH = 50
MAX_VALUES = 12
_NONCE = re.compile(r"^[A-Za-z0-9_-]{22}$")
_TOKEN_LENGTH = 16  # base32 characters: 80 bits, far beyond guessing within one attempt


class Seal:
    """The identifiers of one rendered attempt, derived from its nonce and the server key."""

    def __init__(self, secret: str | bytes, nonce: str) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        # A key of its own, so these tags can never be replayed as a session or login signature.
        self._key = hmac.new(raw, b"cx-quality-academy/questions/v1", hashlib.sha256).digest()
        self.nonce = nonce

    @classmethod
    def new(cls, secret: str | bytes) -> Seal:
        return cls(secret, secrets.token_urlsafe(16))

    @classmethod
    def from_form(cls, secret: str | bytes, form: Form) -> Seal | None:
        """The seal a submitted form was rendered with, or None when it carries no valid nonce
        (a crafted form, or a page from before this scheme)."""
        values = form.get(NONCE_FIELD) or [""]
        nonce = values[0]
        return cls(secret, nonce) if _NONCE.fullmatch(nonce) else None

    def _tag(self, *parts: str) -> str:
        message = "\x1f".join((self.nonce, *parts)).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        # A letter first, so the tag is a valid name and id everywhere; the same letter for
        # every tag, so it carries nothing.
        return "k" + base64.b32encode(digest).decode().lower()[:_TOKEN_LENGTH]

    def field(self, question_id: str, part: str = "") -> str:
        return self._tag("field", question_id, part)

    def value(self, question_id: str, key: str) -> str:
        return self._tag("value", question_id, key)

    def shuffled(self, question_id: str, keys: Sequence[str]) -> list[str]:
        """The keys in this render's order: sorted by a keyed hash, so every order is equally
        likely and none can be predicted without the key."""
        return sorted(keys, key=lambda k: self._tag("order", question_id, k))

    def unseal(self, question_id: str, value: str, keys: Sequence[str]) -> str | None:
        return next(
            (k for k in keys if hmac.compare_digest(self.value(question_id, k), value)), None
        )


@dataclass(frozen=True)
class ShownChoice:
    """One option or item as the page shows it: an opaque id and its text."""

    id: str
    text: str
    checked: bool = False  # choices: ticked when the form comes back with an error
    name: str = ""  # ordering: the item's own field
    position: str = ""  # ordering: the position chosen when the form comes back


@dataclass(frozen=True)
class Shown:
    """A question as the page shows it. ``widget`` names the template partial."""

    widget: str
    name: str
    choices: tuple[ShownChoice, ...] = ()
    multiple: bool = False
    positions: tuple[int, ...] = ()
    value: str = ""
    unit: str = ""


@dataclass(frozen=True)
class Marked:
    """The server's mark for one question: ``score`` from 0 to 1, the answer as given (option
    keys, positions or the typed text, never the page's opaque ids), and an error when the
    answer cannot be marked (left out, unknown option, not a number)."""

    question_id: str
    score: float
    given: list[str]
    error: str | None = None

    @property
    def correct(self) -> bool:
        return self.error is None and self.score >= 1.0 - 1e-9


class QuestionKind:
    name: ClassVar[str]
    widget: ClassVar[str]
    schema: ClassVar[dict[str, Any]]  # JSON schema of the kind's own keys

    def present(self, question: Question, seal: Seal, given: Sequence[str] = ()) -> Shown:
        raise NotImplementedError

    def read(self, question: Question, seal: Seal | None, form: Form) -> list[str]:
        """The answer as given, in the question's own terms, from a submitted form."""
        raise NotImplementedError

    def mark(self, question: Question, given: Sequence[str]) -> tuple[float, str | None]:
        """(score from 0 to 1, error) for an answer as given."""
        raise NotImplementedError

    def given_text(self, question: Question, given: Sequence[str]) -> list[str]:
        """What the person answered, in words, for the feedback."""
        raise NotImplementedError

    def answer_text(self, question: Question) -> list[str]:
        """The right answer, in words, for feedback that reveals it."""
        raise NotImplementedError

    def pack_problems(self, question: Question) -> list[tuple[list[str | int], str]]:
        """Consistency rules a schema cannot say: (path inside the question, reason)."""
        return []


def _values(form: Form, name: str) -> list[str]:
    return [str(v)[:MAX_VALUE_LENGTH] for v in form.get(name, ())][:MAX_VALUES]


_OPTIONS = {
    "type": "array",
    "minItems": 2,
    "maxItems": 8,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["text"],
        "properties": {
            "text": {"type": "string", "minLength": 1, "maxLength": 500},
            "correct": {"type": "boolean"},
        },
    },
}

# Given when a submitted value unseals to no option: marked wrong and reported, never matched.
_UNKNOWN = "?"


def option_ids(question: Question) -> list[str]:
    """The options' stable keys: their place in the file, as letters."""
    return [chr(ord("a") + i) for i in range(len(question["options"]))]


def correct_ids(question: Question) -> set[str]:
    return {
        oid
        for oid, option in zip(option_ids(question), question["options"], strict=True)
        if option.get("correct")
    }


class _Choice(QuestionKind):
    widget = "choice"
    multiple: ClassVar[bool]
    schema: ClassVar[dict[str, Any]] = {
        "required": ["options"],
        "properties": {"options": _OPTIONS},
    }

    def present(self, question: Question, seal: Seal, given: Sequence[str] = ()) -> Shown:
        texts = dict(zip(option_ids(question), question["options"], strict=True))
        qid = question["id"]
        return Shown(
            widget=self.widget,
            name=seal.field(qid),
            multiple=self.multiple,
            choices=tuple(
                ShownChoice(id=seal.value(qid, k), text=texts[k]["text"], checked=k in given)
                for k in seal.shuffled(qid, list(texts))
            ),
        )

    def read(self, question: Question, seal: Seal | None, form: Form) -> list[str]:
        if seal is None:
            return []
        keys = option_ids(question)
        sent = _values(form, seal.field(question["id"]))
        return [seal.unseal(question["id"], v, keys) or _UNKNOWN for v in sent]

    def given_text(self, question: Question, given: Sequence[str]) -> list[str]:
        return [
            option["text"]
            for oid, option in zip(option_ids(question), question["options"], strict=True)
            if oid in given
        ]

    def answer_text(self, question: Question) -> list[str]:
        return [o["text"] for o in question["options"] if o.get("correct")]


class SingleChoice(_Choice):
    name = "single"
    multiple = False

    def mark(self, question: Question, given: Sequence[str]) -> tuple[float, str | None]:
        if len(given) != 1:
            return 0.0, "Choose one answer."
        if given[0] not in option_ids(question):
            return 0.0, "Choose among the answers shown."
        return float(given[0] in correct_ids(question)), None

    def pack_problems(self, question: Question) -> list[tuple[list[str | int], str]]:
        count = len(correct_ids(question))
        if count != 1:
            return [
                (
                    ["options"],
                    f"a single-choice question needs exactly one correct option, found {count}",
                )
            ]
        return []


class MultipleChoice(_Choice):
    """All correct options and none of the others: partial answers earn nothing, so guessing
    every box never passes."""

    name = "multiple"
    multiple = True

    def mark(self, question: Question, given: Sequence[str]) -> tuple[float, str | None]:
        chosen = set(given)
        if not chosen:
            return 0.0, "Choose at least one answer."
        if not chosen <= set(option_ids(question)):
            return 0.0, "Choose among the answers shown."
        return float(chosen == correct_ids(question)), None

    def pack_problems(self, question: Question) -> list[tuple[list[str | int], str]]:
        if not correct_ids(question):
            return [(["options"], "a multiple-choice question needs at least one correct option")]
        return []


class NumericAnswer(QuestionKind):
    """A number typed as people type it (decimal comma or point, spaces between thousands,
    a percent sign), read by the one parser every numeric input uses."""

    name = "numeric"
    widget = "numeric"
    schema: ClassVar[dict[str, Any]] = {
        "required": ["answer"],
        "properties": {
            "answer": {"type": "number"},
            "tolerance": {"type": "number", "minimum": 0},
            "unit": {"type": "string", "maxLength": 20},
        },
    }

    def present(self, question: Question, seal: Seal, given: Sequence[str] = ()) -> Shown:
        return Shown(
            widget=self.widget,
            name=seal.field(question["id"]),
            value=given[0] if given else "",
            unit=question.get("unit", ""),
        )

    def read(self, question: Question, seal: Seal | None, form: Form) -> list[str]:
        return _values(form, seal.field(question["id"])) if seal is not None else []

    def mark(self, question: Question, given: Sequence[str]) -> tuple[float, str | None]:
        if len(given) != 1:
            return 0.0, "Enter a number."
        try:
            value = parse_number(given[0]).value
        except NumberFormatError as error:
            return 0.0, str(error)
        tolerance = float(question.get("tolerance", 0))
        return float(abs(value - float(question["answer"])) <= tolerance + 1e-9), None

    def given_text(self, question: Question, given: Sequence[str]) -> list[str]:
        if not given:
            return []
        try:
            reading = parse_number(given[0]).reading
        except NumberFormatError:
            return [given[0]]
        return [f"{given[0]} ({reading})"]

    def answer_text(self, question: Question) -> list[str]:
        unit = question.get("unit", "")
        spacer = "" if unit in ("", "%") else " "
        return [f"{float(question['answer']):g}{spacer}{unit}"]


class Ordering(QuestionKind):
    """Items to put in order, authored in the right order and shown in a keyed-hash order.
    Each item has its own opaque field whose value is the position chosen; partial credit for
    each item in its place."""

    name = "ordering"
    widget = "ordering"
    schema: ClassVar[dict[str, Any]] = {
        "required": ["items"],
        "properties": {
            "items": {
                "type": "array",
                "minItems": 2,
                "maxItems": 8,
                "items": {"type": "string", "minLength": 1, "maxLength": 300},
            }
        },
    }

    @staticmethod
    def _keys(question: Question) -> list[str]:
        return [str(i) for i in range(len(question["items"]))]

    def present(self, question: Question, seal: Seal, given: Sequence[str] = ()) -> Shown:
        qid = question["id"]
        keys = self._keys(question)
        chosen = dict(zip(keys, given, strict=False))
        return Shown(
            widget=self.widget,
            name=seal.field(qid),
            positions=tuple(range(1, len(keys) + 1)),
            choices=tuple(
                ShownChoice(
                    id=seal.value(qid, k),
                    text=question["items"][int(k)],
                    name=seal.field(qid, k),
                    position=chosen.get(k, ""),
                )
                for k in seal.shuffled(qid, keys)
            ),
        )

    def read(self, question: Question, seal: Seal | None, form: Form) -> list[str]:
        """Positions given to the items, in the items' authored order ("" where none)."""
        if seal is None:
            return []
        qid = question["id"]
        return [(_values(form, seal.field(qid, k)) or [""])[0] for k in self._keys(question)]

    def mark(self, question: Question, given: Sequence[str]) -> tuple[float, str | None]:
        count = len(question["items"])
        try:
            positions = [int(v) for v in given]
        except ValueError:
            return 0.0, "Give each step a position."
        if sorted(positions) != list(range(1, count + 1)):
            return 0.0, f"Give each step a different position from 1 to {count}."
        return sum(p == i + 1 for i, p in enumerate(positions)) / count, None

    def given_text(self, question: Question, given: Sequence[str]) -> list[str]:
        placed = sorted(
            (int(p), item) for p, item in zip(given, question["items"], strict=False) if p.isdigit()
        )
        return [" → ".join(item for _, item in placed)] if placed else []

    def answer_text(self, question: Question) -> list[str]:
        return [" → ".join(question["items"])]


QUESTION_KINDS: dict[str, QuestionKind] = {
    kind.name: kind for kind in (SingleChoice(), MultipleChoice(), NumericAnswer(), Ordering())
}


def kind_of(question: Question) -> QuestionKind:
    return QUESTION_KINDS[question["type"]]


def kind_keys() -> list[str]:
    """Every key some kind reads, for schemas that list a question's allowed keys."""
    return sorted({k for kind in QUESTION_KINDS.values() for k in kind.schema["properties"]})


def question_schema(
    *,
    id_pattern: str,
    explanation_at_least: int,
    more: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON schema of one question of any registered kind, for a file of questions (a
    course's knowledge check, a quiz): its id, kind, prompt and explanation, and each kind's
    own keys, checked by that kind's schema. ``more`` adds the file's own keys (a check's
    points); any other key is refused, as a typo nothing would read."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "type", "prompt", "explanation"],
        "properties": {
            "id": {"type": "string", "pattern": id_pattern},
            "type": {"enum": sorted(QUESTION_KINDS)},
            "prompt": {"type": "string", "minLength": 5},
            "explanation": {"type": "string", "minLength": explanation_at_least},
            **(more or {}),
            # Each kind's own keys, checked by its schema below.
            **{key: {} for key in kind_keys()},
        },
        "allOf": [
            {"if": {"properties": {"type": {"const": name}}}, "then": kind.schema}
            for name, kind in QUESTION_KINDS.items()
        ],
    }


@dataclass
class Presented:
    """A whole set of questions as one render shows them."""

    nonce: str
    shown: dict[str, Shown] = field(default_factory=dict)


def present_all(
    questions: Sequence[Question],
    secret: str | bytes,
    *,
    seal: Seal | None = None,
    given: Mapping[str, Sequence[str]] | None = None,
) -> Presented:
    """Show ``questions`` under a fresh seal, or under the submitted one (with the answers as
    given) when a form comes back with an error, so the person's choices stay in place."""
    seal = seal or Seal.new(secret)
    given = given or {}
    return Presented(
        nonce=seal.nonce,
        shown={q["id"]: kind_of(q).present(q, seal, given.get(q["id"], ())) for q in questions},
    )


def mark_all(
    questions: Sequence[Question], secret: str | bytes, form: Form
) -> tuple[Seal | None, list[Marked]]:
    """Read a submitted form under the seal it names and mark every question against the key.
    A form without a valid nonce reads as unanswered."""
    seal = Seal.from_form(secret, form)
    marked = []
    for question in questions:
        kind = kind_of(question)
        given = kind.read(question, seal, form)
        score, error = kind.mark(question, given)
        marked.append(Marked(question["id"], score, given, error))
    return seal, marked


@dataclass(frozen=True)
class Described:
    """An answer in words for feedback: what was given, and the right answer."""

    given: list[str]
    answer: list[str]


def describe(question: Question, given: Sequence[str]) -> Described:
    kind = kind_of(question)
    return Described(kind.given_text(question, given), kind.answer_text(question))
