"""``flask insights …``: import survey results."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from core.db import db, utcnow
from insights.api import new_token
from insights.importer import ImportRefused, Mapping, data_lines, import_survey
from insights.metrics import METRICS
from insights.models import SurveyApiToken
from lms.models import Platform

insights_cli = AppGroup("insights", help="Survey results (CSAT, NPS, CES) and training impact.")


@insights_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--platform-id", type=int, required=True, help="The LMS the teams belong to.")
@click.option("--metric", type=click.Choice(sorted(METRICS)), required=True)
@click.option("--team-column", required=True, help="Team: its LMS course id, title or label.")
@click.option("--date-column", required=True, help="When the customer answered.")
@click.option("--score-column", default="score", show_default=True)
@click.option("--agent-column", default="", help="Optional: the agent's email or LMS id.")
@click.option("--channel-column", default="")
@click.option("--id-column", default="", help="Optional: the survey tool's response id.")
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="Time zone of dates without an offset, e.g. Europe/London.",
)
@click.option(
    "--date-format",
    default="auto",
    show_default=True,
    help="iso, day-first (DD/MM/YYYY), month-first (MM/DD/YYYY), a pattern such as "
    "%d.%m.%Y, or auto: settled by the file's dates (refused if they could be "
    "either).",
)
@click.option("--skip-bad", is_flag=True, help="Import the good rows and list the bad ones.")
def import_command(
    file: Path,
    platform_id: int,
    metric: str,
    team_column: str,
    date_column: str,
    score_column: str,
    agent_column: str,
    channel_column: str,
    id_column: str,
    timezone: str,
    date_format: str,
    skip_bad: bool,
) -> None:
    """Import survey responses from CSV (or the first sheet of an Excel .xlsx workbook). A file
    with bad rows is refused as a whole (every bad row is listed) unless --skip-bad; a file or
    response imported before is not counted twice."""
    mapping = Mapping(
        team_column,
        date_column,
        score_column,
        agent_column,
        channel_column,
        id_column,
        date_format,
    )
    stream = file.open("rb")
    bar_length = data_lines(stream)
    with stream, click.progressbar(length=bar_length, label="Checking rows", show_pos=True) as bar:
        shown = 0

        def progress(phase: str, done: int) -> None:
            nonlocal shown
            bar.update(done - shown)
            shown = done
            if phase == "storing":
                bar.label = "Checked; storing"

        try:
            report = import_survey(
                db.session,
                platform_id=platform_id,
                creator_id=None,
                filename=file.name,
                data=stream,
                mapping=mapping,
                metric=metric,
                timezone=timezone,
                skip_bad=skip_bad,
                progress=progress,
            )
        except ImportRefused as refused:
            db.session.rollback()
            raise click.ClickException(str(refused)) from refused
    for problem in report.bad[:50]:
        click.echo(f"  {problem}")
    if len(report.bad) > 50:
        click.echo(f"  … and {len(report.bad) - 50} more")
    if not report.ok:
        db.session.rollback()
        raise click.ClickException(report.refused)
    db.session.commit()
    click.echo(
        f"Imported {report.imported} responses; {report.duplicates} already imported; "
        f"{report.bad_rows} bad rows skipped."
    )


token_cli = AppGroup("token", help="Bearer tokens with which survey tools call POST /api/surveys.")
insights_cli.add_command(token_cli)


@token_cli.command("create")
@click.option("--platform-id", type=int, required=True, help="The LMS the results belong to.")
@click.option("--name", required=True, help="What uses the token, e.g. 'Qualtrics nightly'.")
def token_create(platform_id: int, name: str) -> None:
    """Create a token; it is printed once and only its hash is kept."""
    if db.session.get(Platform, platform_id) is None:
        raise click.ClickException(f"No platform {platform_id}; see `flask lms platform list`.")
    token, clear = new_token(db.session, platform_id, name)
    db.session.commit()
    click.echo(
        f"Token {token.id} for platform {platform_id} ({token.name}). Keep it secret; "
        "it is not shown again:"
    )
    click.echo(clear)


@token_cli.command("list")
def token_list() -> None:
    """Every token: id, platform, name, last use, and whether it was revoked."""
    for token in db.session.scalars(select(SurveyApiToken).order_by(SurveyApiToken.id)):
        used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never used"
        state = " (revoked)" if token.revoked_at else ""
        click.echo(f"{token.id}\tplatform {token.platform_id}\t{token.name}\t{used}{state}")


@token_cli.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Stop a token working at once."""
    token = db.session.get(SurveyApiToken, token_id)
    if token is None:
        raise click.ClickException(f"No token {token_id}.")
    token.revoked_at = token.revoked_at or utcnow()
    db.session.commit()
    click.echo(f"Token {token_id} revoked.")
