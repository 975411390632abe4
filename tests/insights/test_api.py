"""POST /api/surveys: a survey tool sends batches with a bearer token of one LMS; bad batches
import nothing and say why; a batch sent twice counts once; tokens are per LMS, revocable and
rate limited."""

from __future__ import annotations

from sqlalchemy import select

from core.db import db
from insights.api import new_token
from insights.models import SurveyResponse, TeamDailyRollup
from people.models import Team
from tests.courses.flow import rows
from tests.windows import with_time_left_in_the_window

BATCH = {
    "metric": "csat",
    "timezone": "Europe/London",
    "responses": [
        {"id": "q-1", "team": "CXQ101", "answered_at": "2026-11-02 09:15", "score": 5},
        {
            "id": "q-2",
            "team": "CXQ101",
            "answered_at": "2026-11-02T17:40:00Z",
            "score": 2,
            "channel": "chat",
        },
    ],
}


def make_token(app, name="Qualtrics nightly") -> str:
    with app.app_context():
        platform_id = db.session.scalar(select(Team.platform_id))
        _, clear = new_token(db.session, platform_id, name)
        db.session.commit()
        db.session.remove()
    return clear


def send(lti, body, token=None, **headers):
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return lti.client.post(lti.tool_base + "/api/surveys", json=body, headers=headers)


def test_a_batch_is_imported_once_and_rolled_up(app, lti):
    lti.launch_and_follow("learner")  # the demo course's team
    token = make_token(app)
    first = send(lti, BATCH, token)
    assert first.status_code == 200, first.json
    assert first.json == {"imported": 2, "duplicates": 0, "bad_rows": 0, "problems": []}
    again = send(lti, BATCH, token)  # a retry after a timeout
    assert again.status_code == 200
    assert (again.json["imported"], again.json["duplicates"]) == (0, 2)
    assert sorted(r.source_id for r in rows(app, SurveyResponse)) == ["q-1", "q-2"]
    assert sum(r.responses for r in rows(app, TeamDailyRollup)) == 2


def test_a_batch_with_a_bad_response_imports_nothing_unless_asked(app, lti):
    lti.launch_and_follow("learner")
    token = make_token(app)
    bad = {
        **BATCH,
        "responses": [
            *BATCH["responses"],
            {"id": "q-3", "team": "Nowhere", "answered_at": "soon", "score": 5},
        ],
    }
    refused = send(lti, bad, token)
    assert refused.status_code == 422
    assert refused.json["problems"] == [
        {"index": 2, "field": "team", "reason": "no team called 'Nowhere' in this LMS"},
        {
            "index": 2,
            "field": "answered_at",
            "reason": "'soon' is not a date in the format YYYY-MM-DD",
        },
    ]
    assert rows(app, SurveyResponse) == []
    skipped = send(lti, {**bad, "skip_bad": True}, token)
    assert skipped.status_code == 200 and skipped.json["imported"] == 2
    assert skipped.json["bad_rows"] == 1


def test_malformed_batches_get_a_clear_400(app, lti):
    lti.launch_and_follow("learner")
    token = make_token(app)
    cases = [
        ({"metric": "csat"}, "'responses' is a required property"),
        ({**BATCH, "metric": "mood"}, "metric: 'mood' is not one of"),
        (
            {
                **BATCH,
                "responses": [
                    {"id": "x", "team": "CXQ101", "answered_at": "2026-11-02", "score": "5"}
                ],
            },
            "responses[0].score: '5' is not of type",
        ),
        ({**BATCH, "timezone": "Mars/Olympus"}, "Unknown time zone 'Mars/Olympus'"),
    ]
    for body, message in cases:
        answer = send(lti, body, token)
        assert answer.status_code == 400, body
        assert message in answer.json["error"], answer.json
    not_json = lti.client.post(
        lti.tool_base + "/api/surveys",
        data="team,score",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert not_json.status_code == 400 and "must be JSON" in not_json.json["error"]
    too_many = {**BATCH, "responses": [BATCH["responses"][0]] * 10_001}
    assert send(lti, too_many, token).status_code == 413
    assert rows(app, SurveyResponse) == []


def test_without_a_live_token_nothing_is_imported(app, lti, runner):
    lti.launch_and_follow("learner")
    token = make_token(app)
    for header in (None, "Basic abc", "Bearer cxq_not-a-token", f"Bearer {token}x"):
        answer = lti.client.post(
            lti.tool_base + "/api/surveys",
            json=BATCH,
            headers={"Authorization": header} if header else {},
        )
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="surveys"'
    listed = runner.invoke(args=["insights", "token", "list"])
    token_id = listed.output.split("\t")[0]
    assert "Qualtrics nightly" in listed.output and "never used" in listed.output
    assert runner.invoke(args=["insights", "token", "revoke", token_id]).exit_code == 0
    assert send(lti, BATCH, token).status_code == 401
    assert rows(app, SurveyResponse) == []


def test_the_cli_creates_a_token_shown_once(app, lti, runner):
    lti.launch_and_follow("learner")
    with app.app_context():
        platform_id = db.session.scalar(select(Team.platform_id))
        db.session.remove()
    made = runner.invoke(
        args=["insights", "token", "create", "--platform-id", str(platform_id), "--name", "CRM"]
    )
    assert made.exit_code == 0, made.output
    clear = made.output.strip().splitlines()[-1]
    assert clear.startswith("cxq_") and len(clear) > 40
    assert send(lti, BATCH, clear).status_code == 200
    missing = runner.invoke(
        args=["insights", "token", "create", "--platform-id", "999", "--name", "x"]
    )
    assert missing.exit_code == 1 and "No platform 999" in missing.output


def test_batches_are_rate_limited_per_token(app, lti):
    lti.launch_and_follow("learner")
    app.config["SURVEY_API_BATCHES_PER_MINUTE"] = 3
    token, other = make_token(app), make_token(app, "second tool")
    with_time_left_in_the_window(60)
    assert [send(lti, BATCH, token).status_code for _ in range(3)] == [200, 200, 200]
    limited = send(lti, BATCH, token)
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 61
    assert send(lti, BATCH, other).status_code == 200  # each token has its own allowance
