"""Numbers a trainer types on the impact page or in a survey file are read the way people write
them ("1,5", "12 000"), and what cannot be read is refused with a message, never misread."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from insights.models import SurveyResponse
from tests.courses.flow import get, rows, text
from tests.insights.test_import import GOOD, run, team, xlsx  # noqa: F401 - team: a fixture


def impact_page(lti, **amounts):
    return get(lti, "/insights/?" + urlencode({"metric": "csat", **amounts}))


def pdf_form_carries(page, name: str) -> str | None:
    """The amount the "Prepare this report as a PDF" form sends on."""
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', page.text)
    return found.group(1) if found else None


def test_roi_amounts_typed_with_a_decimal_comma_or_thousands_spaces_are_read_as_meant(app, lti):
    lti.launch_and_follow("trainer")
    page = impact_page(lti, cost="12 000", value_per_point="1,5")
    shown = text(page)
    assert "Read as 12000" in shown
    assert "Read as 1.5 (decimal comma)" in shown  # was 15, ten times off, with no warning
    assert 'value="12 000"' in page.text and 'value="1,5"' in page.text  # kept as typed
    assert (pdf_form_carries(page, "cost"), pdf_form_carries(page, "value_per_point")) == (
        "12000",
        "1.5",
    )


def test_roi_amounts_that_cannot_be_read_are_refused_next_to_their_field(app, lti):
    lti.launch_and_follow("trainer")
    page = impact_page(lti, cost="1e309", value_per_point="1,500")
    shown = text(page)
    assert page.status_code == 200
    assert "“1e309” uses an exponent" in shown and "write the number out in full" in shown
    assert "“1,500” could be read as 1.5 or as 1500" in shown
    assert page.text.count('aria-invalid="true"') == 2
    # Neither reaches the report: no infinite cost, no guessed worth.
    assert pdf_form_carries(page, "cost") is None
    assert pdf_form_carries(page, "value_per_point") is None


@pytest.mark.usefixtures("team")
def test_survey_scores_written_the_way_spreadsheets_write_them_are_imported(app):
    data = GOOD + b'r5,CXQ101,2026-11-04,"4,0"\nr6,CXQ101,2026-11-04,5.0\nr7,CXQ101,2026-11-04,+3\n'
    report = run(app, data)
    assert (report.imported, report.bad_rows) == (7, 0)
    stored = {r.source_id: r.score for r in rows(app, SurveyResponse)}
    assert (stored["r5"], stored["r6"], stored["r7"]) == (4, 5, 3)


@pytest.mark.usefixtures("team")
def test_survey_scores_that_cannot_be_read_are_refused_with_line_column_and_how_to_write_them(app):
    data = GOOD + b'r5,CXQ101,2026-11-04,1e3\nr6,CXQ101,2026-11-04,"1,500"\n'
    report = run(app, data, metric="nps")
    assert not report.ok and report.bad_rows == 2
    exponent, ambiguous = (str(p) for p in report.bad)
    assert exponent.startswith("line 6, score: “1e3” uses an exponent")
    assert (
        "write the number out in full" in exponent
        and "NPS scores are whole numbers 0-10" in exponent
    )
    assert ambiguous.startswith("line 7, score: “1,500” could be read as 1.5 or as 1500")
    assert "Write 1.5" in ambiguous
    assert rows(app, SurveyResponse) == []


@pytest.mark.usefixtures("team")
def test_an_excel_text_cell_with_a_decimal_comma_score_is_read_and_an_exponent_refused(app):
    header = ["id", "team", "answered", "score"]
    good = run(app, xlsx([header, ["x1", "CXQ101", "2026-11-02", "4,0"]]))
    assert (good.imported, good.bad_rows) == (1, 0)
    bad = run(app, xlsx([header, ["x2", "CXQ101", "2026-11-03", "5E0"]]))
    assert len(bad.bad) == 1
    assert str(bad.bad[0]).startswith("line 2, score: “5E0” uses an exponent")
