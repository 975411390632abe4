"""``flask people …``: carry out people's requests to be forgotten."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from core.db import db
from people.models import ErasureRequest, User
from people.privacy import erase_person

people_cli = AppGroup("people", help="People's data: requests to be forgotten.")


@people_cli.command("erasures")
def list_erasures() -> None:
    """Requests to be forgotten, oldest first (pending and done)."""
    for request in db.session.scalars(select(ErasureRequest).order_by(ErasureRequest.id)):
        user = db.session.get(User, request.user_id) if request.user_id else None
        who = f"{user.display_name} (user {user.id})" if user else "(erased)"
        state = f"erased {request.erased_at:%Y-%m-%d %H:%M}" if request.erased_at else "pending"
        click.echo(f"{request.id}\tplatform {request.platform_id}\t{who}\t"
                   f"asked {request.requested_at:%Y-%m-%d}\t{state}")  # fmt: skip


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
