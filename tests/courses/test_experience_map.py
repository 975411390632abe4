"""The journey-mapping course's exercise: the experience map grid, validated cell by cell and
sent to a trainer."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.db import db
from courses.exercises import EXPERIENCE_ROWS, EXPERIENCE_STAGES
from courses.models import ExerciseSubmission
from courses.pack import load_directory
from courses.services import import_packs
from tests.courses.flow import browser, exercise, get, join, rows, start, text

SLUG = "customer-journey-mapping"


@pytest.fixture
def journey(app):
    pack = load_directory(Path(__file__).parents[2] / "courses" / "content" / SLUG)
    with app.app_context():
        import_packs(db.session, [pack], "tests")
        db.session.commit()
        db.session.remove()


def full_map() -> dict[str, str]:
    cells = {
        f"s{s}_r{r}": f"{stage}: {row} for Dev"
        for s, stage in enumerate(EXPERIENCE_STAGES)
        for r, row in enumerate(EXPERIENCE_ROWS)
    }
    feelings = dict.fromkeys((f"s{s}_feeling" for s in range(4)), "neutral")
    return {**cells, **feelings, "s2_feeling": "negative"}


def test_the_grid_is_checked_cell_by_cell_then_waits_for_a_trainer(app, lti, journey):
    lti.launch_and_follow("learner")
    join(lti)
    start(lti, SLUG)
    page = get(lti, f"/courses/{SLUG}/exercise")
    assert page.status_code == 200
    assert (
        '<label class="visually-hidden" for="f-s0_r0">Touch points &amp; channels at Connection'
        in page.text
    )

    incomplete = {**full_map(), "s3_r5": " ", "s1_feeling": "furious"}
    refused = exercise(lti, SLUG, incomplete)
    assert refused.status_code == 400
    shown = text(refused)
    assert "Fill in this cell." in shown and "Choose positive, neutral or negative." in shown
    # What they typed is kept, so nothing is lost.
    assert "Connection: Touch points &amp; channels for Dev" in refused.text
    assert rows(app, ExerciseSubmission) == []

    sent = exercise(lti, SLUG, full_map())
    assert sent.status_code == 302
    (submission,) = rows(app, ExerciseSubmission)
    assert submission.status == "awaiting_review"
    assert submission.answers["s2_feeling"] == "negative"
    assert "Awaiting review" in text(get(lti, f"/courses/{SLUG}/exercise"))

    trainer = browser(app, lti)
    trainer.launch_and_follow("trainer")
    review = text(get(trainer, f"/courses/reviews/{submission.id}"))
    assert "Mastery & Activation: Metrics to track for Dev" in review
    assert "Negative" in review
