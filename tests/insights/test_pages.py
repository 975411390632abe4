"""A trainer imports a survey file on the page and reads the impact panel; nobody else can."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

from core.db import db
from core.jobs import run_due_jobs
from insights.models import SurveyResponse
from insights.views import SYNC_IMPORT_BYTES
from tests.courses.flow import as_person, browser, get, rows, text
from tests.lti import csrf_token_for

CSV = b"id,team,date,score\na1,CXQ101,2026-11-02,5\na2,CXQ101,2026-11-03,4\n"


def upload(app, who, data, **fields):
    return who.client.post(
        who.tool_base + "/insights/import",
        data={
            "csrf_token": csrf_token_for(app, who.client),
            "metric": "csat",
            "team_column": "team",
            "date_column": "date",
            "score_column": "score",
            "id_column": "id",
            "file": (io.BytesIO(data), "survey.csv"),
            **fields,
        },
        content_type="multipart/form-data",
    )


def test_a_trainer_imports_and_sees_the_panel_with_its_guardrails(app, lti):
    lti.launch_and_follow("trainer")
    bad = upload(app, lti, CSV + b"a3,CXQ101,2026-11-04,8\n")
    assert bad.status_code == 400
    assert "line 4, score: CSAT scores are whole numbers 1-5, not '8'" in text(bad)
    assert 'name="id_column" value="id"' in bad.text  # what was typed is kept
    # Why, in the error summary as a link to the file field, which is marked invalid.
    assert 'role="alert"' in bad.text and '<li><a href="#file">' in bad.text
    assert 'aria-describedby="file-error" aria-invalid="true"' in bad.text
    assert rows(app, SurveyResponse) == []
    done = upload(app, lti, CSV)
    assert done.status_code == 302
    panel = text(get(lti, "/insights/?metric=csat"))
    assert "Did training move CSAT?" in panel
    assert "top-two-box % (4s and 5s)" in panel and "mean score (1-5)" in panel  # CSAT's figures
    assert "At least two trained teams" in panel  # one team: the page says what is missing
    assert "Imported 2 responses" in panel


def test_learners_and_managers_cannot_see_impact_or_import(app, lti):
    for persona in ("learner", "manager"):
        person = browser(app, lti)
        person.launch_and_follow(persona)
        assert get(person, "/insights/").status_code == 403
        assert upload(app, person, CSV).status_code == 403
    assert rows(app, SurveyResponse) == []


def run_jobs(app) -> int:
    """What the worker process does between its polls (``flask lms worker``)."""
    with app.app_context():
        try:
            return run_due_jobs(db.session)
        finally:
            db.session.remove()


def test_the_report_is_drawn_in_the_background_and_downloads_as_a_pdf(app, lti):
    from pypdf import PdfReader

    lti.launch_and_follow("trainer")
    upload(app, lti, CSV)
    started = lti.client.post(
        lti.tool_base + "/insights/report.pdf",
        data={"csrf_token": csrf_token_for(app, lti.client), "metric": "csat", "window": "28"},
    )
    assert started.status_code == 302 and "/jobs/" in started.location
    waiting = text(get(lti, started.location))
    assert "Waiting for a worker" in waiting and "updates itself" in waiting
    assert run_jobs(app) == 1
    ready = get(lti, started.location)
    assert "The report is ready." in text(ready)
    pdf = get(lti, started.location + "/result")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert re.fullmatch(
        r'attachment; filename="training-impact-csat-[\d-]+\.pdf"',
        pdf.headers["Content-Disposition"],
    )
    printed = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Training impact on CSAT" in printed and "Method" in printed
    assert "At least two trained teams" in printed
    # Nobody else sees the job or its result, not even another trainer.
    other = as_person(app, lti, "trainer", "another-trainer", "Tom Trainer")
    assert get(other, started.location).status_code == 404
    assert get(other, started.location + "/result").status_code == 404


def big_csv(rows: int, bad_every: int = 0) -> bytes:
    lines = [b"id,team,date,score"]
    for n in range(rows):
        score = 9 if bad_every and n % bad_every == 0 else 1 + n % 5
        lines.append(
            f"big-{n:07d},CXQ101,2026-10-{1 + n % 28:02d} {8 + n % 10:02d}:{n % 60:02d},"
            f"{score}".encode()
        )
    return b"\n".join(lines) + b"\n"


def test_a_large_file_imports_in_the_background_with_a_progress_page(app, lti):
    lti.launch_and_follow("trainer")
    data = big_csv(32_000)
    assert len(data) > SYNC_IMPORT_BYTES
    started = upload(app, lti, data)
    assert started.status_code == 302 and "/jobs/" in started.location
    assert rows(app, SurveyResponse) == []  # nothing yet: the worker has not run
    assert "Importing survey.csv" in text(get(lti, started.location))
    run_jobs(app)
    done = text(get(lti, started.location))
    assert "Imported 32,000 responses (0 already there, 0 bad rows skipped)." in done
    assert len(rows(app, SurveyResponse)) == 32_000


def test_a_large_file_with_bad_rows_imports_nothing_and_the_job_lists_them(app, lti):
    lti.launch_and_follow("trainer")
    started = upload(app, lti, big_csv(32_000, bad_every=10_000))
    run_jobs(app)
    page = text(get(lti, started.location))
    assert "4 row(s) have problems, so nothing was imported." in page
    assert "line 2, score: CSAT scores are whole numbers 1-5, not '9'" in page
    assert "line 30002, score" in page
    assert rows(app, SurveyResponse) == []


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


def upload_rows_naming_agents(app, lti) -> None:
    """Lena completes the basics course today, Nick Not does not; the trainer imports 80
    rows of the first team (CXQ101) over the last 40 days, half naming each of them."""
    from tests.courses.flow import finish_basics, join, start

    lena = browser(app, lti)
    lena.launch_and_follow("learner")  # the first person, in the first team: the same ids
    join(lena)
    start(lena, "basics")
    finish_basics(lena)  # completed today
    as_person(app, lti, "learner", "not-1", "Nick Not")
    lti.launch_and_follow("trainer")
    lines = [b"id,team,agent,date,score"]
    for n in range(80):
        day = date.today() + timedelta(days=-20 + n // 2)
        agent = ("dev-learner-1", "not-1")[n % 2]
        lines.append(f"t{n},CXQ101,{agent},{day},{1 + n % 5}".encode())
    assert upload(app, lti, b"\n".join(lines) + b"\n", agent_column="agent").status_code == 302


def test_survey_rows_naming_agents_keep_teams_and_agents_apart(app, lti, packs):
    upload_rows_naming_agents(app, lti)
    page = text(get(lti, "/insights/?metric=csat"))
    by_team = page.split("CSAT by team", 1)[1].split("Download this table")[0]
    assert "Customer Experience Quality (demo course)" in by_team and "Lena" not in by_team
    assert "Compare agents" in page and "At least two trained agents" not in page  # on request
    compared = text(get(lti, "/insights/?metric=csat&agents=1"))
    agents = compared.split("Agents who completed training", 1)[1]
    assert "At least two trained agents" in agents  # one agent completed: no number yet
    agents_csv = get(lti, "/insights/agents.csv?metric=csat").text.splitlines()
    assert agents_csv[1].startswith(f"Lena Learner,{date.today()},")
    teams_csv = get(lti, "/insights/teams.csv?metric=csat").text.splitlines()
    assert teams_csv[1].startswith("Customer Experience Quality (demo course),80,3.000,40.00,")


def test_another_deployment_of_the_lms_neither_sees_nor_feeds_this_ones_teams(app, lti):
    """One LMS may serve several organisations, one per deployment (Canvas's inherited
    developer keys): a trainer of another deployment cannot file rows under this one's team
    names, and sees none of its teams in the report or the cohort."""
    from tests.security.conftest import OTHER_DEPLOYMENT, add_other_deployment, launch_as

    lti.launch_and_follow("trainer")
    assert upload(app, lti, CSV).status_code == 302
    add_other_deployment(app)
    stranger = launch_as(app, lti, "trainer", sub="b-t", name="Bea T", deployment=OTHER_DEPLOYMENT)
    other_file = b"id,team,date,score\nb1,CXQ101,2026-11-02,1\nb2,CXQ101,2026-11-03,1\n"
    refused = upload(app, stranger, other_file)
    assert refused.status_code == 400 and "no team called 'CXQ101'" in text(refused)
    team = "Customer Experience Quality (demo course)"
    for path in ("/insights/teams.csv?metric=csat", "/insights/cohort"):
        assert team not in text(get(stranger, path))
    assert team in text(get(lti, "/insights/teams.csv?metric=csat"))
    assert [r.source_id for r in rows(app, SurveyResponse)] == ["a1", "a2"]


def test_agents_on_large_imports_are_compared_by_the_worker_and_kept_until_the_next_import(
    app, lti, packs
):
    """Above the page's limit the agents' comparison is not computed while the trainer
    waits: the page starts one job (however often it is reloaded), the job's page leads
    back, and the report then shows the same comparison as one computed at once. A new
    import makes it stale: the next request starts another."""
    from core.jobs import Job
    from insights.agents import AGENTS_JOB

    upload_rows_naming_agents(app, lti)

    def agents_part(page: str) -> str:
        return page.split("Agents who completed training", 1)[1].split("Download")[0]

    at_once = agents_part(text(get(lti, "/insights/?metric=csat&agents=1")))
    assert "At least two trained agents" in at_once
    app.config["INSIGHTS_AGENTS_INLINE_RESPONSES"] = 10  # 80 responses: "large" from here on
    try:
        assert get(lti, "/insights/agents.csv?metric=csat").status_code == 404  # not yet
        waiting = get(lti, "/insights/?metric=csat&agents=1")
        assert "being compared in the background" in text(waiting)
        assert "At least two trained agents" not in text(waiting)
        job_page = re.search(r'href="[^"]*(/jobs/\d+)"', waiting.text).group(1)
        get(lti, "/insights/?metric=csat&agents=1")  # reloaded: still the same one job
        assert len(rows(app, Job, Job.kind == AGENTS_JOB)) == 1
        assert run_jobs(app) == 1
        finished = get(lti, job_page)
        assert "Agents compared" in text(finished) and "Download" not in text(finished)
        assert "agents=1" in finished.text  # Continue: back to the report
        kept = text(get(lti, "/insights/?metric=csat&agents=1"))
        assert agents_part(kept) == at_once
        agents_csv = get(lti, "/insights/agents.csv?metric=csat").text.splitlines()
        assert agents_csv[1].startswith(f"Lena Learner,{date.today()},")  # the kept one
        assert len(rows(app, Job, Job.kind == AGENTS_JOB)) == 1  # shown, not recomputed
        more = b"id,team,agent,date,score\nu1,CXQ101,not-1," + str(date.today()).encode() + b",5\n"
        assert upload(app, lti, more, agent_column="agent").status_code == 302
        stale = text(get(lti, "/insights/?metric=csat&agents=1"))
        assert "being compared in the background" in stale
        assert len(rows(app, Job, Job.kind == AGENTS_JOB)) == 2
    finally:
        del app.config["INSIGHTS_AGENTS_INLINE_RESPONSES"]
