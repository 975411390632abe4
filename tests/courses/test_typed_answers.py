"""A learner's typed answers in a course's exercise are read by the one number reader."""

from __future__ import annotations

import pytest

from courses.models import ExerciseSubmission
from tests.courses.flow import exercise, rows, start, text
from tests.courses.test_learning import learner  # noqa: F401 - a fixture


@pytest.mark.usefixtures("learner")
def test_an_ambiguous_or_exponent_answer_is_refused_with_how_to_write_it(app, lti):
    start(lti, "basics")
    bad = exercise(lti, "basics", {"nps": "1,500", "promoters": "1e3"})
    assert bad.status_code == 400
    page = text(bad)
    assert "“1,500” could be read as 1.5 or as 1500" in page  # was read as 1.5 without a word
    assert "“1e3” uses an exponent" in page and "write the number out in full" in page
    assert rows(app, ExerciseSubmission) == []
