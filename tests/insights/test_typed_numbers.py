"""Numbers a trainer types on the impact page or in a survey file are read the way people write
them ("1,5", "12 000"), and what cannot be read is refused with a message, never misread."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from tests.courses.flow import get, text


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
