"""Conversations as real systems export them: each format is recognised from its content and
read to the turns people said, agent and customer on the right sides, internal notes and bots
left out; a file no format fits is refused with what was tried."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assessments.formats import REGISTRY, Source, detect, plain_text, read_conversations
from assessments.transcripts import TranscriptInvalid

DATA = Path(__file__).parent / "data" / "formats"


def read(name: str):
    return read_conversations((DATA / name).read_bytes(), name)


def turns(conversation):
    return [(t.speaker, t.text) for t in conversation.transcript.turns]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("zendesk-ticket.json", "zendesk"),
        ("zendesk-tickets.jsonl", "zendesk"),
        ("intercom-conversations.json", "intercom"),
        ("freshdesk-ticket.json", "freshdesk"),
        ("contact-lens-call.json", "contact-lens"),
        ("genesys-transcript.json", "genesys"),
        ("genesys-chat-recordings.json", "genesys-messaging"),
        ("conversations.csv", "csv"),
        ("conversations.jsonl", "jsonl"),
    ],
)
def test_each_fixture_is_recognised_as_its_format(name, kind):
    assert detect(Source((DATA / name).read_bytes(), name)).name == kind
    # The name does not decide: the same bytes under another name are recognised the same.
    assert detect(Source((DATA / name).read_bytes(), "export.dat")).name == kind


def test_every_format_has_a_name_a_label_and_both_methods():
    names = [f.name for f in REGISTRY]
    assert len(names) == len(set(names))
    assert all(f.label and callable(f.detect) and callable(f.read) for f in REGISTRY)


def test_zendesk_roles_from_users_html_bodies_and_private_notes_skipped():
    (ticket,) = read("zendesk-ticket.json")
    assert ticket.id == "5120" and ticket.transcript.channel == "email"
    assert turns(ticket) == [
        (
            "customer",
            "Hello, my blender arrived with a cracked jug. I need it for my daughter's party on "
            "Saturday.",
        ),
        (
            "agent",
            "I'm so sorry the jug arrived cracked, especially with the party on Saturday. "
            "I\u2019ve sent a replacement by express delivery, so it reaches you on Thursday.",
        ),
        ("customer", "Thank you, that is a relief."),
    ]
    assert [t.at for t in ticket.transcript.turns] == [0, 960, 2820]


def test_zendesk_tickets_as_json_lines_use_the_requester_and_the_channel():
    first, second = read("zendesk-tickets.jsonl")
    assert (first.id, first.transcript.channel) == ("7001", "email")
    assert (second.id, second.transcript.channel) == ("7002", "call")
    assert [s for s, _ in turns(second)] == ["customer", "agent"]
    assert "Address change allowed" not in json.dumps(second.transcript.to_json())


def test_intercom_leaves_out_notes_bots_and_empty_parts():
    first, second = read("intercom-conversations.json")
    assert turns(first) == [
        ("customer", "Hi, my app keeps logging me out every few minutes."),
        (
            "agent",
            "That sounds really annoying, sorry about that. So you are logged out every few "
            "minutes, is that right?",
        ),
        ("customer", "Yes, exactly & it loses my draft."),
    ]
    assert [t.at for t in first.transcript.turns] == [0, 100, 160]
    assert second.id == "81230002" and second.transcript.channel == "email"
    assert [s for s, _ in turns(second)] == ["customer", "agent"]


def test_freshdesk_description_first_private_notes_skipped_phone_source_is_a_call():
    (ticket,) = read("freshdesk-ticket.json")
    assert ticket.id == "3301" and ticket.transcript.channel == "call"
    assert turns(ticket) == [
        ("customer", "The engineer never arrived this morning and I waited at home all day."),
        (
            "agent",
            "I'm really sorry you lost a day waiting. I have booked the first slot tomorrow at "
            "8am.",
        ),
        ("customer", "OK, thanks."),
    ]


def test_freshdesk_conversations_endpoint_without_the_ticket_uses_incoming():
    messages = [
        {"body_text": "Is my order shipped?", "incoming": True, "private": False, "ticket_id": 9},
        {"body_text": "Internal: check stock", "incoming": False, "private": True, "ticket_id": 9},
        {"body": "<p>Yes, it left today.</p>", "incoming": False, "private": False, "ticket_id": 9},
    ]
    (ticket,) = read_conversations(json.dumps(messages).encode(), "conversations.json")
    assert ticket.format == "freshdesk" and ticket.id == "9"
    assert turns(ticket) == [("customer", "Is my order shipped?"), ("agent", "Yes, it left today.")]


def test_contact_lens_participants_and_offsets():
    (call,) = read("contact-lens-call.json")
    assert call.id == "c0ffee00-1111-2222-3333-444455556666"
    assert call.transcript.channel == "call"
    assert [s for s, _ in turns(call)] == ["agent", "customer", "agent"]
    assert [t.at for t in call.transcript.turns] == [0, 3, 9]


def test_contact_lens_chat_with_participant_ids_and_a_system_message():
    document = {
        "Channel": "CHAT",
        "Participants": [
            {"ParticipantId": "p-cust", "ParticipantRole": "CUSTOMER"},
            {"ParticipantId": "p-agent", "ParticipantRole": "AGENT"},
            {"ParticipantId": "p-sys", "ParticipantRole": "SYSTEM"},
        ],
        "Transcript": [
            {"ParticipantId": "p-sys", "Content": "You are now connected."},
            {"ParticipantId": "p-cust", "Content": "Hello, I locked myself out."},
            {"ParticipantId": "p-agent", "Content": "No problem, let's get you back in."},
        ],
    }
    (chat,) = read_conversations(json.dumps(document).encode(), "lens.json")
    assert chat.transcript.channel == "chat"
    assert turns(chat) == [
        ("customer", "Hello, I locked myself out."),
        ("agent", "No problem, let's get you back in."),
    ]


def test_genesys_purposes_map_to_sides_and_the_ivr_is_left_out():
    (call,) = read("genesys-transcript.json")
    assert call.id == "9b1d-conv-42" and call.transcript.channel == "call"
    assert [s for s, _ in turns(call)] == ["customer", "agent", "customer"]
    assert "please hold" not in json.dumps(call.transcript.to_json())
    assert [t.at for t in call.transcript.turns] == [0, 4, 9]


def test_genesys_chat_recordings_leave_out_the_queue():
    (chat,) = read("genesys-chat-recordings.json")
    assert (chat.id, chat.transcript.channel) == ("chat-77a1", "chat")
    assert [s for s, _ in turns(chat)] == ["customer", "agent", "customer", "agent"]
    assert "in the queue" not in json.dumps(chat.transcript.to_json())
    assert [t.at for t in chat.transcript.turns] == [0, 60, 85, 160]


def test_generic_csv_groups_rows_by_conversation_whatever_the_column_case():
    first, second = read("conversations.csv")
    assert (first.id, second.id) == ("chat-1", "chat-2")
    assert [s for s, _ in turns(first)] == ["customer", "agent", "customer"]
    assert [t.at for t in first.transcript.turns] == [0, 40, 70]
    assert turns(second)[1] == (
        "agent",
        "Click 'Forgot password' on the sign-in page and follow the email.",
    )


def test_json_lines_keep_each_conversations_id_and_channel():
    first, second = read("conversations.jsonl")
    assert (first.id, first.transcript.channel) == ("q-1", "chat")
    assert (second.id, second.transcript.channel) == ("q-2", "call")


@pytest.mark.parametrize(
    ("data", "name", "kind"),
    [
        (b"Customer: hi, I need help\nAgent: Sure, what happened?", "pasted.txt", "txt"),
        (b"Customer: hi\nAgent: hello", "noextension", "txt"),
        (
            b'{"turns": [{"speaker": "customer", "text": "hi"}, '
            b'{"speaker": "agent", "text": "hello"}]}',
            "one.json",
            "json",
        ),
        (
            b'[{"speaker": "customer", "text": "hi"}, {"speaker": "agent", "text": "hello"}]',
            "turns.json",
            "json",
        ),
        (b"Speaker,Text\ncustomer,hi\nagent,hello\n", "one.csv", "transcript-csv"),
        (b"speaker;text\ncustomer;hi, there\nagent;hello\n", "semi.csv", "transcript-csv"),
        (b"Chat ID;Role;Body\nc1;customer;hi\nc1;agent;hello\n", "semi.csv", "csv"),
    ],
)
def test_the_products_own_formats_and_semicolon_csvs_are_read(data, name, kind):
    (conversation,) = read_conversations(data, name)
    assert conversation.format == kind
    assert [t.speaker for t in conversation.transcript.turns] == ["customer", "agent"]


@pytest.mark.parametrize(
    ("data", "name", "said"),
    [
        ((DATA / "garbage.bin").read_bytes(), "garbage.bin", "unknown format"),
        (b'{"tickets": [', "broken.json", "looks like JSON but is not valid JSON"),
        (b'{"hello": "world"}', "other.json", "unknown format"),
        (b"\x00\xff\xfe\x00", "blob.bin", "not UTF-8 text"),
    ],
)
def test_garbage_is_refused_saying_what_was_tried(data, name, said):
    with pytest.raises(TranscriptInvalid) as refused:
        read_conversations(data, name)
    message = str(refused.value)
    assert message.startswith(name) and said in message
    if "unknown format" in said:
        assert all(f.label in message for f in REGISTRY)


def test_problems_name_the_format_and_the_conversation():
    ticket = {"id": 4, "comments": [{"author_id": 8, "public": True, "body": "Hi"}]}
    with pytest.raises(TranscriptInvalid) as refused:
        read_conversations(json.dumps(ticket).encode(), "t.json")
    assert "t.json (Zendesk ticket export)" in str(refused.value)
    assert "ticket 4: cannot tell whether author 8 is the customer or an agent" in str(
        refused.value
    )
    rows = b"conversation_id,speaker,text\nc1,customer,hi\nc1,bot,beep\nc2,customer,hello\n"
    with pytest.raises(TranscriptInvalid) as refused:
        read_conversations(rows, "many.csv")
    said = str(refused.value)
    assert "many.csv (CSV of conversations)" in said
    assert "line 3: conversation c1: unknown speaker 'bot'" in said
    assert "conversation c2: no message is the agent's" in said


def test_masking_applies_to_every_conversation_of_an_export():
    found = read_conversations(
        b"id,speaker,text\na,customer,mail me at jo@example.com\na,agent,Done\n"
        b"b,customer,call 07700 900123\nb,agent,OK\n",
        "x.csv",
        mask=True,
    )
    assert [c.transcript.turns[0].text for c in found] == ["mail me at [email]", "call [phone]"]


def test_html_becomes_one_line_of_text():
    assert plain_text("<p>Hi&nbsp;there</p><p>Second<br/>line &amp; more</p>") == (
        "Hi there Second line & more"
    )
    assert plain_text("<style>p{}</style><div>Only this</div>") == "Only this"
    assert plain_text("plain  text\n with < and > signs") == "plain text with < and > signs"
