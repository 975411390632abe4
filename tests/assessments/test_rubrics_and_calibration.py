"""Trainers version rubrics without changing past grades, and calibrate graders blind with a
verified Krippendorff's alpha."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from assessments.models import Assessment, CalibrationGrade, Rubric, RubricVersion
from tests.assessments.test_flow import GOOD, grade, take
from tests.courses.flow import as_person, browser, get, join, post, rows, text


def edit_form(definition, **changes):
    data = {
        "name": definition["name"],
        "target_level": str(definition["target_level"]),
        **{f"level_{n}": definition["levels"][str(n)] for n in range(1, 5)},
    }
    for i, c in enumerate(definition["criteria"]):
        data[f"c{i}_name"] = c["name"]
        data[f"c{i}_weight"] = str(c["weight"])
        for n in range(1, 5):
            data[f"c{i}_l{n}"] = c["levels"][str(n)]
    data.update(changes)
    return data


@pytest.fixture
def learner(app, lti):
    person = browser(app, lti)
    person.launch_and_follow("learner")
    join(person)
    return person


def test_editing_makes_a_new_version_and_past_grades_keep_theirs(app, lti, learner):
    first = take(learner)
    lti.launch_and_follow("trainer")
    grade(
        lti,
        first,
        {
            "empathy": 3,
            "active_listening": 3,
            "patience": 3,
            "positive_language": 3,
            "adaptability": 3,
        },
    )
    builtin = next(r for r in rows(app, Rubric) if r.platform_id is None)
    definition = next(v for v in rows(app, RubricVersion) if v.rubric_id == builtin.id).definition
    new_text = "Names the feeling and links it to what the customer told us, in their words."
    form = edit_form(definition, name="Our QA rubric", c0_weight="40", c0_l3=new_text)
    saved = post(lti, f"/assessments/rubrics/{builtin.id}/edit", form)
    assert saved.status_code == 302
    own = next(r for r in rows(app, Rubric) if r.platform_id is not None)
    assert (own.name, own.current_version) == ("Our QA rubric", 1)
    page = text(get(lti, "/assessments/rubrics"))
    assert "Our QA rubric In use" in page

    again = post(lti, f"/assessments/rubrics/{own.id}/edit", form | {"c0_weight": "30"})
    assert again.status_code == 302
    assert next(r for r in rows(app, Rubric) if r.id == own.id).current_version == 2
    second = take(learner, "refund-past-return-window", GOOD[:3])
    by_id = {a.id: a for a in rows(app, Assessment)}
    versions = {v.id: v for v in rows(app, RubricVersion)}
    assert versions[by_id[first].rubric_version_id].rubric_id == builtin.id
    assert versions[by_id[second].rubric_version_id].definition["criteria"][0]["weight"] == 30
    # The first result still shows the built-in descriptor it was graded with.
    shown = text(get(learner, f"/assessments/{first}"))
    assert definition["criteria"][0]["levels"]["3"] in shown and new_text not in shown


def test_a_broken_rubric_is_refused_whole(app, lti):
    lti.launch_and_follow("trainer")
    from tests.courses.flow import get as fetch

    fetch(lti, "/assessments/rubrics")
    builtin = next(r for r in rows(app, Rubric) if r.platform_id is None)
    definition = rows(app, RubricVersion)[0].definition
    refused = post(lti, f"/assessments/rubrics/{builtin.id}/edit", edit_form(definition, c2_l1=""))
    assert refused.status_code == 400
    assert "is too short" in text(refused)
    # In the summary, linking to the control it is about, and at that control.
    third = definition["criteria"][2]["name"]
    assert f'<a href="#c2_l1">{third}, level 1: &#39;&#39; is too short</a>' in refused.text
    assert 'id="c2_l1" name="c2_l1" rows="2" maxlength="500" aria-invalid="true"' in refused.text
    assert [r for r in rows(app, Rubric) if r.platform_id is not None] == []
    # A weight that is not a number is refused with the form as typed, not a server error.
    typed = post(
        lti, f"/assessments/rubrics/{builtin.id}/edit", edit_form(definition, c1_weight="ten")
    )
    assert typed.status_code == 400
    assert "'ten' is not of type 'number'" in text(typed) and 'value="ten"' in typed.text


def test_the_five_skills_cannot_be_dropped(app):
    from assessments.errors import AssessmentError
    from assessments.library import builtin_rubric
    from assessments.rubrics import save_rubric
    from core.db import db
    from people.models import User

    definition = builtin_rubric() | {"criteria": builtin_rubric()["criteria"][1:] * 2}
    with app.app_context():
        editor = db.session.query(User).first() or User(platform_id=1, sub="x")
        with pytest.raises(AssessmentError):
            save_rubric(
                db.session, platform_id=1, editor=editor, rubric=None, definition=definition
            )
        db.session.rollback()
        db.session.remove()


def test_a_calibration_session_is_blind_and_reports_a_verified_alpha(app, lti, learner):
    assessment_id = take(learner)
    lti.launch_and_follow("trainer")
    started = post(lti, f"/assessments/{assessment_id}/calibrate")
    path = started.headers["Location"]
    graders = [
        lti,
        as_person(app, lti, "trainer", "trainer-2", "Tom Second"),
        as_person(app, lti, "trainer", "trainer-3", "Tess Third"),
    ]
    scores = [
        {
            "empathy": 3,
            "active_listening": 3,
            "patience": 4,
            "positive_language": 3,
            "adaptability": 2,
        },
        {
            "empathy": 3,
            "active_listening": 2,
            "patience": 4,
            "positive_language": 3,
            "adaptability": 2,
        },
        {
            "empathy": 1,
            "active_listening": 4,
            "patience": 2,
            "positive_language": 1,
            "adaptability": 4,
        },
    ]
    before = text(get(graders[1], path))
    assert "Distance from the consensus" not in before  # blind until you have graded
    for who, levels in zip(graders, scores, strict=True):
        saved = post(who, path, {f"level_{k}": str(v) for k, v in levels.items()})
        assert saved.status_code == 302
    assert "Distance from the consensus" not in text(get(graders[0], path))  # until closed
    post(graders[0], path, {"close": "1"})
    report = text(get(graders[0], path))
    criteria = list(scores[0])
    expected = krippendorff.alpha(
        reliability_data=np.array([[s[c] for c in criteria] for s in scores], dtype=float),
        level_of_measurement="ordinal",
    )
    assert f"Krippendorff's alpha (ordinal): {expected:#.2g}" in report
    assert "Tess Third" in report and "drifting" in report
    consensus = {c: float(np.median([s[c] for s in scores])) for c in criteria}
    tess = np.mean([abs(scores[2][c] - consensus[c]) for c in criteria])
    assert f"Tess Third: {tess:.2f} levels on average drifting" in report
    assert len(rows(app, CalibrationGrade)) == 3


def test_results_show_agreement_over_the_period_verified(app, lti, learner):
    graders = [lti, as_person(app, lti, "trainer", "trainer-2", "Tom Second")]
    lti.launch_and_follow("trainer")
    keys = ("empathy", "active_listening", "patience", "positive_language", "adaptability")
    sessions = [
        [
            dict(zip(keys, (3, 3, 4, 3, 2), strict=True)),
            dict(zip(keys, (3, 2, 4, 2, 2), strict=True)),
        ],
        [
            dict(zip(keys, (2, 1, 3, 4, 3), strict=True)),
            dict(zip(keys, (1, 1, 3, 4, 4), strict=True)),
        ],
    ]
    for levels_by_grader in sessions:
        assessment_id = take(learner)
        path = post(lti, f"/assessments/{assessment_id}/calibrate").headers["Location"]
        for who, levels in zip(graders, levels_by_grader, strict=True):
            post(who, path, {f"level_{k}": str(v) for k, v in levels.items()})
        post(lti, path, {"close": "1"})
    page = text(get(lti, "/assessments/results"))
    criteria = list(sessions[0][0])
    data = np.array([[s[g][c] for s in sessions for c in criteria] for g in range(2)], dtype=float)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
    assert f"Krippendorff's alpha (ordinal): {expected:#.2g}" in page
    assert "Tom Second" in page
    assert "Agreement between graders (2 closed calibration sessions)" in page
    assert get(learner, "/assessments/results").status_code == 403
