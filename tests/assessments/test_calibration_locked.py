"""Calibration stays blind until the trainer closes the session: levels lock when saved, a
reopened grader's change is recorded but never counted, so copying the consensus cannot
improve the agreement the product reports, hide a grader's drift or earn the badge."""

from __future__ import annotations

import re

import krippendorff
import numpy as np
import pytest

from assessments.models import AssessmentEvent, CalibrationGrade
from recognition.models import Award, Badge
from tests.assessments.test_flow import take
from tests.courses.flow import as_person, browser, get, join, post, rows, text
from tests.recognition.test_awards import user_id

CRITERIA = ("empathy", "active_listening", "patience", "positive_language", "adaptability")
# Tara and Tom agree closely; Tess is far off (1.40 levels from the median on average).
# Krippendorff's alpha (ordinal) of these three is 0.0124.
TARA, TOM, TESS = (3, 3, 2, 4, 4), (3, 4, 1, 4, 4), (3, 1, 4, 1, 4)


def form(levels) -> dict[str, str]:
    return {f"level_{c}": str(v) for c, v in zip(CRITERIA, levels, strict=True)}


def two_figures(x: float) -> str:
    """Two significant figures, worked out independently of the app's formatter."""
    return format(x, "#.2g")


def alpha_of(*graders) -> float:
    return float(
        krippendorff.alpha(
            reliability_data=np.array(graders, dtype=float), level_of_measurement="ordinal"
        )
    )


def consensus_of(*graders) -> tuple[int, ...]:
    return tuple(int(x) for x in np.median(np.array(graders), axis=0))


@pytest.fixture
def people(app, lti):
    learner = browser(app, lti)
    learner.launch_and_follow("learner")
    join(learner)
    lti.launch_and_follow("trainer")
    tom = as_person(app, lti, "trainer", "trainer-2", "Tom Second")
    tess = as_person(app, lti, "trainer", "trainer-3", "Tess Third")
    return learner, lti, tom, tess


def test_levels_lock_when_saved_and_nothing_of_the_group_shows_until_closed(app, people):
    learner, tara, tom, tess = people
    path = post(tara, f"/assessments/{take(learner)}/calibrate").headers["Location"]
    for who, levels in ((tara, TARA), (tom, TOM), (tess, TESS)):
        assert post(who, path, form(levels)).status_code == 302
    # A second save is refused and changes nothing.
    again = post(tess, path, form(TOM))
    assert again.status_code == 400 and "Your levels are locked" in text(again)
    tess_id = user_id(app, "trainer-3")
    tess_row = next(g for g in rows(app, CalibrationGrade) if g.grader_id == tess_id)
    assert tuple(tess_row.levels[c] for c in CRITERIA) == TESS
    # Every grader, the trainer running it included, sees who saved but no one's levels but
    # their own, no consensus, no drift, no agreement.
    for who in (tara, tom, tess):
        page = text(get(who, path))
        assert "Saved so far" in page and "Tess Third" in page
        for hidden in ("Consensus", "Distance from the consensus", "Krippendorff", "drifting"):
            assert hidden not in page
    assert "Krippendorff" not in text(get(tara, "/assessments/results"))

    assert post(tom, path, {"close": "1"}).status_code == 302
    shown = text(get(tess, path))
    assert "Consensus (median)" in shown and "Tess Third: 1.40 levels on average drifting" in shown
    assert f"Krippendorff's alpha (ordinal): {two_figures(alpha_of(TARA, TOM, TESS))}" in shown


