"""Deep linking: the trainer's picker, the signed response, and launching what was placed."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from sqlalchemy import select

from core.db import db
from lms.devplatform.models import DevLineItem, DevResourceLink
from lms.launch import CLAIM, DEEP_LINKING_SETTINGS
from lms.targets import LaunchTarget, register_target
from tests.lti import csrf_token_for, form_fields, page_text, row_counts


def deep_link_pending(lti, persona="trainer"):
    login_url = lti.client.get(
        f"{lti.platform_base}/dev-platform/start/{persona}?message=deep-link"
    ).headers["Location"]
    return lti.authorize(lti.login(login_url))


@pytest.fixture
def graded_target(app):
    """A gradable activity, as a domain package (e.g. an assessment) would register."""
    target = LaunchTarget(
        "test-quiz",
        "people.dashboard",
        "NPS knowledge check",
        "Ten questions on Net Promoter Score.",
        kind="Assessment",
        score_maximum=10,
    )
    register_target(app, target)
    yield target
    app.extensions["lti_targets"].pop("test-quiz")


def open_picker(lti):
    response = lti.post_launch(deep_link_pending(lti))
    assert response.status_code == 303
    assert response.headers["Location"] == "/lms/deep-link"
    return lti.client.get(lti.tool_base + "/lms/deep-link")


def test_trainer_places_activities_and_they_launch(app, lti, graded_target):
    picker = open_picker(lti)
    text = page_text(picker)
    assert "Add CX Quality Academy activities" in text
    assert "NPS knowledge check" in text and "Graded · 10 points" in text
    assert 'type="checkbox"' in picker.text  # Moodle accepts several at once

    found = page_text(lti.client.get(lti.tool_base + "/lms/deep-link?q=net+promoter"))
    assert "1 activity matching “net promoter”" in found and "NPS knowledge check" in found

    answer = lti.client.post(
        lti.tool_base + "/lms/deep-link",
        data={
            "csrf_token": csrf_token_for(app, lti.client),
            "target": ["test-quiz", "grade-deliveries"],
        },
    )
    action, fields = form_fields(answer.text)
    assert action == lti.platform_base + "/dev-platform/deep-link-return"
    claims = jwt.decode(fields["JWT"], options={"verify_signature": False})
    assert claims["iss"] == "cx-academy-dev-tool"
    assert claims["aud"] == [lti.platform_base + "/dev-platform"]
    assert claims["https://purl.imsglobal.org/spec/lti/claim/message_type"] == (
        "LtiDeepLinkingResponse"
    )
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "dev-platform-dl"
    items = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    quiz = next(i for i in items if i["custom"]["target"] == "test-quiz")
    assert quiz["url"] == lti.tool_base + "/lms/launch"
    assert quiz["lineItem"] == {
        "scoreMaximum": 10,
        "label": "NPS knowledge check",
        "resourceId": "test-quiz",
        "tag": "cx-academy",
    }

    # The platform verifies the signature against the tool's JWKS and creates the links.
    returned = lti.client.post(action, data=fields)
    assert returned.status_code == 200
    assert "Added 2 activities to the course." in page_text(returned)
    with app.app_context():
        links = db.session.scalars(select(DevResourceLink).order_by(DevResourceLink.id)).all()
        assert [link.title for link in links] == ["NPS knowledge check", "Grade deliveries"]
        assert db.session.get(DevLineItem, links[0].lineitem_id).score_maximum == 10
        tools_link = links[1].id

    # Launching the placed "Grade deliveries" link as the trainer opens that page.
    login_url = lti.client.get(
        f"{lti.platform_base}/dev-platform/start/trainer?link={tools_link}"
    ).headers["Location"]
    launch = lti.post_launch(lti.authorize(lti.login(login_url)))
    assert launch.headers["Location"] == "/lms/grades"


def test_the_selection_can_be_answered_once(app, lti):
    open_picker(lti)
    token = csrf_token_for(app, lti.client)
    first = lti.client.post(
        lti.tool_base + "/lms/deep-link", data={"csrf_token": token, "target": "home"}
    )
    assert "JWT" in first.text
    again = lti.client.post(
        lti.tool_base + "/lms/deep-link", data={"csrf_token": token, "target": "home"}
    )
    assert again.status_code == 400
    assert "expired or was already answered" in page_text(again)


def test_choosing_nothing_explains_itself(app, lti):
    open_picker(lti)
    response = lti.client.post(
        lti.tool_base + "/lms/deep-link", data={"csrf_token": csrf_token_for(app, lti.client)}
    )
    assert "Choose at least one activity." in page_text(response)


def test_single_choice_platforms_get_radio_buttons(app, lti):
    pending = lti.resign(
        deep_link_pending(lti),
        lambda c: {
            **c,
            DEEP_LINKING_SETTINGS: {**c[DEEP_LINKING_SETTINGS], "accept_multiple": False},
        },
    )
    assert lti.post_launch(pending).status_code == 303
    picker = lti.client.get(lti.tool_base + "/lms/deep-link")
    assert 'type="radio"' in picker.text
    response = lti.client.post(
        lti.tool_base + "/lms/deep-link",
        data={
            "csrf_token": csrf_token_for(app, lti.client),
            "target": ["home", "grade-deliveries"],
        },
    )
    assert "accepts one activity at a time" in page_text(response)


def test_learner_cannot_place_activities(app, lti):
    pending = deep_link_pending(lti, "learner")
    before = row_counts(app)
    response = lti.post_launch(pending)
    assert response.status_code == 403
    assert "Only teachers and administrators can add" in page_text(response)
    assert row_counts(app) == before


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda s: None, "no deep_linking_settings"),
        (lambda s: {**s, "deep_link_return_url": "javascript:alert(1)"}, "no deep_link_return_url"),
        (lambda s: {**s, "accept_types": ["file"]}, "does not accept links to activities"),
    ],
    ids=["missing-settings", "bad-return-url", "no-resource-links"],
)
def test_malformed_deep_linking_request_is_refused(app, lti, change, words):
    def tamper(claims):
        settings = change(claims[DEEP_LINKING_SETTINGS])
        claims = {k: v for k, v in claims.items() if k != DEEP_LINKING_SETTINGS}
        if settings is not None:
            claims[DEEP_LINKING_SETTINGS] = settings
        return claims

    pending = lti.resign(deep_link_pending(lti), tamper)
    before = row_counts(app)
    response = lti.post_launch(pending)
    assert response.status_code == 400
    assert words in page_text(response)
    assert row_counts(app) == before


def test_picker_needs_a_deep_linking_launch(lti):
    lti.launch_and_follow("trainer")
    response = lti.client.get(lti.tool_base + "/lms/deep-link")
    assert response.status_code == 400


def test_forged_response_is_refused_by_the_platform(app, lti):
    open_picker(lti)
    answer = lti.client.post(
        lti.tool_base + "/lms/deep-link",
        data={"csrf_token": csrf_token_for(app, lti.client), "target": "home"},
    )
    action, fields = form_fields(answer.text)
    header, payload, signature = fields["JWT"].split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    response = lti.client.post(action, data={"JWT": forged})
    assert response.status_code == 400
    assert "did not verify" in page_text(response)
    assert re.search(r"Added \d activit", page_text(response)) is None
    assert parse_qs(urlsplit(action).query) == {}


def test_the_picker_groups_activities_by_kind_courses_first_with_the_button_at_hand(
    app, lti, graded_target
):
    picker = open_picker(lti).text
    legends = re.findall(r"<legend>([^<(]+) \((\d+)\)</legend>", picker)
    kinds = [name for name, _ in legends]
    order = ["Courses", "Course modules", "Scenarios", "Quizzes", "Other activities"]
    assert kinds == [k for k in order if k in kinds] and "Scenarios" in kinds, kinds
    assert sum(int(n) for _, n in legends) == picker.count('name="target"')
    # "Add to course" before the list as well as after it.
    assert picker.count(">Add to course</button>") == 2
    assert picker.index(">Add to course</button>") < picker.index('name="target"')


def test_moodle_is_told_what_to_do_where_it_cannot_take_the_answer(app, lti, graded_target):
    """Moodle takes the answer only inside its own dialog. In a window of its own the page
    first hands it to the course page it came from; where it cannot, it does not post it to
    fail ("window.processContentItemReturnData is not a function") but says, for each chosen
    activity, what to enter in Moodle instead. Other LMSs get the post as always."""
    pending = deep_link_pending(lti)
    as_moodle = lti.resign(
        pending,
        lambda c: {**c, CLAIM + "tool_platform": {"product_family_code": "moodle"}},
    )
    assert lti.post_launch(as_moodle).status_code == 303
    answer = lti.client.post(
        lti.tool_base + "/lms/deep-link",
        data={"csrf_token": csrf_token_for(app, lti.client), "target": ["test-quiz"]},
    )
    text = page_text(answer)
    assert "Add the activity in Moodle yourself" in text
    assert "name it “NPS knowledge check”" in text
    assert "“Custom parameters” enter target=test-quiz" in text
    assert "“Point” with a maximum of 10." in text
    assert 'id="by-hand" hidden' in answer.text  # shown by the script only when needed
    action, fields = form_fields(answer.text)  # still answerable from inside the dialog
    assert action == lti.platform_base + "/dev-platform/deep-link-return" and fields["JWT"]


def test_other_lms_get_no_moodle_instructions(app, lti, graded_target):
    assert lti.post_launch(deep_link_pending(lti)).status_code == 303
    answer = lti.client.post(
        lti.tool_base + "/lms/deep-link",
        data={"csrf_token": csrf_token_for(app, lti.client), "target": ["test-quiz"]},
    )
    assert "Adding to your course" in page_text(answer)
    assert "Moodle" not in page_text(answer)
