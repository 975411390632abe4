"""The one settings object. Read from the environment once, passed to ``create_app``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

DEVELOPMENT_SECRET = "development-only-secret-change-me"  # noqa: S105 - refused in production
MOST_NICE = 19  # the lowest CPU priority a Unix process can have
# A SQLite database needs at least this much free space on its disk to start.
SQLITE_MIN_FREE_BYTES = 1024 * 1024


class ConfigurationError(RuntimeError):
    """The settings cannot run the service safely; the message says what to change."""


TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
APP_ENVS = ("development", "production", "testing")


class _Reader:
    """Reads each variable once, by its name, so a bad value is refused with the name and the
    form it should have had (an operator sees one line, not a traceback from ``int()``)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str) -> str:
        return self.env.get(name, "") or default

    def whole_number(
        self, name: str, default: int, minimum: int = 0, maximum: int | None = None
    ) -> int:
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            bounds = f"of {minimum} or more" if maximum is None else f"from {minimum} to {maximum}"
            raise ConfigurationError(
                f"{name} must be a whole number {bounds} (e.g. {name}={default}), not {raw!r}."
            )
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.env.get(name, "").strip().lower()
        if not raw:
            return default
        if raw in TRUE_WORDS | FALSE_WORDS:
            return raw in TRUE_WORDS
        raise ConfigurationError(
            f"{name} must be one of 1, true, yes, on or 0, false, no, off, not {raw!r}."
        )

    def choice(self, name: str, default: str, choices: tuple[str, ...], upper: bool = False) -> str:
        raw = self.env.get(name, "").strip()
        value = (raw.upper() if upper else raw.lower()) if raw else default
        if value not in choices:
            raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, not {raw!r}.")
        return value


