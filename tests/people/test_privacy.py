"""A person downloads everything the service holds about them and asks to be forgotten; an
administrator carries it out: their rows go, their team's survey totals stay, unnamed."""

from __future__ import annotations

import io
import json

from sqlalchemy import select

from core.db import db
from courses.models import CourseResult, Enrolment
from insights.models import SurveyResponse, TeamDailyRollup
from people.models import ConsentEvent, ErasureRequest, User
from tests.builders import joined, launched
from tests.courses.flow import finish_basics, get, post, rows, start, text
from tests.lti import csrf_token_for

SURVEY = b"id,team,agent,date,score\ns1,CXQ101,lena-1,2026-11-02,5\ns2,CXQ101,lena-1,2026-11-03,2\n"


def test_a_person_downloads_their_data_and_is_forgotten_on_request(app, lti, packs, runner):
    lena = joined(launched(lti, "learner", sub="lena-1", name="Lena Learner"))
    start(lena, "basics")
    finish_basics(lena)
    trainer = launched(lti, "trainer")
    imported = trainer.client.post(
        trainer.tool_base + "/insights/import",
        data={
            "csrf_token": csrf_token_for(app, trainer.client),
            "metric": "csat",
            "team_column": "team",
            "date_column": "date",
            "score_column": "score",
            "agent_column": "agent",
            "id_column": "id",
            "file": (io.BytesIO(SURVEY), "survey.csv"),
        },
        content_type="multipart/form-data",
    )
    assert imported.status_code == 302

    page = text(get(lena, "/me/data"))
    assert "What this service holds about you" in page and "Download all of it (JSON)" in page
    download = get(lena, "/me/data.json")
    assert download.headers["Content-Disposition"] == 'attachment; filename="my-data.json"'
    data = json.loads(download.data)["sections"]
    assert data["people"]["person"][0]["sub"] == "lena-1"
    assert len(data["people"]["programme_consent"]) == 1
    assert data["courses"]["results_and_certificates"][0]["course_title"]
    assert sorted(r["source_id"] for r in data["survey_results_naming_you"]) == ["s1", "s2"]
    # Only their own: the trainer's export has none of Lena's.
    theirs = json.loads(get(trainer, "/me/data.json").data)["sections"]
    assert theirs["courses"]["enrolments"] == [] and theirs["survey_results_naming_you"] == []

    assert post(lena, "/me/erasure").status_code == 302
    assert post(lena, "/me/erasure").status_code == 302  # asking twice records one request
    assert "You asked on" in text(get(lena, "/me/data"))
    (request,) = rows(app, ErasureRequest)
    listed = runner.invoke(args=["people", "erasures"])
    assert "Lena Learner" in listed.output and "pending" in listed.output
    done = runner.invoke(args=["people", "erase", str(request.id), "--yes"])
    assert done.exit_code == 0, done.output

    with app.app_context():
        assert db.session.scalar(select(User).where(User.sub == "lena-1")) is None
        db.session.remove()
    assert rows(app, Enrolment) == [] and rows(app, CourseResult) == []
    assert rows(app, ConsentEvent) == []
    survey = rows(app, SurveyResponse)
    assert len(survey) == 2 and {r.agent_id for r in survey} == {None}  # unnamed, still counted
    assert sum(r.responses for r in rows(app, TeamDailyRollup)) == 2
    (request,) = rows(app, ErasureRequest)
    assert request.erased_at is not None and request.user_id is None
    again = runner.invoke(args=["people", "erase", str(request.id), "--yes"])
    assert again.exit_code == 1 and "was carried out on" in again.output


def test_without_a_launch_there_is_no_data_page(app, client):
    assert client.get("/me/data").status_code == 401
    assert client.get("/me/data.json").status_code == 401


def test_every_page_of_a_launched_person_links_to_their_data(app, lti):
    page = lti.launch_and_follow("learner")
    assert 'href="/me/data">Your data</a>' in page.text
