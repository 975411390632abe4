"""Commands that belong to no single package."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from core.db import db, utcnow
from core.demo import run_demo_loaders
from core.privacy import apply_retention
from core.tabular import ImportOutcome


def finish_import(report: ImportOutcome, done: str, *, keep: bool = True) -> None:
    """The end of every file-import command: each problem on stderr, then either nothing kept
    (rolled back, exit 1 with the reason) or the import committed (``keep``; a dry run rolls
    back) and ``done`` said."""
    for problem in report.problems:
        click.echo(str(problem), err=True)
    if not report.ok:
        db.session.rollback()
        raise click.ClickException(report.refused)
    if keep:
        db.session.commit()
    else:
        db.session.rollback()
    click.echo(done)


demo_cli = AppGroup("demo", help="Demo data for trying the service without an LMS.")


@demo_cli.command("load")
def load_demo() -> None:
    """Load demo data (idempotent): the development platform and what packages contribute."""
    for line in run_demo_loaders(current_app._get_current_object()):  # type: ignore[attr-defined]
        click.echo(line)


retention_cli = AppGroup("retention", help="Removing personal data kept longer than configured.")


@retention_cli.command("run")
def run_retention() -> None:
    """Apply TRANSCRIPT_RETENTION_DAYS and SURVEY_RETENTION_DAYS now (the worker also does
    this every hour). Each rule prints what it removed."""
    for name, outcome in apply_retention(db.session, utcnow()).items():
        click.echo(f"{name}: {outcome}")
    db.session.commit()
