"""A learner takes a scenario, a trainer grades it with the suggestions, the learner sees the
result, the LMS gets the score; trainers assess uploaded transcripts; nobody sees what is not
theirs."""

from __future__ import annotations

import io

from assessments.library import scenarios
from assessments.models import Assessment, Grade
from lms.devplatform.models import DevLineItem, DevResourceLink
from lms.models import GradeDelivery
from recognition.models import Award, Badge
from tests.courses.flow import as_person, browser, get, join, launch_link, post, rows, text
from tests.lti import csrf_token_for

SCENARIO = "angry-double-charge"
GOOD = [
    "I'm so sorry, I can hear how upsetting it is to be overdrawn because we charged you twice. "
    "So you were charged £42.99 twice this month, is that right?",
    "You're right, that was your rent money, and I understand how stressful that is. What I can do "
    "right now is refund the duplicate and cover the overdraft fee.",
    "I completely understand the worry with rent due on Friday. Let me explain another way: I'll "
    "mark the refund as urgent today, and I'll email you the confirmation.",
    "I've fixed the duplicate payment setting on your account. Does that help? "
    "Is there anything else?",
]


def place_scenario(app, scenario_id):
    from core.db import db

    with app.app_context():
        item = DevLineItem(
            label="Scenario", score_maximum=100, resource_id=f"scenario:{scenario_id}"
        )
        db.session.add(item)
        db.session.flush()
        link = DevResourceLink(
            title="Scenario",
            url="",
            custom={"target": f"scenario:{scenario_id}"},
            lineitem_id=item.id,
        )
        db.session.add(link)
        db.session.flush()
        item.resource_link_id = f"dev-link-{link.id}"
        db.session.commit()
        link_id = link.id
        db.session.remove()
    return link_id


def take(learner, scenario_id=SCENARIO, replies=GOOD):
    started = post(learner, f"/assessments/scenarios/{scenario_id}/start")
    assert started.status_code == 302
    path = started.headers["Location"]
    assessment_id = int(path.rsplit("/", 1)[1])
    for answer in replies:
        post(learner, f"/assessments/{assessment_id}/reply", {"reply": answer})
    return assessment_id


def grade(trainer, assessment_id, levels, comment=""):
    data = {f"level_{k}": str(v) for k, v in levels.items()} | {"comment": comment}
    return post(trainer, f"/assessments/{assessment_id}/grade", data)


def test_scenario_graded_with_suggestions_reaches_learner_and_gradebook(app, lti):
    link = place_scenario(app, SCENARIO)
    assert (
        launch_link(lti, "learner", link).headers["Location"]
        == f"/assessments/scenarios/{SCENARIO}"
    )
    join(lti)
    scenario = scenarios()[SCENARIO]
    assert scenario.customer in text(get(lti, f"/assessments/scenarios/{SCENARIO}"))
    started = post(lti, f"/assessments/scenarios/{SCENARIO}/start")
    assessment_id = int(started.headers["Location"].rsplit("/", 1)[1])
    page = text(get(lti, started.headers["Location"]))
    assert scenario.turns[0].split()[0] in page and "Your reply to the customer" in page
    empty = post(lti, f"/assessments/{assessment_id}/reply", {"reply": " "})
    assert empty.status_code == 302 and "Write your reply to the customer." in text(
        get(lti, "/assessments/")
    )
    for answer in GOOD:
        post(lti, f"/assessments/{assessment_id}/reply", {"reply": answer})
    (assessment,) = rows(app, Assessment)
    assert assessment.status == "awaiting_grading"
    assert len(assessment.conversation["turns"]) == 2 * len(scenario.turns)
    suggested = {s["criterion"]: s["level"] for s in assessment.suggestions}
    assert suggested["empathy"] >= 3 and suggested["positive_language"] >= 3
    (pending,) = rows(app, GradeDelivery)
    assert pending.grading_progress == "PendingManual"
    assert "Sent for grading" in text(get(lti, f"/assessments/{assessment_id}"))

    trainer = browser(app, lti)
    trainer.launch_and_follow("trainer")
    assert "Lena Learner" in text(get(trainer, "/assessments/queue"))
    grading = get(trainer, f"/assessments/{assessment_id}/grade")
    assert 'class="evidence for"' in grading.text and "Suggested: " in text(grading)
    assert get(lti, "/assessments/queue").status_code == 403
    levels = dict(suggested, patience=4)
    done = grade(trainer, assessment_id, levels, "Warm and specific. Lovely.")
    assert done.status_code == 302
    (result,) = rows(app, Grade)
    assert (result.levels == levels and "patience" in result.changed) or suggested["patience"] == 4
    mine = text(get(lti, f"/assessments/{assessment_id}"))
    assert f"Your result: {result.score_percent:.0f}%" in mine and "Warm and specific." in mine
    final = max(rows(app, GradeDelivery), key=lambda d: d.id)
    assert (final.grading_progress, final.score_given) == ("FullyGraded", result.score_percent)


