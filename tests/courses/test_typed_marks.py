"""A trainer's marks on a reviewed exercise are typed numbers, read by the one number reader."""

from __future__ import annotations

import pytest

from courses.models import ExerciseSubmission
from tests.courses.flow import browser, rows, text
from tests.courses.test_reviews import grade, submitted  # noqa: F401 - submitted: a fixture


@pytest.mark.usefixtures("submitted")
def test_a_mark_written_with_a_decimal_comma_counts_and_half_a_mark_is_refused(app, lti):
    trainer = browser(app, lti)
    trainer.launch_and_follow("trainer")
    (submission,) = rows(app, ExerciseSubmission)
    half = grade(trainer, submission.id, "2,5", "2")
    assert half.status_code == 400
    assert "Enter a whole number (read as 2.5 (decimal comma))." in text(half)
    assert rows(app, ExerciseSubmission)[0].score is None
    whole = grade(trainer, submission.id, "3,0", "4")  # was "Not a valid integer value."
    assert whole.status_code == 302
    (submission,) = rows(app, ExerciseSubmission)
    assert submission.score == 7.0
