"""``flask lms …``: register platforms, manage keys, housekeeping."""

from __future__ import annotations

import json
from typing import NoReturn, Unpack

import click
from flask import current_app
from flask.cli import AppGroup

from core.db import db
from core.humanize import duration
from lms import keys
from lms.canvas import canvas_developer_key
from lms.models import Platform
from lms.platform_client import PlatformClient
from lms.registration import registration_key
from lms.registry import (
    PlatformDetails,
    RegistryError,
    add_deployment,
    add_platform,
    get_platform,
    list_platforms,
    remove_platform,
    set_disabled,
)
from lms.roster import RosterError, sync_roster, teams_with_roster_service
from lms.storage import purge_expired
from lms.urls import tool_url, tool_urls
from lms.worker import run_worker

lms_cli = AppGroup("lms", help="LTI 1.3: LMS platforms, deployments and the tool's keys.")
platform_cli = AppGroup("platform", help="Register LMS platforms (Moodle, Canvas, …).")
deployment_cli = AppGroup("deployment", help="Deployments of a registered platform.")
keys_cli = AppGroup("keys", help="The tool's RSA signing keys (published at /lms/jwks).")
lms_cli.add_command(platform_cli)
lms_cli.add_command(deployment_cli)
lms_cli.add_command(keys_cli)

issuer_option = click.option("--issuer", required=True, help="The platform's issuer (iss).")
client_option = click.option("--client-id", required=True, help="Client id the LMS gave the tool.")


def _fail(error: Exception) -> NoReturn:
    db.session.rollback()
    raise click.ClickException(str(error))


def _platform(issuer: str, client_id: str) -> Platform:
    """The registered platform, or the command fails saying none is."""
    try:
        return get_platform(db.session, issuer, client_id)
    except RegistryError as error:
        _fail(error)


def _echo_tool_values(base_url: str | None) -> None:
    base = base_url or current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        click.echo("\nSet PUBLIC_BASE_URL (or pass --base-url) to print the tool's URLs.")
        return
    with current_app.test_request_context(base_url=base):
        urls = tool_urls(base)
    click.echo("\nPaste into the LMS:")
    for label, key in (
        ("Tool URL / redirection URI", "launch"),
        ("Initiate login URL", "login"),
        ("Public keyset URL", "jwks"),
        ("Canvas developer key JSON", "canvas"),
    ):
        click.echo(f"  {label:28} {urls[key]}")


@platform_cli.command("add")
@issuer_option
@client_option
@click.option(
    "--deployment-id",
    "deployment_ids",
    multiple=True,
    required=True,
    help="Deployment id (repeat for several).",
)
@click.option("--auth-login-url", required=True, help="The platform's OIDC auth endpoint.")
@click.option("--auth-token-url", required=True, help="The platform's OAuth2 token endpoint.")
@click.option("--key-set-url", required=True, help="The platform's public JWKS URL.")
@click.option("--name", default="", help="A name to show administrators.")
@click.option("--auth-audience", default=None, help="Token audience, when not the token URL.")
@click.option(
    "--frame-origin",
    "frame_origins",
    multiple=True,
    help="Another site that shows the tool in a frame (e.g. a Canvas custom domain).",
)
def platform_add(
    issuer: str, client_id: str, deployment_ids: tuple[str, ...], **details: Unpack[PlatformDetails]
) -> None:
    """Register an LMS platform with one or more deployments."""
    try:
        platform = add_platform(
            db.session,
            issuer=issuer,
            client_id=client_id,
            deployment_ids=deployment_ids,
            **details,
        )
    except RegistryError as error:
        _fail(error)
    db.session.commit()
    click.echo(
        f"Registered platform {platform.id}: {platform.display_name} "
        f"({len(platform.deployments)} deployment(s))."
    )


@platform_cli.command("list")
def platform_list() -> None:
    """List registered platforms."""
    platforms = list_platforms(db.session)
    if not platforms:
        click.echo("No platforms registered.")
    for platform in platforms:
        deployments = ", ".join(d.deployment_id for d in platform.deployments)
        click.echo(
            f"{platform.id}\t{platform.display_name}\t{platform.issuer}\t"
            f"{platform.client_id}\tdeployments: {deployments}"
        )


@platform_cli.command("show")
@issuer_option
@client_option
@click.option("--base-url", default=None, help="The tool's public URL (default PUBLIC_BASE_URL).")
def platform_show(issuer: str, client_id: str, base_url: str | None) -> None:
    """Show a platform's registration and the values to paste into the LMS."""
    platform = _platform(issuer, client_id)
    click.echo(f"Platform {platform.id}: {platform.display_name}")
    for label, value in (
        ("Issuer", platform.issuer),
        ("Client id", platform.client_id),
        ("Auth login URL", platform.auth_login_url),
        ("Auth token URL", platform.auth_token_url),
        ("Key set URL", platform.key_set_url),
    ):
        click.echo(f"  {label:16} {value}")
    for deployment in platform.deployments:
        trust = " (trusts role=manager)" if deployment.trust_role_parameter else ""
        click.echo(f"  Deployment       {deployment.deployment_id}{trust}")
    _echo_tool_values(base_url)


@platform_cli.command("remove")
@issuer_option
@client_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def platform_remove(issuer: str, client_id: str, yes: bool) -> None:
    """Remove a platform and everything recorded under it."""
    platform = _platform(issuer, client_id)
    if not yes:
        click.confirm(f"Remove {platform.display_name} and all its users' data?", abort=True)
    remove_platform(db.session, platform)
    db.session.commit()
    click.echo(f"Removed platform {issuer} / {client_id}.")


