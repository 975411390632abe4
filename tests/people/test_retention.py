"""Retention: uploaded customer conversations and single survey responses are removed after
the configured number of days (0 keeps them); grades, scores and team counts stay."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import update

from assessments.models import Assessment, Grade
from core.db import db, utcnow
from insights.models import SurveyResponse, TeamDailyRollup, TeamWeeklyRollup
from tests.assessments.test_flow import upload as upload_transcript
from tests.builders import joined, launched, sign_in
from tests.courses.flow import get, post, rows, text
from tests.insights.test_pages import upload as upload_survey
from tests.recognition.test_awards import user_id

TRANSCRIPT = b"Customer: My router keeps dropping.\nAgent: I'm sorry, which lights are on?"
SURVEY = (
    b"id,team,date,score\n"
    b"old1,CXQ101,2025-01-06,5\nold2,CXQ101,2025-01-07,4\nnew1,CXQ101,2026-11-02,3\n"
)


def age(app, days: int) -> None:
    with app.app_context():
        db.session.execute(update(Assessment).values(created_at=utcnow() - timedelta(days=days)))
        db.session.commit()
        db.session.remove()


def test_nothing_is_removed_until_a_retention_is_set(app, lti, runner):
    agent = launched(lti, "learner", sub="agent-7", name="Alex Agent")
    joined(agent)
    sign_in(lti, "trainer")
    upload_transcript(
        app,
        lti,
        learner=str(user_id(app, "agent-7")),
        channel="chat",
        files=[(io.BytesIO(TRANSCRIPT), "a.txt")],
    )
    age(app, 400)
    result = runner.invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert "transcripts: kept (TRANSCRIPT_RETENTION_DAYS is 0)" in result.output
    (kept,) = rows(app, Assessment)
    assert kept.conversation["turns"][0]["text"] == "My router keeps dropping."


def test_old_transcripts_lose_their_text_and_keep_their_grades(make_app, lti):
    keeping = make_app(TRANSCRIPT_RETENTION_DAYS=90)
    trainer = type(lti)(keeping, keeping.test_client(), lti.tool_base, lti.platform_base)
    agent = launched(trainer, "learner", sub="agent-7", name="Alex Agent")
    joined(agent)
    sign_in(trainer, "trainer")
    sent = upload_transcript(
        keeping,
        trainer,
        learner=str(user_id(keeping, "agent-7")),
        channel="chat",
        files=[(io.BytesIO(TRANSCRIPT), "a.txt"), (io.BytesIO(TRANSCRIPT), "b.txt")],
    )
    assert sent.status_code == 302
    first = min(rows(keeping, Assessment), key=lambda a: a.id)
    with keeping.app_context():
        db.session.execute(
            update(Assessment)
            .where(Assessment.id == first.id)
            .values(created_at=utcnow() - timedelta(days=91))
        )
        db.session.commit()
        db.session.remove()

    result = keeping.test_cli_runner().invoke(args=["retention", "run"])
    assert "removed the text of 1 transcript(s) older than 90 days" in result.output
    old, recent = sorted(rows(keeping, Assessment), key=lambda a: a.id)
    assert old.conversation["turns"] == [] and old.suggestions == []
    assert recent.conversation["turns"][0]["text"] == "My router keeps dropping."
    page = text(get(trainer, f"/assessments/{old.id}/grade"))
    # The upload's age when its text went (91 days), not the policy's 90.
    assert "The conversation's text and file name were removed on" in page
    assert "after 91 days" in page
    assert "router" not in page
    # Running again removes nothing more.
    again = keeping.test_cli_runner().invoke(args=["retention", "run"])
    assert "removed the text of 0 transcript(s)" in again.output


def test_retention_leaves_nothing_of_the_customer_and_says_the_uploads_age(make_app, lti):
    keeping = make_app(TRANSCRIPT_RETENTION_DAYS=1)
    trainer = type(lti)(keeping, keeping.test_client(), lti.tool_base, lti.platform_base)
    agent = launched(trainer, "learner", sub="agent-7", name="Alex Agent")
    joined(agent)
    sign_in(trainer, "trainer")
    named = "Philippa Quaxley 07700900123 complaint.txt"
    sent = upload_transcript(
        keeping,
        trainer,
        learner=str(user_id(keeping, "agent-7")),
        channel="chat",
        files=[(io.BytesIO(TRANSCRIPT), named), (io.BytesIO(TRANSCRIPT), "b.txt")],
    )
    assert sent.status_code == 302
    month, day = sorted(rows(keeping, Assessment), key=lambda a: a.id)
    levels = {
        f"level_{c}": "3"
        for c in ("empathy", "active_listening", "patience", "positive_language", "adaptability")
    }
    graded = post(
        trainer,
        f"/assessments/{month.id}/grade",
        levels | {"comment": "Call Philippa back on 07700900123 or pq@example.com."},
    )
    assert graded.status_code == 302
    with keeping.app_context():
        for assessment, age_ in (
            (month, timedelta(days=31, hours=2)),
            (day, timedelta(days=1, hours=2)),
        ):
            db.session.execute(
                update(Assessment)
                .where(Assessment.id == assessment.id)
                .values(created_at=utcnow() - age_)
            )
        db.session.commit()
        db.session.remove()

    result = keeping.test_cli_runner().invoke(args=["retention", "run"])
    assert "removed the text of 2 transcript(s) older than 1 day" in result.output
    assert "1 days" not in result.output
    month, day = sorted(rows(keeping, Assessment), key=lambda a: a.id)
    stored = repr([vars(a) for a in (month, day)]) + repr([vars(g) for g in rows(keeping, Grade)])
    for trace in ("Philippa", "Quaxley", "07700900123", "pq@example.com", "router"):
        assert trace not in stored
    assert month.title == f"Transcript #{month.id}, uploaded {month.created_at:%d %b %Y}"
    pages = {
        path: text(get(who, path))
        for who, path in (
            (trainer, f"/assessments/{month.id}"),
            (trainer, "/assessments/queue"),
            (trainer, f"/assessments/{day.id}/grade"),
            (agent, "/assessments/"),
            (agent, f"/assessments/{month.id}"),
        )
    }
    for path, page in pages.items():
        assert "Philippa" not in page and "07700900123" not in page, path
    assert "removed on" in pages[f"/assessments/{month.id}"]
    assert "after 31 days" in pages[f"/assessments/{month.id}"]
    assert "after 1 day (" in pages[f"/assessments/{day.id}/grade"]
    assert "1 days" not in pages[f"/assessments/{day.id}/grade"]


def test_old_survey_responses_go_and_team_counts_stay(make_app, lti):
    keeping = make_app(SURVEY_RETENTION_DAYS=365)
    trainer = type(lti)(keeping, keeping.test_client(), lti.tool_base, lti.platform_base)
    sign_in(trainer, "trainer")
    assert upload_survey(keeping, trainer, SURVEY).status_code == 302
    weekly_before = len(rows(keeping, TeamWeeklyRollup))
    daily_before = len(rows(keeping, TeamDailyRollup))

    result = keeping.test_cli_runner().invoke(args=["retention", "run"])
    assert "removed 2 survey response(s) from before" in result.output
    assert [r.source_id for r in rows(keeping, SurveyResponse)] == ["new1"]
    assert len(rows(keeping, TeamWeeklyRollup)) == weekly_before == 2
    assert len(rows(keeping, TeamDailyRollup)) == daily_before == 3


def test_the_worker_applies_retention(make_app, lti):
    from lms.worker import run_worker

    keeping = make_app(SURVEY_RETENTION_DAYS=365)
    trainer = type(lti)(keeping, keeping.test_client(), lti.tool_base, lti.platform_base)
    sign_in(trainer, "trainer")
    assert upload_survey(keeping, trainer, SURVEY).status_code == 302
    with keeping.app_context():
        run_worker(once=True)
    assert [r.source_id for r in rows(keeping, SurveyResponse)] == ["new1"]
