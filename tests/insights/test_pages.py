"""A trainer imports a survey file on the page and reads the impact panel; nobody else can."""

from __future__ import annotations

import io

from insights.models import SurveyResponse
from tests.courses.flow import browser, get, rows, text
from tests.lti import csrf_token_for

CSV = b"id,team,date,score\na1,CXQ101,2026-11-02,5\na2,CXQ101,2026-11-03,4\n"


def upload(app, who, data, **fields):
    return who.client.post(
        who.tool_base + "/insights/import",
        data={"csrf_token": csrf_token_for(app, who.client), "metric": "csat",
              "team_column": "team", "date_column": "date", "score_column": "score",
              "id_column": "id", "file": (io.BytesIO(data), "survey.csv"), **fields},
        content_type="multipart/form-data",
    )  # fmt: skip


def test_a_trainer_imports_and_sees_the_panel_with_its_guardrails(app, lti):
    lti.launch_and_follow("trainer")
    bad = upload(app, lti, CSV + b"a3,CXQ101,2026-11-04,8\n")
    assert bad.status_code == 400
    assert "line 4, score: CSAT scores are whole numbers 1-5, not '8'" in text(bad)
    assert 'name="id_column" value="id"' in bad.text  # what was typed is kept
    assert rows(app, SurveyResponse) == []
    done = upload(app, lti, CSV)
    assert done.status_code == 302
    panel = text(get(lti, "/insights/?metric=csat"))
    assert "Did training move CSAT?" in panel
    assert "At least two trained teams" in panel  # one team: the page says what is missing
    assert "Imported 2 responses" in panel


def test_learners_and_managers_cannot_see_impact_or_import(app, lti):
    for persona in ("learner", "manager"):
        person = browser(app, lti)
        person.launch_and_follow(persona)
        assert get(person, "/insights/").status_code == 403
        assert upload(app, person, CSV).status_code == 403
    assert rows(app, SurveyResponse) == []


def test_the_report_downloads_as_a_pdf(app, lti):
    from pypdf import PdfReader

    lti.launch_and_follow("trainer")
    upload(app, lti, CSV)
    pdf = get(lti, "/insights/report.pdf?metric=csat")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    printed = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Training impact on CSAT" in printed and "Method" in printed
    assert "At least two trained teams" in printed


def test_a_manager_sees_the_teams_weekly_results(app, lti):
    manager = browser(app, lti)
    assert "No survey results for this team yet" in text(manager.launch_and_follow("manager"))
    lines = [b"id,team,date,score"]
    for n in range(40):
        lines.append(f"w{n},CXQ101,2026-11-{2 + n % 14:02d},{4 + n % 2}".encode())
    lti.launch_and_follow("trainer")
    assert upload(app, lti, b"\n".join(lines) + b"\n").status_code == 302
    page = text(get(manager, "/dashboard"))
    assert "Your team's customer results" in page and "CSAT by week" in page
    assert "Latest week: 100.0" in page  # every score is 4 or 5
