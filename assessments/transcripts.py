"""Conversation transcripts: read from text, JSON or CSV, checked line by line, personal data
masked on request. Plain Python, no Flask.

Formats (a file's extension picks one):

- ``.txt``: one turn per line, ``Speaker: text``, optionally after a timestamp
  (``[00:01:05] Agent: Hello``). A line without a speaker continues the previous turn.
- ``.json``: ``{"channel": "chat", "turns": [{"speaker": "agent", "text": "…", "at": "00:05"}]}``
  or just the list of turns.
- ``.csv``: a header with ``speaker`` and ``text`` columns, optionally ``at`` (or
  ``timestamp``/``time``).

Speakers are the agent or the customer, under the names people use for them; anything else is
refused with its line number, because a turn given to the wrong side would be scored wrongly.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

MAX_BYTES = 200_000
MAX_TURNS = 500
MAX_TURN_CHARS = 5_000
CHANNELS = ("chat", "call", "email")
AGENT, CUSTOMER = "agent", "customer"
SPEAKERS = {
    AGENT: AGENT,
    "advisor": AGENT,
    "adviser": AGENT,
    "rep": AGENT,
    "representative": AGENT,
    "support": AGENT,
    "operator": AGENT,
    "staff": AGENT,
    "you": AGENT,
    CUSTOMER: CUSTOMER,
    "caller": CUSTOMER,
    "client": CUSTOMER,
    "user": CUSTOMER,
    "visitor": CUSTOMER,
    "member": CUSTOMER,
}
TIMESTAMP = re.compile(r"^(?:(\d{1,2}):)?([0-5]?\d):([0-5]\d)$")
TXT_LINE = re.compile(
    r"^\s*(?:\[?(?P<at>(?:\d{1,2}:)?[0-5]?\d:[0-5]\d)\]?\s*[-\u2013]?\s*)?"
    r"(?P<speaker>[A-Za-z][A-Za-z .'-]{0,30}?)\s*:\s*(?P<text>.*)$"
)


@dataclass(frozen=True)
class Turn:
    speaker: str  # agent | customer
    text: str
    at: int | None = None  # seconds from the start, when the transcript says


@dataclass
class Transcript:
    turns: list[Turn]
    channel: str = "chat"
    masked: int = 0  # personal data items replaced

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "turns": [
                {"speaker": t.speaker, "text": t.text, **({"at": t.at} if t.at is not None else {})}
                for t in self.turns
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Transcript:
        def at(value: Any) -> int | None:
            return (
                value
                if isinstance(value, int)
                else seconds(value)
                if isinstance(value, str)
                else None
            )

        turns = [Turn(t["speaker"], t["text"], at(t.get("at"))) for t in data["turns"]]
        return cls(turns=turns, channel=data.get("channel", "chat"))


@dataclass
class TranscriptProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line else self.reason


@dataclass
class TranscriptInvalid(Exception):
    name: str
    problems: list[TranscriptProblem] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.name}: " + "; ".join(str(p) for p in self.problems[:10])


def seconds(stamp: str) -> int | None:
    found = TIMESTAMP.match(stamp.strip())
    if found is None:
        return None
    hours, minutes, secs = found.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(secs)


def decode(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; anything else is refused, naming the
    line where the text stops being UTF-8."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise TranscriptInvalid(
            name, [TranscriptProblem(line, "the file is not UTF-8 text (save it as UTF-8)")]
        ) from error


def _speaker(raw: str) -> str | None:
    return SPEAKERS.get(raw.strip().lower())


def _check(turns: list[Turn], name: str, problems: list[TranscriptProblem]) -> None:
    if not turns and not problems:
        problems.append(TranscriptProblem(0, "the transcript has no turns"))
    if len(turns) > MAX_TURNS:
        problems.append(TranscriptProblem(0, f"more than {MAX_TURNS} turns"))
    if turns and not any(t.speaker == AGENT for t in turns):
        problems.append(
            TranscriptProblem(0, "no turn is the agent's, so there is nothing to score")
        )
    if problems:
        raise TranscriptInvalid(name, problems)


def _turn(
    speaker: str, text: str, at: int | None, line: int, problems: list[TranscriptProblem]
) -> Turn | None:
    text = text.strip()
    if not text:
        problems.append(TranscriptProblem(line, "the turn is empty"))
        return None
    if len(text) > MAX_TURN_CHARS:
        problems.append(
            TranscriptProblem(line, f"the turn is longer than {MAX_TURN_CHARS} characters")
        )
        return None
    return Turn(speaker, text, at)


def parse_txt(text: str, name: str = "transcript.txt", channel: str = "chat") -> Transcript:
    turns: list[Turn] = []
    problems: list[TranscriptProblem] = []
    pending: tuple[str, list[str], int | None, int] | None = None

    def close() -> None:
        if pending is not None:
            turn = _turn(pending[0], " ".join(pending[1]), pending[2], pending[3], problems)
            if turn is not None:
                turns.append(turn)

    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        found = TXT_LINE.match(line)
        speaker = _speaker(found["speaker"]) if found else None
        if found and speaker is not None:
            close()
            at = seconds(found["at"]) if found["at"] else None
            pending = (speaker, [found["text"]], at, number)
        elif found and (pending is None or len(found["speaker"].split()) <= 2):
            # "Name: text" with a name we do not know: refusing is safer than guessing a side.
            problems.append(
                TranscriptProblem(
                    number, f"unknown speaker {found['speaker'].strip()!r}: use Agent or Customer"
                )
            )
        elif pending is not None:
            pending[1].append(line.strip())  # a continued turn
        else:
            problems.append(
                TranscriptProblem(number, "a turn must start with 'Agent:' or 'Customer:'")
            )
    close()
    _check(turns, name, problems)
    return Transcript(turns=turns, channel=channel)


def parse_json(text: str, name: str = "transcript.json", channel: str = "chat") -> Transcript:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise TranscriptInvalid(
            name, [TranscriptProblem(error.lineno, f"not valid JSON: {error.msg}")]
        ) from error
    if isinstance(data, dict):
        channel = str(data.get("channel", channel))
        items = data.get("turns")
    else:
        items = data
    if not isinstance(items, list):
        raise TranscriptInvalid(name, [TranscriptProblem(0, "expected a list of turns")])
    if channel not in CHANNELS:
        raise TranscriptInvalid(
            name, [TranscriptProblem(0, f"channel must be one of {', '.join(CHANNELS)}")]
        )
    turns: list[Turn] = []
    problems: list[TranscriptProblem] = []
    for index, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            problems.append(TranscriptProblem(0, f"turn {index}: needs a speaker and a text"))
            continue
        speaker = _speaker(str(item.get("speaker", "")))
        if speaker is None:
            problems.append(
                TranscriptProblem(0, f"turn {index}: unknown speaker {item.get('speaker')!r}")
            )
            continue
        at = item.get("at")
        at_seconds = at if isinstance(at, int) else seconds(at) if isinstance(at, str) else None
        turn = _turn(speaker, item["text"], at_seconds, 0, problems)
        if turn is not None:
            turns.append(turn)
    _check(turns, name, problems)
    return Transcript(turns=turns, channel=channel)


def parse_csv(text: str, name: str = "transcript.csv", channel: str = "chat") -> Transcript:
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower(): c for c in reader.fieldnames or []}
    if "speaker" not in columns or "text" not in columns:
        raise TranscriptInvalid(
            name, [TranscriptProblem(1, "the header needs 'speaker' and 'text' columns")]
        )
    at_column = next((columns[c] for c in ("at", "timestamp", "time") if c in columns), None)
    turns: list[Turn] = []
    problems: list[TranscriptProblem] = []
    for row in reader:
        line = reader.line_num
        speaker = _speaker(row.get(columns["speaker"]) or "")
        if speaker is None:
            problems.append(
                TranscriptProblem(line, f"unknown speaker {row.get(columns['speaker'])!r}")
            )
            continue
        stamp = (row.get(at_column) or "") if at_column else ""
        turn = _turn(
            speaker,
            row.get(columns["text"]) or "",
            seconds(stamp) if stamp else None,
            line,
            problems,
        )
        if turn is not None:
            turns.append(turn)
    _check(turns, name, problems)
    return Transcript(turns=turns, channel=channel)


PARSERS = {".txt": parse_txt, ".json": parse_json, ".csv": parse_csv}


def parse(data: bytes, name: str, channel: str = "chat", mask: bool = False) -> Transcript:
    """Read an uploaded transcript; ``TranscriptInvalid`` lists every problem by line."""
    if len(data) > MAX_BYTES:
        raise TranscriptInvalid(
            name, [TranscriptProblem(0, f"the file is larger than {MAX_BYTES // 1000} kB")]
        )
    extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    parser = PARSERS.get(extension)
    if parser is None:
        raise TranscriptInvalid(name, [TranscriptProblem(0, "upload a .txt, .json or .csv file")])
    transcript = parser(decode(data, name), name, channel)
    return mask_personal_data(transcript) if mask else transcript


# -- personal data ---------------------------------------------------------------------------

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
CARD = re.compile(r"\b(?:\d[ -]?){13,19}\b")
PHONE = re.compile(r"(?<![\w])(?:\+?\d[\d ()-]{7,}\d)(?![\w])")


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def mask_text(text: str) -> tuple[str, int]:
    """Replace emails, payment card numbers (Luhn-valid) and phone numbers."""
    count = 0

    def card(match: re.Match[str]) -> str:
        nonlocal count
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and _luhn(digits):
            count += 1
            return "[card number]"
        return match.group()

    def replace(label: str) -> Any:
        def sub(match: re.Match[str]) -> str:
            nonlocal count
            count += 1
            return label

        return sub

    text = EMAIL.sub(replace("[email]"), text)
    text = CARD.sub(card, text)
    text = PHONE.sub(
        lambda m: (
            replace("[phone]")(m) if 9 <= len(re.sub(r"\D", "", m.group())) <= 15 else m.group()
        ),
        text,
    )
    return text, count


def mask_personal_data(transcript: Transcript) -> Transcript:
    turns, total = [], 0
    for turn in transcript.turns:
        text, count = mask_text(turn.text)
        total += count
        turns.append(Turn(turn.speaker, text, turn.at))
    return Transcript(turns=turns, channel=transcript.channel, masked=total)