@dataclass(frozen=True)
class Settings:
    """Everything the service can be told. Field names are the environment variable names."""

    APP_ENV: str = "development"
    SECRET_KEY: str = DEVELOPMENT_SECRET
    DATABASE_URL: str = ""
    INSTANCE_PATH: str = ""
    # Number of proxies in front of the app whose X-Forwarded-* headers we trust (0 = none).
    PROXY_FIX_HOPS: int = 0
    # Allowed clock difference between an LMS and us when checking iat/exp/nbf of a token.
    LTI_CLOCK_LEEWAY_SECONDS: int = 60
    # How long a platform's JWKS is trusted before it is fetched again.
    LTI_JWKS_CACHE_SECONDS: int = 3600
    # An unknown kid triggers a refetch, but no more often than this per platform.
    LTI_JWKS_MIN_REFETCH_SECONDS: int = 10
    # How long the nonce a login signs stays valid: the launch must come back within it.
    LTI_LOGIN_STATE_SECONDS: int = 600
    LTI_LAUNCH_DATA_SECONDS: int = 86400
    # How long each process trusts its snapshot of a registered platform or deployment
    # (changes made in the same process apply at once).
    LTI_REGISTRY_CACHE_SECONDS: int = 30
    DEV_PLATFORM_ENABLED: bool = False
    # With the development platform, `flask demo load` also brings in a demo organisation
    # (teams, six months of surveys, training, grades). Off gives a blank demo course, where a
    # journey starts from nothing (the browser tests' journeys do).
    DEMO_ORGANISATION: bool = True
    # LMS URLs (login, token, key set) must be https:// in production; this lets an operator
    # accept http:// knowingly, e.g. an LMS reached over a private network.
    LMS_ALLOW_HTTP: bool = False
    PUBLIC_BASE_URL: str = ""
    LOG_LEVEL: str = "INFO"
    LOG_FORMAT: str = "text"  # or "json": one object per line, for a log collector
    # Printed on certificates: the organisation's name and, optionally, its logo file
    # (SVG or PNG on this machine's disk).
    ORGANISATION_NAME: str = "CX Quality Academy"
    ORGANISATION_LOGO: str = ""
    # The contact address in the Open Badges issuer profile (Open Badges 2.0 requires one).
    # Empty: badges@ the host of PUBLIC_BASE_URL (or of the request), so set a mailbox
    # someone reads.
    BADGE_ISSUER_EMAIL: str = ""
    # Where `flask courses import` looks for content packs by default.
    COURSE_CONTENT_PATH: str = ""
    # The largest request body (uploads included) the service accepts, in megabytes.
    MAX_UPLOAD_MB: int = 200
    # Batches a survey tool may send to POST /api/surveys per minute, per token.
    SURVEY_API_BATCHES_PER_MINUTE: int = 60
    # LTI login initiations per minute from one client address (0 = no limit). Generous: a
    # campus behind one NAT address may launch a whole class at once.
    LOGIN_RATE_PER_MINUTE: int = 600
    # Imports and uploads (surveys, transcripts, course packs) per person per hour (0 = no limit).
    UPLOADS_PER_HOUR: int = 30
    # Days to keep the text of uploaded customer conversations, and single survey responses
    # (0 = keep). Grades, scores and the per-team survey counts are kept either way.
    TRANSCRIPT_RETENTION_DAYS: int = 0
    SURVEY_RETENTION_DAYS: int = 0
    # How much lower the worker's CPU priority is than the web processes' (Unix nice, 0-19):
    # its refits, imports and reports take the CPU that requests leave, so a job does not
    # stall the pages of everyone on the host. 0: the same priority as the web processes.
    WORKER_NICE: int = 10
    INSTALLED_PACKAGES: tuple[str, ...] = (
        "people",
        "lms",
        "lms.devplatform",
        "courses",
        "assessments",
        "recognition",
        "insights",
    )
    extra: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Every variable is parsed here; a malformed one raises ``ConfigurationError`` naming
        it and the expected form."""
        read = _Reader(os.environ if environ is None else environ)
        number = read.whole_number
        return cls(
            APP_ENV=read.choice("APP_ENV", cls.APP_ENV, APP_ENVS),
            SECRET_KEY=read.text("SECRET_KEY", DEVELOPMENT_SECRET),
            DATABASE_URL=read.text("DATABASE_URL", ""),
            INSTANCE_PATH=read.text("INSTANCE_PATH", ""),
            PROXY_FIX_HOPS=number("PROXY_FIX_HOPS", 0),
            LTI_CLOCK_LEEWAY_SECONDS=number("LTI_CLOCK_LEEWAY_SECONDS", 60),
            LTI_JWKS_CACHE_SECONDS=number("LTI_JWKS_CACHE_SECONDS", 3600),
            LTI_JWKS_MIN_REFETCH_SECONDS=number("LTI_JWKS_MIN_REFETCH_SECONDS", 10),
            LTI_REGISTRY_CACHE_SECONDS=number("LTI_REGISTRY_CACHE_SECONDS", 30),
            DEV_PLATFORM_ENABLED=read.flag("DEV_PLATFORM_ENABLED", False),
            DEMO_ORGANISATION=read.flag("DEMO_ORGANISATION", True),
            LMS_ALLOW_HTTP=read.flag("LMS_ALLOW_HTTP", False),
            PUBLIC_BASE_URL=read.text("PUBLIC_BASE_URL", "").rstrip("/"),
            LOG_LEVEL=read.choice("LOG_LEVEL", "INFO", LOG_LEVELS, upper=True),
            LOG_FORMAT=read.choice("LOG_FORMAT", "text", LOG_FORMATS),
            ORGANISATION_NAME=read.text("ORGANISATION_NAME", cls.ORGANISATION_NAME),
            ORGANISATION_LOGO=read.text("ORGANISATION_LOGO", ""),
            BADGE_ISSUER_EMAIL=read.text("BADGE_ISSUER_EMAIL", ""),
            COURSE_CONTENT_PATH=read.text("COURSE_CONTENT_PATH", ""),
            MAX_UPLOAD_MB=number("MAX_UPLOAD_MB", 200, minimum=1),
            SURVEY_API_BATCHES_PER_MINUTE=number("SURVEY_API_BATCHES_PER_MINUTE", 60),
            LOGIN_RATE_PER_MINUTE=number("LOGIN_RATE_PER_MINUTE", 600),
            UPLOADS_PER_HOUR=number("UPLOADS_PER_HOUR", 30),
            TRANSCRIPT_RETENTION_DAYS=number("TRANSCRIPT_RETENTION_DAYS", 0),
            SURVEY_RETENTION_DAYS=number("SURVEY_RETENTION_DAYS", 0),
            WORKER_NICE=number("WORKER_NICE", cls.WORKER_NICE, maximum=MOST_NICE),
        )

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def is_production(self) -> bool:
        return self.APP_ENV == "production"

    def database_uri(self, instance_path: str) -> str:
        if self.DATABASE_URL:
            url = self.DATABASE_URL
            # Heroku-style URLs name the driver "postgres"; SQLAlchemy wants an explicit driver.
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix) :]
            return url
        return "sqlite:///" + str(Path(instance_path) / "academy.sqlite3")

    def check(self) -> None:
        """Refuse settings that would be unsafe in production."""
        if self.APP_ENV not in {"development", "production", "testing"}:
            raise ConfigurationError(
                f"APP_ENV must be development, production or testing, not {self.APP_ENV!r}."
            )
        if self.is_production:
            if self.SECRET_KEY == DEVELOPMENT_SECRET or len(self.SECRET_KEY) < 32:
                raise ConfigurationError(
                    "Production mode needs SECRET_KEY set to a random value of at least 32 "
                    'characters, e.g. python -c "import secrets; print(secrets.token_hex(32))".'
                )
            if not self.DATABASE_URL:
                raise ConfigurationError("Production mode needs DATABASE_URL.")
            if self.DEV_PLATFORM_ENABLED:
                raise ConfigurationError(
                    "DEV_PLATFORM_ENABLED is on in production: the development platform lets "
                    "anyone launch as anyone. Unset it (it is for demos and tests)."
                )

    def as_flask_config(self, instance_path: str) -> dict[str, object]:
        values = {k: v for k, v in asdict(self).items() if k != "extra"}
        values.update(
            SQLALCHEMY_DATABASE_URI=self.database_uri(instance_path),
            # Pooled PostgreSQL connections are checked on checkout (core.db), not by pre-ping.
            SQLALCHEMY_ENGINE_OPTIONS={},
            TESTING=self.APP_ENV == "testing",
            WTF_CSRF_TIME_LIMIT=None,
            SESSION_COOKIE_HTTPONLY=True,
            SESSION_COOKIE_NAME="academy_session",
            PERMANENT_SESSION_LIFETIME=8 * 3600,
            MAX_CONTENT_LENGTH=self.MAX_UPLOAD_MB * 1024 * 1024,
        )
        values.update(self.extra)
        return values


def check_sqlite_folder(database_uri: str, instance_path: str) -> None:
    """Refuse to start on a SQLite database whose folder is missing, read-only or on a full
    disk, naming the folder and the fix (otherwise the first request fails with "unable to
    open database file"). Reads only: creates nothing. Other databases need no folder."""
    if not database_uri.startswith("sqlite:///"):
        return
    name = database_uri.removeprefix("sqlite:///").partition("?")[0]
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    database = Path(name).absolute()
    folder = database.parent
    if folder == Path(instance_path).absolute():
        where = f"The instance folder {folder}, where the SQLite database is kept,"
        fix = "or set INSTANCE_PATH to a folder the service can write"
    else:
        where = f"The SQLite database's folder {folder}"
        fix = "or set DATABASE_URL to a database in a folder the service can write"
    if not folder.is_dir():
        raise ConfigurationError(f"{where} does not exist: create it (mkdir -p {folder}), {fix}.")
    read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    if read_only or not os.access(folder, os.W_OK | os.X_OK):
        why = "is on a read-only file system" if read_only else "is not writable by this user"
        raise ConfigurationError(
            f"{where} {why}: SQLite writes the database and its journal there. Make it "
            f"writable for the user running the service, {fix}."
        )
    if database.exists() and not os.access(database, os.R_OK | os.W_OK):
        raise ConfigurationError(
            f"The SQLite database {database} is not writable by this user: give the user "
            f"running the service write access to it, {fix}."
        )
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    if free < SQLITE_MIN_FREE_BYTES:
        raise ConfigurationError(
            f"{where} is on a full disk ({free // 1024} kB free): free some space there, {fix}."
        )