def test_copying_the_consensus_after_a_reopen_does_not_change_the_reported_agreement(app, people):
    learner, tara, tom, tess = people
    path = post(tara, f"/assessments/{take(learner)}/calibrate").headers["Location"]
    calibration_id = int(path.rsplit("/", 1)[1])
    for who, levels in ((tara, TARA), (tom, TOM), (tess, TESS)):
        post(who, path, form(levels))
    tess_id = user_id(app, "trainer-3")
    reopen = f"/assessments/calibrations/{calibration_id}/reopen"

    # Tess cannot reopen her own levels, and a reopening needs a reason.
    post(tess, reopen, {"grader": str(tess_id), "reason": "I misclicked patience."})
    post(tara, reopen, {"grader": str(tess_id), "reason": ""})
    assert rows(app, AssessmentEvent) == []
    assert (
        post(tara, reopen, {"grader": str(tess_id), "reason": "Misclicked patience."}).status_code
        == 302
    )

    # Tess learns the consensus from the others and saves it as her levels.
    copied = consensus_of(TARA, TOM, TESS)
    assert post(tess, path, form(copied)).status_code == 302
    assert post(tess, path, form(copied)).status_code == 400  # locked again
    assert post(tara, path, {"close": "1"}).status_code == 302
    refused = post(tara, reopen, {"grader": str(tess_id), "reason": "After the close."})
    assert refused.status_code == 302
    assert not any(g.locked_at is None for g in rows(app, CalibrationGrade))

    first = alpha_of(TARA, TOM, TESS)
    assert two_figures(first) == "0.012" and two_figures(alpha_of(TARA, TOM, copied)) != "0.012"
    page = text(get(tara, path))
    assert f"Krippendorff's alpha (ordinal): {two_figures(first)} (95% CI " in page
    assert "Tess Third: 1.40 levels on average drifting" in page
    assert "(later 3, not counted)" in page  # her changed active listening, beside the first
    assert "Tara Trainer (trainer) reopened Tess Third's levels: “Misclicked patience.”" in page

    results = text(get(tara, "/assessments/results"))
    assert f"Krippendorff's alpha (ordinal): {two_figures(first)} (95% CI " in results
    assert "Tess Third: 1.40 levels on average over 1 session drifting" in results

    events = sorted(rows(app, AssessmentEvent), key=lambda e: e.id)
    assert [(e.action, e.actor_id, e.subject_id) for e in events] == [
        ("calibration_reopened", user_id(app, "dev-trainer-1"), tess_id),
        ("calibration_revised", tess_id, tess_id),
    ]
    assert events[0].reason == "Misclicked patience." and events[0].actor_role == "trainer"


def test_the_calibrated_grader_badge_counts_first_levels_only(app, people, badges):
    learner, tara, tom, tess = people
    for grader in (tara, tom, tess):
        join(grader)  # badges are for people in the programme
    tess_id = user_id(app, "trainer-3")
    for _ in range(3):  # the badge asks for three sessions within 0.5 levels
        path = post(tara, f"/assessments/{take(learner)}/calibrate").headers["Location"]
        for who, levels in ((tara, TARA), (tom, TOM), (tess, TESS)):
            post(who, path, form(levels))
        calibration_id = path.rsplit("/", 1)[1]
        post(
            tara,
            f"/assessments/calibrations/{calibration_id}/reopen",
            {"grader": str(tess_id), "reason": "Asked to look again."},
        )
        post(tess, path, form(consensus_of(TARA, TOM, TESS)))
        post(tara, path, {"close": "1"})
    badge = next(b for b in rows(app, Badge) if b.slug == "calibrated-grader")
    holders = {a.user_id for a in rows(app, Award) if a.badge_id == badge.id}
    assert holders == {user_id(app, "dev-trainer-1"), user_id(app, "trainer-2")}

    page = text(get(tara, "/assessments/results"))
    data = np.array([TARA * 3, TOM * 3, TESS * 3], dtype=float)
    found = re.search(r"Krippendorff's alpha \(ordinal\): (\S+) \(95% CI (\S+) to (\S+),", page)
    assert found is not None
    expected = alpha_of(*data)
    assert found.group(1) == two_figures(expected)
    assert float(found.group(2)) <= expected <= float(found.group(3))
