"""A QA team's exports, whole: a file of many conversations becomes one queue item each, the
worker suggests levels for every one with its progress on a page, the queue filters by the
suggested level and confidence, and ``flask assessments suggest --json`` reads the same files
and prints exactly the promised keys, with quotes that are the transcript's own words."""

from __future__ import annotations

import io
import json
from pathlib import Path

from sqlalchemy import select

from assessments.formats import read_conversations
from assessments.grading import uncertain
from assessments.models import Assessment
from assessments.suggest import CRITERIA
from assessments.tenant_models import set_threshold
from core.db import db
from core.jobs import Job, run_one
from lms.models import Platform
from tests.assessments.test_flow import upload
from tests.courses.flow import as_person, get, join, rows, text
from tests.recognition.test_awards import user_id

DATA = Path(__file__).parent / "data" / "formats"
FIXTURES = sorted(p for p in DATA.iterdir() if p.name != "garbage.bin")


def fixture(name: str) -> tuple[io.BytesIO, str]:
    return io.BytesIO((DATA / name).read_bytes()), name


def run_worker(app) -> int:
    """Run queued jobs the way ``flask lms worker`` does, until none is left."""
    ran = 0
    with app.app_context():
        while run_one(db.session):
            ran += 1
        db.session.remove()
    return ran


def trainer_and_agent(app, lti):
    agent = as_person(app, lti, "learner", "agent-42", "Alex Agent")
    join(agent)
    lti.launch_and_follow("trainer")
    return str(user_id(app, "agent-42"))


def test_a_batch_becomes_one_queue_item_per_conversation_scored_by_the_worker(app, lti):
    agent_id = trainer_and_agent(app, lti)
    sent = upload(
        app,
        lti,
        learner=agent_id,
        channel="chat",
        files=[fixture("intercom-conversations.json"), fixture("conversations.csv")],
    )
    assert sent.status_code == 302 and "/jobs/" in sent.headers["Location"]
    stored = rows(app, Assessment)
    assert sorted(a.title for a in stored) == [
        "conversations.csv: chat-1",
        "conversations.csv: chat-2",
        "intercom-conversations.json: 81230001",
        "intercom-conversations.json: 81230002",
    ]
    assert all(a.suggestions == [] for a in stored)
    progress = get(lti, sent.headers["Location"])
    assert "Scoring 4 uploaded conversations" in text(progress)
    assert "Waiting for a worker" in text(progress)

    assert run_worker(app) == 1
    (job,) = rows(app, Job)
    assert (job.status, job.done, job.total) == ("done", 4, 4)
    scored = rows(app, Assessment)
    assert all({s["criterion"] for s in a.suggestions} == set(CRITERIA) for a in scored)
    finished = text(get(lti, sent.headers["Location"]))
    assert "Suggested levels for 4 of 4 conversations" in finished
    # Run again (a worker that died and came back): nothing is scored twice.
    with app.app_context():
        db.session.add(
            Job(
                kind="assessments-score",
                title="again",
                platform_id=job.platform_id,
                params={"assessment_ids": [a.id for a in scored]},
            )
        )
        db.session.commit()
    run_worker(app)
    again = db_job(app, "again")
    assert again.message.startswith("Suggested levels for 0 of 4")
    # A job of another LMS naming these conversations does not touch them.
    with app.app_context():
        for a in db.session.scalars(select(Assessment)):
            a.suggestions = []
        db.session.add(
            Job(
                kind="assessments-score",
                title="elsewhere",
                platform_id=job.platform_id + 1,
                params={"assessment_ids": [a.id for a in scored]},
            )
        )
        db.session.commit()
    run_worker(app)
    assert db_job(app, "elsewhere").message.startswith("Suggested levels for 0 of 4")
    assert all(a.suggestions == [] for a in rows(app, Assessment))


def db_job(app, title):
    with app.app_context():
        found = db.session.scalar(select(Job).where(Job.title == title))
        db.session.expunge(found)
        db.session.remove()
    return found


