"""Each LMS learns from its own graders only, and its grading page trusts a suggestion only as
far as that LMS's agreement with it goes: a low-confidence skill is shown, not pre-selected,
and the trainer sets where low confidence starts."""

from __future__ import annotations

import io
import json
import re

from assessments.models import Assessment
from assessments.suggest_training import development_items
from assessments.tenant_models import SuggestionModel, graded_examples, retrain
from core.db import db
from tests.assessments.test_flow import GOOD, SCENARIO, grade, take, upload
from tests.courses.flow import as_person, browser, get, join, post, rows, text
from tests.recognition.test_awards import user_id
from tests.tenants import launch_from_lms_b

PER_TENANT = 12


def upload_and_grade(app, trainer, learner_sub, examples, stricter_patience):
    """Upload ``examples`` for the learner and grade each with the corpus's levels (patience
    one level stricter when asked); the levels given, in grading order."""
    files = [
        (io.BytesIO(json.dumps(e.transcript.to_json()).encode()), f"{e.id}.json") for e in examples
    ]
    sent = upload(app, trainer, learner=str(user_id(app, learner_sub)), channel="chat", files=files)
    assert sent.status_code == 302, text(sent)
    given = []
    uploaded = {a.title: a.id for a in rows(app, Assessment)}
    for e in examples:
        levels = dict(e.grades)
        if stricter_patience:
            levels["patience"] = max(1, levels["patience"] - 1)
        assert grade(trainer, uploaded[f"{e.id}.json"], levels).status_code == 302
        given.append(levels)
    return given


def platform_of(app, sub):
    from people.models import User

    with app.app_context():
        found = db.session.get(User, user_id(app, sub)).platform_id
        db.session.remove()
    return found


def test_one_lms_grades_never_train_another_lms_model(app, lti):
    agent_a = as_person(app, lti, "learner", "agent-a", "Alex A")
    join(agent_a)
    lti.launch_and_follow("trainer")
    agent_b = launch_from_lms_b(app, browser(app, lti), "learner", sub="agent-b")
    join(agent_b)
    trainer_b = launch_from_lms_b(app, browser(app, lti), "trainer")
    items = development_items()
    mine, theirs = items[:PER_TENANT], items[PER_TENANT : 2 * PER_TENANT]
    given_a = upload_and_grade(app, lti, "agent-a", mine, stricter_patience=True)
    given_b = upload_and_grade(app, trainer_b, "agent-b", theirs, stricter_patience=False)
    lms_a, lms_b = platform_of(app, "agent-a"), platform_of(app, "agent-b")
    assert lms_a != lms_b

    with app.app_context():
        b_first = retrain(db.session, lms_b, minimum=PER_TENANT)
        assert b_first is not None
        db.session.commit()
        b_before = (b_first.id, b_first.model, b_first.agreement)
        a_examples = graded_examples(db.session, lms_a)
        a_version = retrain(db.session, lms_a, minimum=PER_TENANT)
        db.session.commit()
        # What A's model was fitted on: A's conversations with A's grades, nothing of B's.
        texts = [[t.text for t in tr.turns] for tr, _ in a_examples]
        assert texts == [[t.text for t in e.transcript.turns] for e in mine]
        assert [g for _, g in a_examples] == given_a
        assert a_version is not None and a_version.conversations == PER_TENANT
        b_rows = db.session.query(SuggestionModel).filter_by(platform_id=lms_b).all()
        assert [(r.id, r.model, r.agreement) for r in b_rows] == [b_before]
        a_agreement = {s: a["qwk"] for s, a in a_version.agreement.items()}
        b_agreement = {s: a["qwk"] for s, a in b_first.agreement.items()}
        db.session.remove()
    assert given_b != given_a

    # Each LMS's next conversation is suggested by its own refit, with its own agreement.
    extra = items[2 * PER_TENANT : 2 * PER_TENANT + 1]
    for trainer, sub, agreement in (
        (lti, "agent-a", a_agreement),
        (trainer_b, "agent-b", b_agreement),
    ):
        new = upload(
            app,
            trainer,
            learner=str(user_id(app, sub)),
            channel="chat",
            files=[
                (io.BytesIO(json.dumps(extra[0].transcript.to_json()).encode()), f"new-{sub}.json")
            ],
        )
        assert new.status_code == 302
        (stored,) = [a for a in rows(app, Assessment) if a.title == f"new-{sub}.json"]
        assert {s["model"] for s in stored.suggestions} == {"version 1"}
        assert {s["criterion"]: s["agreement"] for s in stored.suggestions} == agreement
    results = text(get(lti, "/assessments/results"))
    assert "version 1, refitted on 12 graded conversations" in results
    assert f"{a_agreement['patience']:.2f}" in results


def checked_level(page: str, criterion: str) -> str | None:
    found = re.search(rf'id="l-{criterion}-(\d)"[^>]*\bchecked\b', page)
    return found.group(1) if found else None


def set_threshold(trainer, value: str):
    return post(
        trainer,
        "/assessments/suggestions/threshold",
        {"threshold": value},
        token_from="/assessments/results",
    )


def test_a_low_confidence_skill_is_shown_but_not_pre_selected(app, lti):
    trainer = browser(app, lti)
    trainer.launch_and_follow("trainer")
    # The built-in model's cross-validated kappa: patience 0.72, positive language 0.76.
    assert set_threshold(trainer, "0,74").status_code == 302
    lti.launch_and_follow("learner")
    join(lti)
    assessment_id = take(lti, SCENARIO, GOOD)
    (stored,) = rows(app, Assessment)
    suggested = {s["criterion"]: s for s in stored.suggestions}
    page = get(trainer, f"/assessments/{assessment_id}/grade").text
    assert checked_level(page, "patience") is None
    assert "low confidence: agreement with the labelled corpus 0.72" in page
    assert checked_level(page, "positive_language") == str(suggested["positive_language"]["level"])
    assert f"Suggested: {suggested['patience']['level']}" in page
    # Saved without choosing patience, the grade is refused until the grader picks a level.
    levels = {k: s["level"] for k, s in suggested.items() if k != "patience"}
    assert grade(trainer, assessment_id, levels).status_code == 400


def test_the_trainer_sets_the_threshold_on_the_results_page(app, lti):
    lti.launch_and_follow("trainer")
    page = text(get(lti, "/assessments/results"))
    assert "The built-in model" in page and "0.4" in page
    refused = set_threshold(lti, "1.5")
    assert refused.status_code == 400
    assert "Type a kappa between 0 and 1, for example 0.4." in text(refused)
    no_token = lti.client.post(
        lti.tool_base + "/assessments/suggestions/threshold", data={"threshold": "0.5"}
    )
    assert no_token.status_code == 400
    assert "below 0.4 a skill is low confidence" in text(get(lti, "/assessments/results"))
    assert set_threshold(lti, "0.74").status_code == 302
    after = text(get(lti, "/assessments/results"))
    assert "below 0.74 a skill is low confidence" in after
    # All but positive language (0.76) fall below 0.74: empathy 0.67, active listening 0.66,
    # patience 0.72, adaptability 0.48.
    assert after.count("No: low confidence") == 4