@platform_cli.command("disable")
@issuer_option
@client_option
def platform_disable(issuer: str, client_id: str) -> None:
    """Refuse launches from a platform; everything recorded under it is kept."""
    _set_platform_disabled(issuer, client_id, True)


@platform_cli.command("enable")
@issuer_option
@client_option
def platform_enable(issuer: str, client_id: str) -> None:
    """Accept launches from a disabled platform again."""
    _set_platform_disabled(issuer, client_id, False)


def _set_platform_disabled(issuer: str, client_id: str, disabled: bool) -> None:
    platform = _platform(issuer, client_id)
    set_disabled(db.session, platform, disabled)
    db.session.commit()
    click.echo(f"{platform.display_name}: launches {'refused' if disabled else 'accepted'}.")


@platform_cli.command("canvas-json")
@click.option("--base-url", required=True, help="The tool's public URL.")
def platform_canvas_json(base_url: str) -> None:
    """Print the Canvas developer-key JSON."""
    with current_app.test_request_context(base_url=base_url):
        click.echo(json.dumps(canvas_developer_key(tool_urls(base_url)), indent=2))


@deployment_cli.command("add")
@issuer_option
@client_option
@click.option("--deployment-id", required=True)
@click.option("--name", default="")
@click.option(
    "--trust-role-parameter",
    is_flag=True,
    help="Honour a role=manager custom parameter from any launch of this deployment.",
)
def deployment_add(
    issuer: str, client_id: str, deployment_id: str, name: str, trust_role_parameter: bool
) -> None:
    """Add a deployment to a registered platform."""
    platform = _platform(issuer, client_id)
    try:
        add_deployment(
            db.session,
            platform,
            deployment_id,
            name=name,
            trust_role_parameter=trust_role_parameter,
        )
    except RegistryError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"Added deployment {deployment_id} to {platform.display_name}.")


@keys_cli.command("ensure")
def keys_ensure() -> None:
    """Create the tool's signing key if there is none (safe to run at every start)."""
    key = keys.active_key(db.session)
    db.session.commit()
    click.echo(f"Active key: {key.kid}")


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Sign with a new key; the old one stays published for the grace period."""
    new, retired = keys.rotate(db.session)
    db.session.commit()
    click.echo(f"New active key: {new.kid}")
    for key in retired:
        click.echo(f"Retired (still published for {duration(keys.RETIRED_KEY_GRACE)}): {key.kid}")


@keys_cli.command("list")
def keys_list() -> None:
    """List the keys published at /lms/jwks."""
    for key in keys.published_keys(db.session):
        state = f"retired {key.retired_at:%Y-%m-%d %H:%M}" if key.retired_at else "active"
        click.echo(f"{key.kid}\t{state}\tcreated {key.created_at:%Y-%m-%d %H:%M}")


@keys_cli.command("prune")
def keys_prune() -> None:
    """Delete retired keys whose grace period is over."""
    count = keys.prune(db.session)
    db.session.commit()
    click.echo(f"Removed {count} key(s).")


@lms_cli.command("purge")
def purge() -> None:
    """Delete expired login state, nonces and launch data."""
    count = purge_expired(db.session)
    db.session.commit()
    click.echo(f"Removed {count} expired entries.")


@lms_cli.command("worker")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option("--batch", default=50, show_default=True, help="Scores claimed per round.")
@click.option("--poll", default=1.0, show_default=True, help="Seconds to wait when idle.")
def worker(once: bool, batch: int, poll: float) -> None:
    """Deliver queued scores to the LMS gradebooks (run one or more next to the web workers)."""
    stop = run_worker(once=once, batch=batch, poll=poll)
    click.echo(f"Worker stopped after {stop.attempted} delivery attempt(s).")


roster_cli = AppGroup("roster", help="Course rosters from the LMS (Names and Role Provisioning).")
lms_cli.add_command(roster_cli)


@roster_cli.command("sync")
@click.option("--team-id", type=int, multiple=True, help="Team (course) to sync; repeatable.")
@click.option("--all", "sync_all", is_flag=True, help="Every course that offers the service.")
def roster_sync(team_id: tuple[int, ...], sync_all: bool) -> None:
    """Fetch course memberships from the LMS; people who left are marked inactive."""
    teams = list(team_id) or (teams_with_roster_service(db.session) if sync_all else [])
    if not teams:
        raise click.UsageError("Give --team-id or --all.")
    client = PlatformClient(db.session)
    failed = 0
    for team in teams:
        try:
            report = sync_roster(db.session, client, team)
        except RosterError as error:
            db.session.rollback()
            failed += 1
            click.echo(f"Team {team}: {error}", err=True)
            continue
        db.session.commit()
        click.echo(f"Team {team}: {report.summary()}")
    if failed:
        raise click.exceptions.Exit(1)


@lms_cli.command("registration-url")
@click.option("--base-url", default=None, help="The tool's public URL (default PUBLIC_BASE_URL).")
def registration_url(base_url: str | None) -> None:
    """Print a dynamic-registration URL (valid 7 days) to paste into Moodle or Canvas."""
    base = base_url or current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        raise click.UsageError("Set PUBLIC_BASE_URL or pass --base-url.")
    key = registration_key(current_app.config["SECRET_KEY"])
    with current_app.test_request_context(base_url=base):
        click.echo(tool_url("lms.dynamic_registration", base=base, key=key))
