"""Conversations as they come out of real systems: every format a trainer can upload or give
to ``flask assessments suggest``, recognised from the file's content. Plain Python, no Flask.

``REGISTRY`` lists the formats, most specific first. Each is a ``ConversationFormat``: a
``name``, a ``label`` for people, ``detect(source)`` (does this file look like mine?) and
``read(source, channel)`` (the conversations in it, each speaker mapped to the agent or the
customer). ``read_conversations`` tries them in order; a file no format recognises is refused
with the list of what was tried.

What each vendor format is read from (fields as their public API documentation names them):

- Zendesk ticket exports: ``comments`` with ``author_id``, ``public`` and ``body`` /
  ``plain_body`` / ``html_body``, with the ticket (``requester_id``) and/or the side-loaded
  ``users`` (``role`` end-user, agent or admin). Private comments are internal notes: skipped.
- Intercom conversations: ``source`` (the first message) and ``conversation_parts`` whose
  ``author.type`` is user/lead/contact (customer) or admin (agent). Notes are private and bot
  messages are not the agent's words: both skipped.
- Freshdesk tickets: ``description`` then ``conversations`` with ``incoming``, ``private``,
  ``user_id`` and ``body_text`` / ``body``. Private notes skipped.
- Amazon Connect Contact Lens analysis output: ``Transcript`` items with ``ParticipantId``
  (AGENT/CUSTOMER, or an id that ``Participants`` gives a ``ParticipantRole``), ``Content``
  and ``BeginOffsetMillis``. System and bot turns skipped.
- Genesys Cloud transcripts: ``transcripts[].phrases[]`` with ``text``, ``startTimeMs`` and
  ``participantPurpose`` (internal = agent, external = customer; IVR and ACD skipped); and a
  chat's recordings: ``messagingTranscript[]`` with ``purpose``, ``messageText``, ``timestamp``.
- A generic CSV: a conversation id, a speaker, a text and optionally a time column, named in
  any of the usual ways (case and spaces do not matter); rows grouped by conversation.
- The product's own ``.txt``/``.json``/``.csv`` (``assessments.transcripts``) and JSON lines of
  ``{"id", "channel", "turns": [{"speaker", "text"}]}``.

Bodies written in HTML are turned into plain text (``html.parser``); every turn's whitespace
is collapsed, so evidence quotes index the text exactly as stored.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from html.parser import HTMLParser
from typing import Any, Protocol

from assessments.transcripts import (
    AGENT,
    CHANNELS,
    CUSTOMER,
    MAX_BYTES,
    MAX_TURN_CHARS,
    MAX_TURNS,
    SPEAKERS,
    Transcript,
    TranscriptInvalid,
    TranscriptProblem,
    Turn,
    decode,
    mask_personal_data,
    parse_csv,
    parse_json,
    parse_txt,
    seconds,
)

MAX_FILE_BYTES = 5_000_000  # a batch export of many conversations
MAX_CONVERSATIONS = 2_000  # in one upload


@dataclass(frozen=True)
class Conversation:
    """One conversation read from a file: its id in the source system (or the file's name)."""

    id: str
    transcript: Transcript
    format: str  # the ConversationFormat's name


class Source:
    """An uploaded file, decoded and parsed at most once whichever formats look at it."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data = data
        self.name = name

    @property
    def extension(self) -> str:
        return "." + self.name.rsplit(".", 1)[-1].lower() if "." in self.name else ""

    @property
    def stem(self) -> str:
        base = self.name.rsplit("/", 1)[-1]
        return base.rsplit(".", 1)[0] if "." in base else base

    @cached_property
    def text(self) -> str:
        return decode(self.data, self.name)

    @cached_property
    def documents(self) -> list[Any] | None:
        """The JSON in the file: one document, or one per line (JSON lines); None if it is not
        JSON at all."""
        stripped = self.text.strip()
        if not stripped or stripped[0] not in "[{":
            return None
        try:
            return [json.loads(stripped)]
        except json.JSONDecodeError:
            pass
        documents = []
        for line in stripped.splitlines():
            if not line.strip():
                continue
            try:
                documents.append(json.loads(line))
            except json.JSONDecodeError:
                return None
        return documents

    @cached_property
    def objects(self) -> list[dict[str, Any]]:
        """Every JSON object at the top of the file: the document, the items of a top-level
        list, or each line of JSON lines (what exports wrap conversations in varies)."""
        out: list[dict[str, Any]] = []
        for document in self.documents or []:
            items = document if isinstance(document, list) else [document]
            out.extend(item for item in items if isinstance(item, dict))
        return out

    @cached_property
    def csv_columns(self) -> dict[str, str] | None:
        """The CSV header's columns, normalised (lower case, ``_`` for spaces) to the names as
        written; None when the first line is not a header of at least two columns."""
        if self.documents is not None:
            return None
        first = next((line for line in self.text.splitlines() if line.strip()), "")
        if "," not in first and ";" not in first and "\t" not in first:
            return None
        header = next(csv.reader([first], dialect=self.dialect), [])
        columns = {_column_key(c): c for c in header if c.strip()}
        return columns if len(columns) >= 2 else None

    @cached_property
    def dialect(self) -> type[csv.Dialect]:
        first = next((line for line in self.text.splitlines() if line.strip()), "")
        try:
            return csv.Sniffer().sniff(first, delimiters=",;\t")
        except csv.Error:
            return csv.excel


def _column_key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


class ConversationFormat(Protocol):
    name: str
    label: str

    def detect(self, source: Source) -> bool: ...

    def read(self, source: Source, channel: str) -> list[Conversation]: ...


# -- building transcripts --------------------------------------------------------------------


class _PlainText(HTMLParser):
    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def plain_text(body: str) -> str:
    """A message body as one line of plain text: HTML tags removed, entities decoded,
    whitespace collapsed (a body without tags is only collapsed)."""
    if "<" in body and ">" in body:
        parser = _PlainText()
        parser.feed(body)
        parser.close()
        body = "".join(parser.parts)
    return " ".join(body.split())


@dataclass
class _Builder:
    """Turns of one conversation with the problems found on the way, checked like an upload
    of the product's own formats (turn length, number of turns, an agent turn)."""

    where: str  # "Zendesk ticket 123", for the messages
    channel: str
    turns: list[Turn] = field(default_factory=list)
    problems: list[TranscriptProblem] = field(default_factory=list)
    starts: list[float | None] = field(default_factory=list)

    def add(self, speaker: str, body: str, at: float | None = None, line: int = 0) -> None:
        text = plain_text(body)
        if not text:  # attachments only, a status change: nothing said
            return
        if len(text) > MAX_TURN_CHARS:
            self.problems.append(
                TranscriptProblem(
                    line,
                    f"{self.where}, message {len(self.turns) + 1}: longer than "
                    f"{MAX_TURN_CHARS} characters",
                )
            )
            return
        self.turns.append(Turn(speaker, text))
        self.starts.append(at)

    def problem(self, reason: str, line: int = 0) -> None:
        self.problems.append(TranscriptProblem(line, f"{self.where}: {reason}"))

    def transcript(self) -> Transcript:
        if not self.turns and not self.problems:
            self.problem("no message from the customer or the agent")
        if len(self.turns) > MAX_TURNS:
            self.problem(f"more than {MAX_TURNS} messages")
        if self.turns and not any(t.speaker == AGENT for t in self.turns):
            self.problem("no message is the agent's, so there is nothing to score")
        if self.problems:
            raise _Problems(self.problems)
        # Times become seconds from the conversation's first timed message.
        known = [s for s in self.starts if s is not None]
        first = min(known) if known else 0.0
        turns = [
            Turn(t.speaker, t.text, None if s is None else max(0, int(s - first)))
            for t, s in zip(self.turns, self.starts, strict=True)
        ]
        return Transcript(turns=turns, channel=self.channel)


class _Problems(Exception):
    def __init__(self, problems: list[TranscriptProblem]) -> None:
        self.problems = problems


def _collect(
    source: Source, label: str, built: Iterable[tuple[str, Callable[[], Transcript]]], name: str
) -> list[Conversation]:
    """Every conversation, or every problem of every conversation in one ``TranscriptInvalid``
    naming the file and the format."""
    out, problems = [], []
    for ident, build in built:
        try:
            out.append(Conversation(ident, build(), name))
        except _Problems as found:
            problems.extend(found.problems)
    if problems:
        raise TranscriptInvalid(f"{source.name} ({label})", problems)
    return out


def _timestamp(value: Any) -> float | None:
    """Seconds on some clock: an ISO 8601 date and time, a Unix time, or mm:ss / hh:mm:ss."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if not text:
        return None
    clock = seconds(text)
    if clock is not None:
        return float(clock)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def _channel(value: Any, mapping: dict[str, str], default: str) -> str:
    return mapping.get(str(value).strip().lower(), default) if value is not None else default


def _text(*values: Any) -> str:
    """The first of several body fields that holds text."""
    return next((v for v in values if isinstance(v, str) and v.strip()), "")


# -- vendor formats --------------------------------------------------------------------------

ZENDESK_CHANNELS = {
    "email": "email",
    "web": "email",
    "voice": "call",
    "phone": "call",
    "chat": "chat",
    "native_messaging": "chat",
    "messaging": "chat",
    "sms": "chat",
    "whatsapp": "chat",
}


def _zendesk_comment(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and "author_id" in item
        and any(k in item for k in ("body", "plain_body", "html_body"))
    )


class Zendesk:
    name = "zendesk"
    label = "Zendesk ticket export"

    def tickets(self, source: Source) -> Iterator[tuple[dict[str, Any], list[Any], dict]]:
        """(ticket, comments, users by id) for each ticket in the file: a ticket with its
        ``comments`` (and ``users`` side-loaded), or ``{"tickets": [...]}``, or JSON lines of
        tickets that each carry their comments."""
        for document in source.objects:
            users = {u.get("id"): u for u in document.get("users") or [] if isinstance(u, dict)}
            if isinstance(document.get("comments"), list):
                yield (document.get("ticket") or document), document["comments"], users
            for ticket in document.get("tickets") or []:
                if isinstance(ticket, dict) and isinstance(ticket.get("comments"), list):
                    yield ticket, ticket["comments"], users

    def detect(self, source: Source) -> bool:
        found = list(self.tickets(source))
        return bool(found) and all(
            comments and all(_zendesk_comment(c) for c in comments) for _, comments, _ in found
        )

    def read(self, source: Source, channel: str) -> list[Conversation]:
        def build(ticket: dict, comments: list, users: dict, where: str) -> Transcript:
            via = (ticket.get("via") or {}).get("channel")
            builder = _Builder(where, _channel(via, ZENDESK_CHANNELS, channel))
            requester = ticket.get("requester_id")
            for comment in comments:
                if comment.get("public") is False:
                    continue  # an internal note: the customer never read it
                author = comment.get("author_id")
                role = (users.get(author) or {}).get("role")
                if role is not None:
                    speaker = CUSTOMER if role == "end-user" else AGENT
                elif requester is not None:
                    speaker = CUSTOMER if author == requester else AGENT
                else:
                    builder.problem(
                        f"cannot tell whether author {author} is the customer or an agent: "
                        "export the ticket (requester_id) or its users with the comments"
                    )
                    break
                body = _text(comment.get("plain_body"), comment.get("body"))
                body = body or plain_text(_text(comment.get("html_body")))
                builder.add(speaker, body, _timestamp(comment.get("created_at")))
            return builder.transcript()

        built = []
        for ticket, comments, users in self.tickets(source):
            ident = str(ticket.get("id") or source.stem)
            built.append(
                (
                    ident,
                    lambda t=ticket, c=comments, u=users, i=ident: build(t, c, u, f"ticket {i}"),
                )
            )
        return _collect(source, self.label, built, self.name)


INTERCOM_CUSTOMERS = {"user", "lead", "contact"}


class Intercom:
    name = "intercom"
    label = "Intercom conversation export"

    def conversations(self, source: Source) -> list[dict[str, Any]]:
        out = []
        for document in source.objects:
            if isinstance(document.get("conversations"), list):
                out.extend(c for c in document["conversations"] if isinstance(c, dict))
            else:
                out.append(document)
        return out

    def detect(self, source: Source) -> bool:
        found = self.conversations(source)
        return bool(found) and all(
            isinstance(c.get("conversation_parts"), dict | list) and "source" in c for c in found
        )

    def read(self, source: Source, channel: str) -> list[Conversation]:
        def build(conversation: dict[str, Any], where: str) -> Transcript:
            first = conversation.get("source") or {}
            emailed = "email" in (first.get("delivered_as"), first.get("type"))
            builder = _Builder(where, "email" if emailed else channel)
            parts = conversation["conversation_parts"]
            if isinstance(parts, dict):
                parts = parts.get("conversation_parts") or []
            messages = [{**first, "part_type": "comment"}, *parts]
            messages[0].setdefault("created_at", conversation.get("created_at"))
            for part in messages:
                if not isinstance(part, dict) or "note" in str(part.get("part_type", "")):
                    continue  # notes are private to the team
                author = str((part.get("author") or {}).get("type", "")).lower()
                if author in INTERCOM_CUSTOMERS:
                    speaker = CUSTOMER
                elif author == "admin":
                    speaker = AGENT
                else:
                    continue  # a bot or an automated message: not the agent's words
                builder.add(speaker, _text(part.get("body")), _timestamp(part.get("created_at")))
            return builder.transcript()

        built = []
        for conversation in self.conversations(source):
            ident = str(conversation.get("id") or source.stem)
            built.append((ident, lambda c=conversation, i=ident: build(c, f"conversation {i}")))
        return _collect(source, self.label, built, self.name)


FRESHDESK_CHANNELS = {"1": "email", "2": "email", "3": "call", "7": "chat", "9": "chat"}


def _freshdesk_message(item: Any) -> bool:
    return isinstance(item, dict) and "incoming" in item and ("body" in item or "body_text" in item)


class Freshdesk:
    name = "freshdesk"
    label = "Freshdesk ticket conversations"

    def tickets(self, source: Source) -> list[tuple[dict[str, Any], list[Any]]]:
        """(ticket, conversations): tickets viewed with ``include=conversations``, or the bare
        list a ticket's conversations endpoint returns (no ticket, no description)."""
        documents = source.documents or []
        if len(documents) == 1 and isinstance(documents[0], list):
            items = documents[0]
            if items and all(_freshdesk_message(i) for i in items):
                return [({}, items)]
        return [
            (ticket, ticket["conversations"])
            for ticket in source.objects
            if isinstance(ticket.get("conversations"), list)
        ]

    def detect(self, source: Source) -> bool:
        found = self.tickets(source)
        return bool(found) and all(
            all(_freshdesk_message(c) for c in conversations)
            and (conversations or "description" in ticket)
            for ticket, conversations in found
        )

    def read(self, source: Source, channel: str) -> list[Conversation]:
        def build(ticket: dict[str, Any], messages: list[Any], where: str) -> Transcript:
            builder = _Builder(where, _channel(ticket.get("source"), FRESHDESK_CHANNELS, channel))
            requester = ticket.get("requester_id")
            description = _text(ticket.get("description_text"), ticket.get("description"))
            if description:
                builder.add(CUSTOMER, description, _timestamp(ticket.get("created_at")))
            for message in messages:
                if message.get("private"):
                    continue  # a private note between agents
                if requester is not None and message.get("user_id") is not None:
                    speaker = CUSTOMER if message["user_id"] == requester else AGENT
                else:
                    speaker = CUSTOMER if message.get("incoming") else AGENT
                body = _text(message.get("body_text"), message.get("body"))
                builder.add(speaker, body, _timestamp(message.get("created_at")))
            return builder.transcript()

        built = []
        for ticket, messages in self.tickets(source):
            ident = str(ticket.get("id") or messages[0].get("ticket_id") or source.stem)
            built.append((ident, lambda t=ticket, m=messages, i=ident: build(t, m, f"ticket {i}")))
        return _collect(source, self.label, built, self.name)


def _every_object_lists(source: Source, key: str, fits: Callable[[Any], bool]) -> bool:
    """Whether the file holds JSON objects and each has a list under ``key`` whose items all
    fit: how the exports that keep one conversation an object are told apart."""
    found = source.objects
    return bool(found) and all(
        isinstance(d.get(key), list) and all(fits(item) for item in d[key]) for d in found
    )


CONTACT_LENS_ROLES = {"AGENT": AGENT, "CUSTOMER": CUSTOMER}
CONTACT_LENS_CHANNELS = {"voice": "call", "chat": "chat", "email": "email"}


class ContactLens:
    name = "contact-lens"
    label = "Amazon Connect Contact Lens output"

    def detect(self, source: Source) -> bool:
        return _every_object_lists(
            source,
            "Transcript",
            lambda t: isinstance(t, dict) and "ParticipantId" in t and "Content" in t,
        )

    def read(self, source: Source, channel: str) -> list[Conversation]:
        def build(document: dict[str, Any], where: str) -> Transcript:
            kind = _channel(document.get("Channel"), CONTACT_LENS_CHANNELS, channel)
            builder = _Builder(where, kind)
            roles = {
                p.get("ParticipantId"): str(p.get("ParticipantRole", "")).upper()
                for p in document.get("Participants") or []
                if isinstance(p, dict)
            }
            for item in document["Transcript"]:
                role = str(item.get("ParticipantRole") or roles.get(item["ParticipantId"]) or "")
                speaker = CONTACT_LENS_ROLES.get(role.upper() or str(item["ParticipantId"]))
                if speaker is None:
                    continue  # the system, a bot or a supervisor
                offset = item.get("BeginOffsetMillis")
                at = offset / 1000 if isinstance(offset, int | float) else None
                if at is None:
                    at = _timestamp(item.get("AbsoluteTime"))
                builder.add(speaker, _text(item.get("Content")), at)
            return builder.transcript()

        built = []
        for number, document in enumerate(source.objects, 1):
            contact = (document.get("CustomerMetadata") or {}).get("ContactId")
            ident = str(contact or (source.stem if len(source.objects) == 1 else number))
            built.append((ident, lambda d=document, i=ident: build(d, f"contact {i}")))
        return _collect(source, self.label, built, self.name)


GENESYS_PURPOSES = {"internal": AGENT, "agent": AGENT, "external": CUSTOMER, "customer": CUSTOMER}
GENESYS_CHANNELS = {
    "call": "call",
    "callback": "call",
    "voice": "call",
    "email": "email",
    "chat": "chat",
    "message": "chat",
    "messaging": "chat",
}


class Genesys:
    name = "genesys"
    label = "Genesys Cloud transcript"

    def detect(self, source: Source) -> bool:
        return _every_object_lists(
            source,
            "transcripts",
            lambda t: (
                isinstance(t, dict)
                and isinstance(t.get("phrases"), list)
                and all(isinstance(p, dict) and "text" in p for p in t["phrases"])
            ),
        )

    def read(self, source: Source, channel: str) -> list[Conversation]:
        def build(document: dict[str, Any], where: str) -> Transcript:
            builder = _Builder(
                where, _channel(document.get("mediaType"), GENESYS_CHANNELS, channel)
            )
            phrases = [p for t in document["transcripts"] for p in t["phrases"]]
            # Several transcripts (one per recording) interleave by time.
            phrases.sort(key=lambda p: p.get("startTimeMs") or 0)
            for phrase in phrases:
                purpose = str(phrase.get("participantPurpose", "")).lower()
                speaker = GENESYS_PURPOSES.get(purpose)
                if speaker is None:
                    continue  # the IVR, the queue (acd), voicemail
                start = phrase.get("startTimeMs")
                at = start / 1000 if isinstance(start, int | float) else None
                builder.add(speaker, _text(phrase.get("text")), at)
            return builder.transcript()

        built = []
        for number, document in enumerate(source.objects, 1):
            ident = str(
                document.get("conversationId")
                or (source.stem if len(source.objects) == 1 else number)
            )
            built.append((ident, lambda d=document, i=ident: build(d, f"conversation {i}")))
        return _collect(source, self.label, built, self.name)


class GenesysMessaging:
    """A chat or messaging conversation's recordings from Genesys Cloud's conversation
    recordings API: ``messagingTranscript`` entries with ``purpose`` (customer or agent),
    ``messageText`` and ``timestamp``; the queue (acd) and bots are left out."""

    name = "genesys-messaging"
    label = "Genesys Cloud messaging transcript"

    def detect(self, source: Source) -> bool:
        return _every_object_lists(
            source, "messagingTranscript", lambda m: isinstance(m, dict) and "purpose" in m
        )

    def read(self, source: Source, channel: str) -> list[Conversation]:
        def build(recordings: list[dict[str, Any]], where: str) -> Transcript:
            media = recordings[0].get("media")
            builder = _Builder(where, _channel(media, GENESYS_CHANNELS, channel))
            messages = [m for r in recordings for m in r["messagingTranscript"]]
            for message in messages:
                speaker = GENESYS_PURPOSES.get(str(message.get("purpose", "")).lower())
                if speaker is None:
                    continue  # the queue (acd), a bot, the system
                text = _text(message.get("messageText"))
                builder.add(speaker, text, _timestamp(message.get("timestamp")))
            return builder.transcript()

        # The recordings of one conversation together (the API lists them in one array).
        conversations: dict[str, list[dict[str, Any]]] = {}
        for recording in source.objects:
            ident = str(recording.get("conversationId") or source.stem)
            conversations.setdefault(ident, []).append(recording)
        built = [
            (ident, lambda r=found, i=ident: build(r, f"conversation {i}"))
            for ident, found in conversations.items()
        ]
        return _collect(source, self.label, built, self.name)


# -- CSV -------------------------------------------------------------------------------------

CSV_CONVERSATION = (
    "conversation_id",
    "conversation",
    "conversationid",
    "ticket_id",
    "ticket",
    "contact_id",
    "chat_id",
    "call_id",
    "thread_id",
    "session_id",
    "id",
)
CSV_SPEAKER = (
    "speaker",
    "role",
    "speaker_role",
    "author",
    "author_role",
    "sender",
    "from",
    "participant",
    "participant_role",
    "side",
)
CSV_TEXT = ("text", "message", "body", "content", "utterance", "transcript", "comment")
CSV_TIME = ("time", "timestamp", "at", "created_at", "sent_at", "date", "start_time", "offset")
CSV_SPEAKERS = {
    **SPEAKERS,
    "end-user": CUSTOMER,
    "end_user": CUSTOMER,
    "requester": CUSTOMER,
    "contact": CUSTOMER,
    "consumer": CUSTOMER,
    "external": CUSTOMER,
    "internal": AGENT,
    "admin": AGENT,
    "human_agent": AGENT,
}


def _pick(columns: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((columns[n] for n in names if n in columns), None)


class GenericCsv:
    name = "csv"
    label = "CSV of conversations"

    def detect(self, source: Source) -> bool:
        columns = source.csv_columns
        return columns is not None and all(
            _pick(columns, names) for names in (CSV_CONVERSATION, CSV_SPEAKER, CSV_TEXT)
        )

    def read(self, source: Source, channel: str) -> list[Conversation]:
        columns = source.csv_columns or {}
        ident_col, speaker_col, text_col = (
            _pick(columns, n) for n in (CSV_CONVERSATION, CSV_SPEAKER, CSV_TEXT)
        )
        time_col = _pick(columns, CSV_TIME)
        builders: dict[str, _Builder] = {}
        unknown: list[TranscriptProblem] = []
        reader = csv.DictReader(io.StringIO(source.text), dialect=source.dialect)
        for row in reader:
            ident = (row.get(ident_col or "") or "").strip()
            if not ident:
                unknown.append(TranscriptProblem(reader.line_num, "the conversation id is empty"))
                continue
            builder = builders.setdefault(ident, _Builder(f"conversation {ident}", channel))
            said = (row.get(speaker_col or "") or "").strip()
            speaker = CSV_SPEAKERS.get(said.lower())
            if speaker is None:
                builder.problem(f"unknown speaker {said!r}: use agent or customer", reader.line_num)
                continue
            stamp = _timestamp(row.get(time_col)) if time_col else None
            builder.add(speaker, row.get(text_col or "") or "", stamp, reader.line_num)
        if unknown:
            raise TranscriptInvalid(f"{source.name} ({self.label})", unknown)
        return _collect(
            source,
            self.label,
            [(ident, b.transcript) for ident, b in builders.items()],
            self.name,
        )


# -- the product's own formats ---------------------------------------------------------------


def _single(source: Source) -> None:
    if len(source.data) > MAX_BYTES:
        raise TranscriptInvalid(
            source.name,
            [TranscriptProblem(0, f"the file is larger than {MAX_BYTES // 1000} kB")],
        )


class OwnJsonLines:
    name = "jsonl"
    label = "JSON lines of conversations"

    def conversations(self, source: Source) -> list[dict[str, Any]]:
        documents = source.documents or []
        if len(documents) == 1 and isinstance(documents[0], list):
            documents = documents[0]  # a JSON array of conversations
        elif len(documents) == 1 and source.extension not in (".jsonl", ".ndjson"):
            return []  # one conversation: the product's .json
        return documents

    def detect(self, source: Source) -> bool:
        found = self.conversations(source)
        return bool(found) and all(
            isinstance(d, dict) and isinstance(d.get("turns"), list) for d in found
        )

    def read(self, source: Source, channel: str) -> list[Conversation]:
        out, problems = [], []
        for number, item in enumerate(self.conversations(source), 1):
            ident = str(item.get("id") or f"{source.stem}:{number}")
            try:
                transcript = parse_json(
                    json.dumps(item), f"conversation {ident}", str(item.get("channel", channel))
                )
            except TranscriptInvalid as invalid:
                problems.extend(
                    TranscriptProblem(number, f"conversation {ident}: {p.reason}")
                    for p in invalid.problems
                )
                continue
            out.append(Conversation(ident, transcript, self.name))
        if problems:
            raise TranscriptInvalid(f"{source.name} ({self.label})", problems)
        return out


class OwnJson:
    name = "json"
    label = "transcript JSON"

    def detect(self, source: Source) -> bool:
        documents = source.documents or []
        if len(documents) != 1:
            return False
        document = documents[0]
        if isinstance(document, dict):
            return isinstance(document.get("turns"), list)
        return (
            isinstance(document, list)
            and bool(document)
            and all(isinstance(t, dict) and "speaker" in t for t in document)
        )

    def read(self, source: Source, channel: str) -> list[Conversation]:
        _single(source)
        document = (source.documents or [None])[0]
        ident = document.get("id") if isinstance(document, dict) else None
        transcript = parse_json(source.text, source.name, channel)
        return [Conversation(str(ident or source.stem), transcript, self.name)]


class OwnCsv:
    name = "transcript-csv"
    label = "transcript CSV"

    def detect(self, source: Source) -> bool:
        columns = source.csv_columns
        return columns is not None and "speaker" in columns and "text" in columns

    def read(self, source: Source, channel: str) -> list[Conversation]:
        _single(source)
        text = source.text
        if source.dialect.delimiter != ",":
            # Excel in much of Europe writes ";": rewritten with commas for the CSV reader.
            rows = csv.reader(io.StringIO(text), dialect=source.dialect)
            buffer = io.StringIO()
            csv.writer(buffer).writerows(rows)
            text = buffer.getvalue()
        return [Conversation(source.stem, parse_csv(text, source.name, channel), self.name)]


class OwnText:
    name = "txt"
    label = "text transcript"
    LINE = re.compile(r"^\s*(?:\[?[\d:]+\]?\s*[-\u2013]?\s*)?([A-Za-z][A-Za-z .'-]{0,30}?)\s*:")

    def detect(self, source: Source) -> bool:
        if source.documents is not None:
            return False
        if source.extension == ".txt":
            return True
        first = next((line for line in source.text.splitlines() if line.strip()), "")
        found = self.LINE.match(first)
        return found is not None and found.group(1).strip().lower() in SPEAKERS

    def read(self, source: Source, channel: str) -> list[Conversation]:
        _single(source)
        return [Conversation(source.stem, parse_txt(source.text, source.name, channel), self.name)]


# Most specific first: the vendor formats look for their own field names, the product's JSON
# for "turns", its CSV for a speaker and a text column, its text for "Agent:" lines.
REGISTRY: tuple[ConversationFormat, ...] = (
    ContactLens(),
    Genesys(),
    GenesysMessaging(),
    Zendesk(),
    Intercom(),
    Freshdesk(),
    OwnJsonLines(),
    OwnJson(),
    GenericCsv(),
    OwnCsv(),
    OwnText(),
)


def detect(source: Source) -> ConversationFormat:
    """The format of a file, or ``TranscriptInvalid`` listing the formats tried."""
    for kind in REGISTRY:
        if kind.detect(source):
            return kind
    tried = ", ".join(k.label for k in REGISTRY)
    if source.documents is None and source.text.lstrip()[:1] in ("[", "{"):
        reason = "it looks like JSON but is not valid JSON"
    else:
        reason = "this is not a conversation format we know"
    raise TranscriptInvalid(
        source.name, [TranscriptProblem(0, f"unknown format ({reason}); tried: {tried}")]
    )


def read_conversations(
    data: bytes, name: str, channel: str = "chat", mask: bool = False
) -> list[Conversation]:
    """Every conversation in an uploaded file, whichever supported format it is in;
    ``TranscriptInvalid`` names the file, the format and every problem."""
    if channel not in CHANNELS:
        channel = "chat"
    if len(data) > MAX_FILE_BYTES:
        raise TranscriptInvalid(
            name,
            [TranscriptProblem(0, f"the file is larger than {MAX_FILE_BYTES // 1_000_000} MB")],
        )
    source = Source(data, name)
    found = detect(source).read(source, channel)
    if len(found) > MAX_CONVERSATIONS:
        raise TranscriptInvalid(
            name, [TranscriptProblem(0, f"more than {MAX_CONVERSATIONS} conversations")]
        )
    if mask:
        found = [Conversation(c.id, mask_personal_data(c.transcript), c.format) for c in found]
    return found