def test_one_conversation_per_file_is_scored_at_once_and_a_bad_export_loses_nothing(app, lti):
    agent_id = trainer_and_agent(app, lti)
    bad = json.dumps({"id": 9, "comments": [{"author_id": 1, "body": "Hi"}]}).encode()
    refused = upload(
        app,
        lti,
        learner=agent_id,
        files=[fixture("zendesk-tickets.jsonl"), (io.BytesIO(bad), "ticket.json")],
    )
    assert refused.status_code == 400
    assert "ticket.json (Zendesk ticket export)" in text(refused)
    assert rows(app, Assessment) == []
    added = upload(
        app,
        lti,
        learner=agent_id,
        files=[fixture("genesys-transcript.json"), fixture("freshdesk-ticket.json")],
    )
    assert added.status_code == 302 and added.headers["Location"].endswith("/assessments/queue")
    assert rows(app, Job) == []
    assert all(len(a.suggestions) == len(CRITERIA) for a in rows(app, Assessment))
    assert {a.channel for a in rows(app, Assessment)} == {"call"}


def test_the_queue_filters_by_suggested_level_and_confidence(app, lti):
    agent_id = trainer_and_agent(app, lti)
    upload(
        app,
        lti,
        learner=agent_id,
        files=[fixture("zendesk-tickets.jsonl"), fixture("conversations.jsonl")],
    )
    run_worker(app)
    stored = rows(app, Assessment)
    empathy = {
        a.title: next(s for s in a.suggestions if s["criterion"] == "empathy") for a in stored
    }
    for level in (1, 2, 3, 4):
        page = text(get(lti, f"/assessments/queue?skill=empathy&level={level}"))
        for title, s in empathy.items():
            assert (title in page) == (s["level"] == level), (title, level)
    low = text(get(lti, "/assessments/queue?skill=empathy&confidence=low"))
    high = text(get(lti, "/assessments/queue?skill=empathy&confidence=high"))
    for title, s in empathy.items():
        assert (title in low) == uncertain(s) and (title in high) == (not uncertain(s))
    # Every skill low confidence for this LMS: nothing is "confident" any more.
    with app.app_context():
        platform_id = stored[0].platform_id
        set_threshold(db.session, platform_id, 1.0)
        db.session.commit()
    page = get(lti, "/assessments/queue?confidence=high")
    assert page.status_code == 200 and "with these filters" in text(page)
    assert 'for="confidence"' in page.text and 'for="level"' in page.text


def suggest_json(runner, *args):
    result = runner.invoke(args=["assessments", "suggest", "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_suggest_json_prints_exactly_the_promised_keys_with_exact_quotes(app, runner):
    records = suggest_json(runner, *map(str, FIXTURES))
    transcripts = {
        c.id: c.transcript
        for path in FIXTURES
        for c in read_conversations(path.read_bytes(), path.name)
    }
    assert len(records) == len(transcripts) == 13
    quotes = 0
    for record in records:
        assert set(record) == {"id", "levels", "confidence", "evidence"}
        assert set(record["levels"]) == set(CRITERIA)
        assert all(record["levels"][s] in (1, 2, 3, 4) for s in CRITERIA)
        assert set(record["confidence"]) == set(CRITERIA)
        for skill in CRITERIA:
            confidence = record["confidence"][skill]
            assert isinstance(confidence["low_confidence"], bool)
            assert 0 <= confidence["probability"] <= 1
        turns = transcripts[record["id"]].turns
        for quoted in record["evidence"].values():
            for e in quoted:
                assert turns[e["turn"]].text[e["start"] : e["end"]] == e["text"]
                quotes += 1
    assert quotes > 0


def test_suggest_json_flags_skills_below_the_lms_threshold(app, runner):
    with app.app_context():
        platform_id = db.session.scalars(select(Platform.id)).first()
        set_threshold(db.session, platform_id, 1.0)
        db.session.commit()
        db.session.remove()
    path = str(DATA / "conversations.jsonl")
    strict = suggest_json(runner, "--platform-id", str(platform_id), path)
    assert all(r["confidence"][s]["low_confidence"] for r in strict for s in CRITERIA)
    builtin = suggest_json(runner, path)
    # Without an LMS: the built-in model's own agreement against the default threshold.
    assert not all(r["confidence"][s]["low_confidence"] for r in builtin for s in CRITERIA)
    missing = runner.invoke(args=["assessments", "suggest", "--platform-id", "999999", path])
    assert missing.exit_code != 0 and "there is no platform 999999" in missing.output


def test_suggest_reports_a_file_it_cannot_read_and_goes_on(app, runner):
    result = runner.invoke(
        args=["assessments", "suggest", str(DATA / "garbage.bin"), str(DATA / "conversations.csv")]
    )
    assert result.exit_code == 1
    assert "garbage.bin: unknown format" in result.stderr
    assert result.stdout.count("chat-") == 2
    assert "2 of 2 conversations scored" in result.stderr
