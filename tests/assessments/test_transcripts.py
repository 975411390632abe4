"""Transcripts in three formats: read turn by turn, refused with the line that is wrong, and
personal data masked on request."""

from __future__ import annotations

import json

import pytest

from assessments.transcripts import MAX_BYTES, TranscriptInvalid, mask_text, parse

TXT = b"""[00:00:03] Customer: My parcel never came.
[00:00:09] Agent: I'm sorry to hear that. Could you give me the order number?
Customer: It's 4471.
It was meant to come on Tuesday.
Advisor: Thanks, I can see it now.
"""


def test_text_transcripts_with_timestamps_and_continued_lines():
    transcript = parse(TXT, "call.txt", channel="call")
    assert [t.speaker for t in transcript.turns] == ["customer", "agent", "customer", "agent"]
    assert transcript.turns[0].at == 3 and transcript.turns[1].at == 9
    assert transcript.turns[2].text == "It's 4471. It was meant to come on Tuesday."
    assert transcript.channel == "call"


def test_json_and_csv():
    data = {
        "channel": "chat",
        "turns": [
            {"speaker": "Customer", "text": "Hi", "at": "00:01"},
            {"speaker": "agent", "text": "Hello!"},
        ],
    }
    transcript = parse(json.dumps(data).encode(), "chat.json")
    assert [(t.speaker, t.at) for t in transcript.turns] == [("customer", 1), ("agent", None)]
    csv_data = (
        b"Speaker,Text,Timestamp\ncaller,Where is my refund?,00:05\nrep,Let me check.,00:09\n"
    )
    assert [t.text for t in parse(csv_data, "x.csv").turns] == [
        "Where is my refund?",
        "Let me check.",
    ]


@pytest.mark.parametrize(
    ("data", "name", "problem"),
    [
        (b"Customer: hi\nManager: hello\n", "x.txt", "line 2: unknown speaker 'Manager'"),
        (b"hello there\n", "x.txt", "line 1: a turn must start with 'Agent:' or 'Customer:'"),
        (b"Customer: hi\nCustomer: anyone?\n", "x.txt", "no turn is the agent's"),
        (b"", "x.txt", "the transcript has no turns"),
        (b"Customer: hi\nAgent: caf\xe9\n", "x.txt", "line 2: the file is not UTF-8 text"),
        (b'{"turns": [{"speaker": "bot", "text": "x"}]}', "x.json", "turn 1: unknown speaker"),
        (b'{"turns": [', "x.json", "line 1: not valid JSON"),
        (b"who,what\na,b\n", "x.csv", "line 1: the header needs 'speaker' and 'text' columns"),
        (b"speaker,text\ncustomer,hi\nalien,hello\n", "x.csv", "line 3: unknown speaker 'alien'"),
        (b"Agent: hi", "x.docx", "upload a .txt, .json or .csv file"),
        (b"Agent: " + b"a" * MAX_BYTES, "x.txt", "larger than 200 kB"),
    ],
)
def test_bad_transcripts_say_what_and_where(data, name, problem):
    with pytest.raises(TranscriptInvalid) as caught:
        parse(data, name)
    assert problem in str(caught.value)


def test_utf16_with_a_byte_order_mark_is_read():
    data = "Customer: Grüße\nAgent: Hallo!".encode("utf-16")
    assert parse(data, "x.txt").turns[0].text == "Grüße"


def test_personal_data_is_masked():
    text, count = mask_text(
        "Mail jane.doe@example.com or call +44 7700 900123; card 4111 1111 1111 1111, "
        "order 1234 5678 9012 3456 and ref 2024-11-23."
    )
    assert text == (
        "Mail [email] or call [phone]; card [card number], "
        "order 1234 5678 9012 3456 and ref 2024-11-23."
    )
    assert count == 3
    masked = parse(b"Customer: I'm jane@example.com\nAgent: Thanks", "x.txt", mask=True)
    assert masked.turns[0].text == "I'm [email]" and masked.masked == 1
