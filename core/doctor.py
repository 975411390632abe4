"""``flask doctor``: checks a deployment's configuration and says what is wrong and how to fix
it. The kernel checks settings, database, schema and instance folder; packages add their own
checks (``register_doctor_check``), e.g. the LMS package checks keys and registrations."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select, text

from core.db import db, utcnow


@dataclass(frozen=True)
class Finding:
    level: str  # ok | warn | fail
    message: str


Check = Callable[[], Iterator[Finding]]


def ok(message: str) -> Finding:
    return Finding("ok", message)


def warn(message: str) -> Finding:
    return Finding("warn", message)


def fail(message: str) -> Finding:
    return Finding("fail", message)


def register_doctor_check(app: Flask, check: Check) -> None:
    app.extensions.setdefault("doctor_checks", []).append(check)


def kernel_checks() -> Iterator[Finding]:
    from core.jobs import Job
    from core.observability import migration_heads, schema_revisions

    settings = current_app.extensions["settings"]
    production = settings.is_production
    yield (ok if production else warn)(f"APP_ENV is {settings.APP_ENV}.")
    if settings.DEV_PLATFORM_ENABLED:
        yield (fail if production else warn)(
            "DEV_PLATFORM_ENABLED is on: anyone can launch as anyone through the development "
            "platform. Switch it off outside demos and tests."
        )
    base = settings.PUBLIC_BASE_URL
    if not base:
        yield (fail if production else warn)(
            "PUBLIC_BASE_URL is not set: the URLs given to LMSs (login, launch, JWKS) are "
            "guessed from each request. Set it to the https:// address people use."
        )
    elif production and not base.startswith("https://"):
        yield fail(
            f"PUBLIC_BASE_URL is {base}: LMSs need HTTPS, and cookies inside an LMS "
            "iframe need Secure."
        )
    else:
        yield ok(f"PUBLIC_BASE_URL is {base}.")
    if production and not settings.PROXY_FIX_HOPS:
        yield warn(
            "PROXY_FIX_HOPS is 0: behind a TLS-terminating proxy set it to 1, or "
            "launches see http:// and fail with 'state does not match'."
        )
    try:
        db.session.execute(text("SELECT 1"))
        yield ok(f"The database answers ({db.engine.dialect.name}).")
    except Exception as error:
        db.session.rollback()
        yield fail(f"The database does not answer: {error.__class__.__name__}: {error}.")
        return
    if production and db.engine.dialect.name == "sqlite":
        yield warn(
            "Production on SQLite: one writer at a time; use PostgreSQL for several "
            "workers or hosts."
        )
    try:
        current, heads = schema_revisions()
    except Exception:
        current, heads = set(), migration_heads()
    if current == heads:
        yield ok("The database schema is up to date.")
    else:
        yield fail(
            f"The database schema is at {', '.join(sorted(current)) or 'nothing'}; this "
            f"code needs {', '.join(sorted(heads))}. Run `flask db upgrade`."
        )
        return
    yield _writable(Path(current_app.instance_path))
    stuck = db.session.scalar(
        select(func.count()).where(
            Job.status == "queued", Job.created_at < utcnow() - timedelta(minutes=10)
        )
    )
    if stuck:
        yield warn(
            f"{stuck} background job(s) have waited over 10 minutes: is `flask lms worker` running?"
        )


def _writable(folder: Path) -> Finding:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as error:
        return fail(
            f"The instance folder {folder} is not writable ({error.strerror}); the "
            "service keeps its first-start files there."
        )
    free = os.statvfs(folder)
    megabytes = free.f_bavail * free.f_frsize // (1024 * 1024)
    if megabytes < 100:
        return warn(f"Only {megabytes} MB free in {folder}.")
    return ok(f"The instance folder {folder} is writable ({megabytes:,} MB free).")


MARKS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


@click.command("doctor")
@with_appcontext
def doctor_command() -> None:
    """Check this deployment's configuration; exits with 1 when something must be fixed."""
    failures = 0
    for check in [kernel_checks, *current_app.extensions.get("doctor_checks", [])]:
        if failures and check is not kernel_checks:
            click.echo("The remaining checks need a working, up-to-date database.")
            break
        for finding in check():
            failures += finding.level == "fail"
            click.echo(f"[{MARKS[finding.level]}] {finding.message}")
    if failures:
        raise click.ClickException(f"{failures} problem(s) to fix.")
    click.echo("Nothing to fix.")
