"""``flask people …``: carry out people's requests to be forgotten."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from core.cli import finish_import
from core.db import db
from people.models import ErasureRequest, User
from people.privacy import erase_person
from people.roster import import_roster

people_cli = AppGroup(
    "people", help="People: the organisation's roster, and requests to be forgotten."
)


@people_cli.command("erasures")
def list_erasures() -> None:
    """Requests to be forgotten, oldest first (pending and done)."""
    for request in db.session.scalars(select(ErasureRequest).order_by(ErasureRequest.id)):
        user = db.session.get(User, request.user_id) if request.user_id else None
        who = f"{user.display_name} (user {user.id})" if user else "(erased)"
        state = f"erased {request.erased_at:%Y-%m-%d %H:%M}" if request.erased_at else "pending"
        click.echo(
            f"{request.id}\tplatform {request.platform_id}\t{who}\t"
            f"asked {request.requested_at:%Y-%m-%d}\t{state}"
        )


@people_cli.command("erase")
@click.argument("request_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase(request_id: int, yes: bool) -> None:
    """Delete the person of a request and everything that is theirs. Cannot be undone."""
    request = db.session.get(ErasureRequest, request_id)
    if request is None:
        raise click.ClickException(f"No request {request_id}; see `flask people erasures`.")
    if request.erased_at is not None:
        raise click.ClickException(
            f"Request {request_id} was carried out on {request.erased_at:%Y-%m-%d}."
        )
    if not yes:
        click.confirm(f"Delete user {request.user_id} and all their data?", abort=True)
    erase_person(db.session, request)
    db.session.commit()
    click.echo(f"Erased: request {request_id} done.")


roster_cli = AppGroup("roster", help="The organisation's roster: people, teams, managers.")
people_cli.add_command(roster_cli)


@roster_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--platform-id", type=int, required=True, help="The LMS (`flask lms platform list`).")
@click.option(
    "--deployment-id",
    default=None,
    help="The LMS deployment the teams belong to (needed when the LMS has several).",
)
@click.option("--email-column", default=None, help="Default: email, e-mail, mail, …")
@click.option("--team-column", default=None, help="Default: team, team name, department, …")
@click.option("--name-column", default=None, help="Default: name, full name, …")
@click.option("--manager-column", default=None, help="Default: manager, supervisor, …")
@click.option("--role-column", default=None, help="Default: role (learner, manager, trainer).")
@click.option("--lms-user-id-column", default=None, help="Default: lms user id, user id, sub.")
@click.option(
    "--effective",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The date moves between teams take effect (YYYY-MM-DD; default: today).",
)
@click.option("--skip-bad", is_flag=True, help="Import the good rows and list the bad ones.")
@click.option("--dry-run", is_flag=True, help="Check and report; change nothing.")
def import_roster_command(
    file: Path,
    platform_id: int,
    deployment_id: str | None,
    email_column: str | None,
    team_column: str | None,
    name_column: str | None,
    manager_column: str | None,
    role_column: str | None,
    lms_user_id_column: str | None,
    effective: datetime | None,
    skip_bad: bool,
    dry_run: bool,
) -> None:
    """Import a roster file (CSV or .xlsx, one person a row): each person's team and,
    optionally, their name, manager and role. Re-importing a file changes nothing; a person
    whose team changed moves on the --effective date. A file with any bad row imports nothing
    unless --skip-bad."""
    deployment = _deployment(platform_id, deployment_id)
    report = import_roster(
        db.session,
        platform_id=platform_id,
        deployment_id=deployment,
        data=file.read_bytes(),
        columns={
            "email": email_column,
            "team": team_column,
            "name": name_column,
            "manager": manager_column,
            "role": role_column,
            "lms_user_id": lms_user_id_column,
        },
        effective=effective.date() if effective else None,
        skip_bad=skip_bad,
    )
    if dry_run:
        said = f"Dry run, nothing changed. Would import: {report.summary()}."
        finish_import(report, said, keep=False)
    else:
        finish_import(report, f"Imported: {report.summary()}.")


def _deployment(platform_id: int, deployment_id: str | None) -> int:
    """The row id of the LMS's deployment: the one named, or its only one."""
    # The registry's table, read by name: people sits below lms and imports none of it.
    table = db.metadata.tables["lti_deployments"]
    deployments = db.session.execute(
        select(table.c.id, table.c.deployment_id).where(table.c.platform_id == platform_id)
    ).all()
    if not deployments:
        raise click.ClickException(f"No LMS platform {platform_id} (or it has no deployment).")
    if deployment_id is not None:
        chosen = [d for d in deployments if d.deployment_id == deployment_id]
        if not chosen:
            known = ", ".join(d.deployment_id for d in deployments)
            raise click.ClickException(f"No deployment {deployment_id!r}; known: {known}.")
        return chosen[0].id
    if len(deployments) > 1:
        known = ", ".join(d.deployment_id for d in deployments)
        raise click.ClickException(f"The LMS has several deployments ({known}): give one.")
    return deployments[0].id