def test_two_graded_assessments_at_level_three_earn_the_skill_badge(app, lti, badges):
    learner = browser(app, lti)
    learner.launch_and_follow("learner")
    join(learner)
    trainer = browser(app, lti)
    trainer.launch_and_follow("trainer")
    levels = {
        "empathy": 3,
        "active_listening": 2,
        "patience": 3,
        "positive_language": 3,
        "adaptability": 2,
    }
    for scenario_id in (SCENARIO, "refund-past-return-window"):
        turns = len(scenarios()[scenario_id].turns)
        assessment_id = take(learner, scenario_id, (GOOD * 2)[:turns])
        assert grade(trainer, assessment_id, levels).status_code == 302
    slugs = {b.id: b.slug for b in rows(app, Badge)}
    held = sorted(slugs[a.badge_id] for a in rows(app, Award))
    assert "skill-empathy-proficient" in held and "skill-active-listening-proficient" not in held


def upload(app, who, **data):
    return who.client.post(
        who.tool_base + "/assessments/upload",
        data={"csrf_token": csrf_token_for(app, who.client), **data},
        content_type="multipart/form-data",
    )


def test_uploaded_transcripts_all_or_nothing(app, lti):
    agent = as_person(app, lti, "learner", "agent-7", "Alex Agent")
    join(agent)
    lti.launch_and_follow("trainer")
    from tests.recognition.test_awards import user_id

    good = (
        b"Customer: My router keeps dropping.\n"
        b"Agent: I'm sorry, that sounds frustrating. Which lights are on?"
    )
    bad = b"Customer: hi\nBoss: hello\n"
    agent_id = str(user_id(app, "agent-7"))
    refused = upload(
        app,
        lti,
        learner=agent_id,
        channel="chat",
        files=[(io.BytesIO(good), "a.txt"), (io.BytesIO(bad), "b.txt")],
    )
    assert refused.status_code == 400
    assert "b.txt" in text(refused) and "line 2: unknown speaker 'Boss'" in text(refused)
    assert rows(app, Assessment) == []
    added = upload(
        app,
        lti,
        learner=agent_id,
        channel="call",
        mask="1",
        pasted="Customer: I'm on 07700 900123\nAgent: Thanks, noted.",
        files=[(io.BytesIO(good), "a.txt")],
    )
    assert added.status_code == 302
    assessments = rows(app, Assessment)
    assert len(assessments) == 2 and {a.channel for a in assessments} == {"call"}
    pasted = next(a for a in assessments if a.title.startswith("Pasted transcript, "))
    assert pasted.conversation["turns"][0]["text"] == "I'm on [phone]"


def test_who_sees_what(app, lti):
    learner = browser(app, lti)
    learner.launch_and_follow("learner")
    join(learner)
    assessment_id = take(learner)
    other = as_person(app, lti, "learner", "other-9", "Omar Other")
    join(other)
    assert get(other, f"/assessments/{assessment_id}").status_code == 404
    assert get(other, "/assessments/upload").status_code == 403
    elsewhere = browser(app, lti)
    pending = elsewhere.resign(
        elsewhere.pending("trainer"),
        lambda c: {
            **c,
            "https://purl.imsglobal.org/spec/lti/claim/context": {"id": "other-course"},
        },
    )
    elsewhere.post_launch(pending)
    assert get(elsewhere, f"/assessments/{assessment_id}/grade").status_code == 404
    assert "Lena" not in text(get(elsewhere, "/assessments/queue"))
