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
