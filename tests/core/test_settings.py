from __future__ import annotations

import pytest

from core import create_app
from core.config import DEVELOPMENT_SECRET, ConfigurationError, Settings


def test_settings_come_from_environment_variables():
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgres://u@db/x",
            "SECRET_KEY": "k" * 40,
            "APP_ENV": "production",
            "PROXY_FIX_HOPS": "1",
            "DEV_PLATFORM_ENABLED": "yes",
            "LTI_CLOCK_LEEWAY_SECONDS": "30",
        }
    )
    assert settings.database_uri("/srv/instance") == "postgresql+psycopg://u@db/x"
    assert settings.PROXY_FIX_HOPS == 1 and settings.DEV_PLATFORM_ENABLED
    assert settings.LTI_CLOCK_LEEWAY_SECONDS == 30


def test_development_defaults_are_safe_to_try():
    settings = Settings.from_env({})
    assert settings.APP_ENV == "development" and not settings.DEV_PLATFORM_ENABLED
    assert settings.database_uri("/srv/inst") == "sqlite:////srv/inst/academy.sqlite3"


@pytest.mark.parametrize("secret", ["", DEVELOPMENT_SECRET, "short"])
def test_production_refuses_a_default_or_weak_secret(secret):
    env = {"APP_ENV": "production", "DATABASE_URL": "postgresql://x/y", "SECRET_KEY": secret}
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app(Settings.from_env(env))


def test_production_requires_a_database_url():
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        create_app(Settings.from_env({"APP_ENV": "production", "SECRET_KEY": "s" * 40}))


def test_development_platform_is_off_unless_enabled(make_app, live):
    app = make_app(DEV_PLATFORM_ENABLED=False)
    assert app.test_client().get(live.tool_base + "/dev-platform/").status_code == 404
    assert Settings().DEV_PLATFORM_ENABLED is False


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PROXY_FIX_HOPS", "one", "PROXY_FIX_HOPS must be a whole number of 0 or more"),
        ("TRANSCRIPT_RETENTION_DAYS", "abc", "TRANSCRIPT_RETENTION_DAYS must be a whole number"),
        ("LTI_CLOCK_LEEWAY_SECONDS", "-5", "LTI_CLOCK_LEEWAY_SECONDS must be a whole number"),
        ("MAX_UPLOAD_MB", "0", "MAX_UPLOAD_MB must be a whole number of 1 or more"),
        ("WORKER_NICE", "20", "WORKER_NICE must be a whole number from 0 to 19"),
        ("WORKER_NICE", "-1", "WORKER_NICE must be a whole number from 0 to 19"),
        ("DEV_PLATFORM_ENABLED", "maybe", "DEV_PLATFORM_ENABLED must be one of 1, true"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be one of text, json, not 'xml'"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be one of DEBUG, INFO"),
        ("APP_ENV", "prod", "APP_ENV must be one of development, production, testing"),
    ],
)
def test_a_malformed_setting_is_refused_by_name_with_the_form_it_needs(variable, value, expected):
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({variable: value})
    assert str(refused.value).startswith(expected)
    assert repr(value) in str(refused.value)


def test_the_commands_say_which_setting_is_wrong_in_one_line_without_a_traceback(tmp_path):
    from tests.processes import FLASK, run, service_env

    env = service_env(INSTANCE_PATH=str(tmp_path), PROXY_FIX_HOPS="one")
    done = run([FLASK, "doctor"], env, timeout=60)
    assert done.returncode == 4
    assert done.stderr.strip() == (
        "CX Quality Academy cannot start: PROXY_FIX_HOPS must be a whole number of 0 or more "
        "(e.g. PROXY_FIX_HOPS=0), not 'one'."
    )


def test_production_refuses_the_development_platform():
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": "s" * 40,
        "DATABASE_URL": "postgresql://x/y",
        "DEV_PLATFORM_ENABLED": "1",
    }
    with pytest.raises(ConfigurationError, match="DEV_PLATFORM_ENABLED is on in production"):
        create_app(Settings.from_env(env))


PLATFORM_OVER_HTTP = [
    "lms",
    "platform",
    "add",
    "--issuer",
    "https://lms.example.edu",
    "--client-id",
    "c1",
    "--deployment-id",
    "d1",
    "--auth-login-url",
    "https://lms.example.edu/auth",
    "--auth-token-url",
    "https://lms.example.edu/token",
    "--key-set-url",
    "http://lms.example.edu/jwks",
]


def test_production_refuses_an_lms_url_over_http_unless_allowed(make_app):
    production = {"APP_ENV": "production", "SECRET_KEY": "p" * 40, "DEV_PLATFORM_ENABLED": False}
    refused = make_app(**production).test_cli_runner().invoke(args=PLATFORM_OVER_HTTP)
    assert refused.exit_code != 0
    assert "--key-set-url is http://lms.example.edu/jwks: production needs https://" in (
        refused.output
    )
    assert "LMS_ALLOW_HTTP=1" in refused.output
    allowed = make_app(**production, LMS_ALLOW_HTTP=True).test_cli_runner()
    assert allowed.invoke(args=PLATFORM_OVER_HTTP).exit_code == 0
    assert Settings.from_env({"LMS_ALLOW_HTTP": "1"}).LMS_ALLOW_HTTP


def test_durations_read_as_words():
    from datetime import timedelta

    from core.humanize import duration

    assert duration(timedelta(days=2)) == "2 days"
    assert duration(timedelta(days=1, hours=6)) == "1 day 6 hours"
    assert duration(timedelta(seconds=90)) == "1 minute 30 seconds"
    assert duration(timedelta(0)) == "0 seconds"


def test_db_upgrade_says_when_there_was_nothing_to_do(tmp_path):
    from tests.processes import FLASK, run, service_env

    env = service_env(INSTANCE_PATH=str(tmp_path))
    first = run([FLASK, "db", "upgrade"], env)
    assert first.returncode == 0, first.stderr
    assert "Running upgrade" in first.stderr and "Nothing to upgrade" not in first.stderr
    again = run([FLASK, "db", "upgrade"], env)
    assert again.returncode == 0, again.stderr
    assert "Running upgrade" not in again.stderr
    assert "Nothing to upgrade: the database is already at " in again.stderr


def test_the_demo_organisation_can_be_left_out_of_the_demo():
    from core.config import Settings

    assert Settings.from_env({}).DEMO_ORGANISATION is True
    assert Settings.from_env({"DEMO_ORGANISATION": "0"}).DEMO_ORGANISATION is False
