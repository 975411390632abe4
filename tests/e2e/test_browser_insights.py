"""A trainer imports a survey file, sees the impact panel and downloads the PDF, in a real
Chromium against ``scripts/run-demo``: the issue's "done when" for training impact.

1. Tara (trainer) launches from the development platform in a new window, opens "Impact" in
   the top navigation and "Import survey results".
2. She uploads a CSV with one bad row (a CSAT score of 9): the page lists that row (line,
   column, reason) and says nothing was imported.
3. She uploads a good CSV (three dozen responses for the demo team over twelve days, the id
   column mapped): she is sent to the impact page, which says how many were imported.
4. With a single team there is no comparison to make: the page says what is missing instead
   of showing a number.
5. She asks for the report as a PDF: the worker draws it while a page shows progress, and she
   downloads a real PDF with the title and the method notes.

Every run writes its own response ids (and so its own file content): a file imported twice
is refused, and the e2e tests share one demo server. Screenshots of the upload page with the
bad-row report and of the impact page go to ``test-results/e2e/``.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from lms.devplatform.service import DEMO_CONTEXT
from tests.e2e.conftest import DemoService
from tests.e2e.steps import (
    TRAINER,
    assert_controls_labelled,
    comparison_panel,
    download_report_pdf,
    expect_imported,
    explained,
    launch_in_new_window,
    new_context,
    open_course_page,
    open_import_form,
    prepare_report_pdf,
    upload_survey,
)

pytestmark = pytest.mark.e2e

# The demo course's team, by each of the names the importer accepts.
TEAM_NAMES = (DEMO_CONTEXT["label"], DEMO_CONTEXT["title"], DEMO_CONTEXT["id"])
GOOD_DAYS = 12
GOOD_PER_DAY = 3
BAD_LINE = 4  # the header is line 1: the third data row
GUARDRAIL = re.compile(r"At least two trained teams with 10\+ responses before and after training")


def survey_csv(run: str, scores: list[int], start: datetime) -> str:
    """One response per score, ``GOOD_PER_DAY`` a day from ``start``, ids unique to ``run``."""
    lines = ["response_id,team,date,score"]
    for n, score in enumerate(scores):
        team = TEAM_NAMES[n % len(TEAM_NAMES)]
        moment = start + timedelta(days=n // GOOD_PER_DAY, hours=9 + n % GOOD_PER_DAY)
        lines.append(f"{run}-{n},{team},{moment:%Y-%m-%d %H:%M},{score}")
    return "\n".join(lines) + "\n"


def test_trainer_imports_a_survey_and_downloads_the_impact_report(
    browser: Browser, demo_server: DemoService, results_dir: Path, tmp_path: Path
) -> None:
    base = demo_server.base_url
    run = uuid.uuid4().hex
    start = (datetime.now(UTC) - timedelta(days=GOOD_DAYS + 2)).replace(tzinfo=None)
    bad_file = tmp_path / "survey-with-a-bad-row.csv"
    bad_file.write_text(survey_csv(f"bad-{run}", [5, 4, 9, 3, 5, 4], start), encoding="utf-8")
    good_scores = [(1, 2, 3, 4, 5, 4, 5, 3, 4)[n % 9] for n in range(GOOD_DAYS * GOOD_PER_DAY)]
    good_file = tmp_path / "survey.csv"
    good_file.write_text(survey_csv(f"good-{run}", good_scores, start), encoding="utf-8")

    context = new_context(browser)
    try:
        # 1. Tara opens the import form from the impact page.
        tara = launch_in_new_window(open_course_page(context, base), "trainer", base)
        with explained(tara, "the trainer opens the import form"):
            expect(tara.get_by_role("heading", level=1)).to_have_text(
                f"Welcome, {TRAINER.given_name}"
            )
            open_import_form(tara, base)

        # 2. A file with one bad row imports nothing and names the row.
        with explained(tara, "a file with a bad row is refused"):
            upload_survey(tara, bad_file)
            expect(tara).to_have_url(base + "/insights/import")
            # Why, in the error summary at the file field; the rows that stopped it below it.
            summary = tara.get_by_role("alert")
            expect(summary).to_have_count(1)
            expect(summary.get_by_role("heading", level=2)).to_have_text("There is a problem")
            expect(summary.get_by_role("link")).to_have_text(
                [
                    "1 row(s) have problems, so nothing was imported. Fix them, or import "
                    "without the bad rows."
                ]
            )
            rows = tara.locator("section").filter(
                has=tara.get_by_role("heading", name="The rows that stopped it")
            )
            expect(rows.get_by_role("listitem")).to_have_text(
                [f"line {BAD_LINE}, score: CSAT scores are whole numbers 1-5, not '9'"]
            )
            expect(tara.locator(".flash-success")).to_have_count(0)
            assert_controls_labelled(tara)
            tara.screenshot(path=results_dir / "insights-import-bad-row.png", full_page=True)

        # 3. The good file is imported, and Tara lands on the impact page.
        with explained(tara, "a good file is imported"):
            upload_survey(tara, good_file)
            expect_imported(tara, base, len(good_scores))

        # 4. One team: the page says what is missing rather than show an effect.
        with explained(tara, "the impact page shows the guardrail"):
            panel = comparison_panel(tara)
            expect(panel.locator("p.hint").filter(has_text=GUARDRAIL)).to_have_count(1)
            expect(panel).not_to_contain_text("a difference of")
            expect(tara.get_by_role("img", name=re.compile(r"^Effect "))).to_have_count(0)
            expect(tara.get_by_text("No CSAT results yet")).to_have_count(0)
            tara.screenshot(path=results_dir / "insights-impact.png", full_page=True)

            # 5. The same analysis as a PDF, drawn by the worker while a page shows progress.
            download_link = prepare_report_pdf(tara)
            expect(download_link).to_be_visible(timeout=30_000)  # the page reloads itself
            tara.screenshot(path=results_dir / "insights-report-ready.png", full_page=True)
            text = download_report_pdf(tara, download_link)
    finally:
        context.close()

    # The guardrail is in the report too.
    assert GUARDRAIL.search(text), text
