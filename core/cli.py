"""Commands that belong to no single package."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from core.demo import run_demo_loaders

demo_cli = AppGroup("demo", help="Demo data for trying the service without an LMS.")


@demo_cli.command("load")
def load_demo() -> None:
    """Load demo data (idempotent): the development platform and what packages contribute."""
    for line in run_demo_loaders(current_app._get_current_object()):  # type: ignore[attr-defined]
        click.echo(line)
