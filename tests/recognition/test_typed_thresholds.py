"""A badge rule's thresholds are typed numbers, read the way people write them."""

from __future__ import annotations

from tests.builders import sign_in
from tests.courses.flow import text
from tests.recognition.test_badges import add, custom_badges


def test_a_score_threshold_with_a_decimal_comma_is_read_as_meant(app, lti, badges):
    sign_in(lti, "trainer")
    response = add(app, lti, score="72,5")  # was "Not a valid decimal value"
    assert response.status_code == 302
    (badge,) = custom_badges(app)
    assert badge.rule == {"type": "score_at_least", "course": "*", "score": 72.5}


def test_a_threshold_that_cannot_be_read_is_refused_next_to_its_field(app, lti, badges):
    sign_in(lti, "trainer")
    response = add(app, lti, score="1e3")  # was read as 1000, then "between 0 and 100"
    assert response.status_code == 400
    page = text(response)
    assert "“1e3” uses an exponent" in page and "write the number out in full" in page
    assert "between 0 and 100" not in page  # one message, about what was typed
    assert 'value="1e3"' in response.text  # kept as typed, to correct in place
    assert custom_badges(app) == []
