"""``flask lms platform|deployment …``: what an administrator runs to register an LMS."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from core.db import db
from lms.models import Deployment, Platform
from tests.lti import page_text

MOODLE = [
    "--issuer",
    "https://moodle.example.edu",
    "--client-id",
    "DfkJbgVAQxem6sf",
    "--deployment-id",
    "1",
    "--deployment-id",
    "7",
    "--auth-login-url",
    "https://moodle.example.edu/mod/lti/auth.php",
    "--auth-token-url",
    "https://moodle.example.edu/mod/lti/token.php",
    "--key-set-url",
    "https://moodle.example.edu/mod/lti/certs.php",
    "--name",
    "Example University Moodle",
]


def invoke(runner, *args):
    return runner.invoke(args=["lms", *args])


def test_add_list_show_remove_a_platform(runner, app):
    added = invoke(runner, "platform", "add", *MOODLE)
    assert added.exit_code == 0, added.output
    assert "Example University Moodle (2 deployment(s))" in added.output
    listing = invoke(runner, "platform", "list").output
    assert "https://moodle.example.edu\tDfkJbgVAQxem6sf\tdeployments: 1, 7" in listing
    shown = invoke(
        runner,
        "platform",
        "show",
        "--issuer",
        "https://moodle.example.edu",
        "--client-id",
        "DfkJbgVAQxem6sf",
        "--base-url",
        "https://tool.example.com",
    )
    assert shown.exit_code == 0, shown.output
    assert "https://tool.example.com/lms/login" in shown.output
    assert "https://tool.example.com/lms/launch" in shown.output
    assert "https://tool.example.com/lms/jwks" in shown.output
    assert "https://moodle.example.edu/mod/lti/certs.php" in shown.output
    removed = invoke(
        runner,
        "platform",
        "remove",
        "--issuer",
        "https://moodle.example.edu",
        "--client-id",
        "DfkJbgVAQxem6sf",
        "--yes",
    )
    assert removed.exit_code == 0
    with app.app_context():
        assert (
            db.session.scalar(
                select(Platform).where(Platform.issuer == "https://moodle.example.edu")
            )
            is None
        )
        assert (
            db.session.scalars(select(Deployment).where(Deployment.deployment_id == "7")).all()
            == []
        )


def test_canvas_shares_one_issuer_between_client_ids(runner, app):
    for client_id in ("10000000000001", "10000000000002"):
        result = invoke(
            runner,
            "platform",
            "add",
            "--issuer",
            "https://canvas.instructure.com",
            "--client-id",
            client_id,
            "--deployment-id",
            f"12:{client_id}abc",
            "--auth-login-url",
            "https://sso.canvaslms.com/api/lti/authorize_redirect",
            "--auth-token-url",
            "https://sso.canvaslms.com/login/oauth2/token",
            "--key-set-url",
            "https://sso.canvaslms.com/api/lti/security/jwks",
        )
        assert result.exit_code == 0, result.output
    with app.app_context():
        assert (
            len(
                db.session.scalars(
                    select(Platform).where(Platform.issuer == "https://canvas.instructure.com")
                ).all()
            )
            == 2
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--auth-login-url": "moodle.example.edu/auth"}, "absolute http(s) URL"),
        ({"--key-set-url": "ftp://x/y"}, "absolute http(s) URL"),
        ({"--issuer": " "}, "must not be empty"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_stored(runner, app, change, message):
    args = list(MOODLE)
    for option, value in change.items():
        args[args.index(option) + 1] = value
    result = invoke(runner, "platform", "add", *args)
    assert result.exit_code != 0
    assert message in result.output
    with app.app_context():
        assert (
            db.session.scalars(
                select(Platform).where(Platform.client_id == "DfkJbgVAQxem6sf")
            ).all()
            == []
        )


def test_registering_twice_is_refused(runner):
    assert invoke(runner, "platform", "add", *MOODLE).exit_code == 0
    again = invoke(runner, "platform", "add", *MOODLE)
    assert again.exit_code != 0 and "already registered" in again.output


def test_deployment_add(runner, app):
    invoke(runner, "platform", "add", *MOODLE)
    base = ["--issuer", "https://moodle.example.edu", "--client-id", "DfkJbgVAQxem6sf"]
    added = invoke(
        runner, "deployment", "add", *base, "--deployment-id", "9", "--trust-role-parameter"
    )
    assert added.exit_code == 0, added.output
    duplicate = invoke(runner, "deployment", "add", *base, "--deployment-id", "9")
    assert duplicate.exit_code != 0 and "already registered" in duplicate.output
    missing = invoke(
        runner,
        "deployment",
        "add",
        "--issuer",
        "https://nope",
        "--client-id",
        "x",
        "--deployment-id",
        "1",
    )
    assert missing.exit_code != 0 and "No platform" in missing.output
    with app.app_context():
        deployment = db.session.scalar(select(Deployment).where(Deployment.deployment_id == "9"))
        assert deployment.trust_role_parameter is True


def test_a_newly_registered_deployment_can_launch(runner, lti):
    pending = lti.pending("learner")
    changed = lti.resign(
        pending,
        lambda c: {**c, "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "second"},
    )
    assert lti.post_launch(changed).status_code == 400
    invoke(
        runner,
        "deployment",
        "add",
        "--issuer",
        lti.platform_base + "/dev-platform",
        "--client-id",
        "cx-academy-dev-tool",
        "--deployment-id",
        "second",
    )
    pending = lti.pending("learner")
    changed = lti.resign(
        pending,
        lambda c: {**c, "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "second"},
    )
    assert lti.post_launch(changed).status_code == 303


def test_commands_have_help(runner):
    for args in (
        ["platform", "add"],
        ["platform", "show"],
        ["deployment", "add"],
        ["keys", "rotate"],
    ):
        result = invoke(runner, *args, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output


def test_canvas_developer_key_json(client, live):
    config = client.get(live.tool_base + "/lms/canvas.json").json
    assert config["oidc_initiation_url"] == live.tool_base + "/lms/login"
    assert config["target_link_uri"] == live.tool_base + "/lms/launch"
    assert config["public_jwk_url"] == live.tool_base + "/lms/jwks"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in config["scopes"]
    extension = config["extensions"][0]
    assert extension["platform"] == "canvas.instructure.com"
    assert extension["domain"] == "127.0.0.1"
    placements = {p["placement"]: p["message_type"] for p in extension["settings"]["placements"]}
    assert placements == {
        "course_navigation": "LtiResourceLinkRequest",
        "link_selection": "LtiDeepLinkingRequest",
        "assignment_selection": "LtiDeepLinkingRequest",
    }
    assert json.loads(json.dumps(config)) == config


def test_setup_page_shows_values_to_paste(client, live):
    text = page_text(client.get(live.tool_base + "/lms/setup"))
    for path in ("/lms/login", "/lms/launch", "/lms/jwks", "/lms/canvas.json"):
        assert live.tool_base + path in text


def test_administrator_sees_the_platform_registration(lti):
    lti.launch_and_follow("administrator")
    page = lti.client.get(lti.tool_base + "/lms/admin/platform")
    assert page.status_code == 200
    text = page_text(page)
    assert "cx-academy-dev-tool" in text and "dev-deployment-1" in text


@pytest.mark.parametrize("persona", ["learner", "manager", "trainer"])
def test_registration_page_is_for_administrators_only(lti, persona):
    lti.launch_and_follow(persona)
    assert lti.client.get(lti.tool_base + "/lms/admin/platform").status_code == 403
