"""``flask recognition …``: built-in badges and back-filling automatic awards."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from core.db import db
from people.models import User
from recognition.models import Badge
from recognition.services import ensure_builtin_badges, evaluate_many, visible_badges

recognition_cli = AppGroup("recognition", help="Badges and awards.")


@recognition_cli.command("evaluate")
@click.option("--batch", default=500, show_default=True, help="People per transaction.")
def evaluate_command(batch: int) -> None:
    """Award every automatic badge people already qualify for (back-filling after a new rule
    or an import). Safe to run again: nobody gets a badge twice."""
    ensure_builtin_badges(db.session)
    db.session.commit()
    ids = list(db.session.scalars(select(User.id).where(User.opted_in_at.is_not(None))))
    awarded = 0
    catalogue: dict[int, list[Badge]] = {}
    with click.progressbar(length=len(ids), label="Evaluating", show_pos=True) as bar:
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            users = db.session.scalars(select(User).where(User.id.in_(chunk))).all()
            for platform_id in {u.platform_id for u in users} - set(catalogue):
                catalogue[platform_id] = visible_badges(db.session, platform_id)
            awarded += len(evaluate_many(db.session, users, catalogue=catalogue))
            db.session.commit()
            bar.update(len(chunk))
    click.echo(f"{awarded} badges awarded to {len(ids)} people who joined the programme.")


@recognition_cli.command("badges")
@click.option("--platform-id", type=int, default=None, help="Include this LMS's own badges.")
def badges_command(platform_id: int | None) -> None:
    """Create missing built-in badges and list the catalogue."""
    created = ensure_builtin_badges(db.session)
    db.session.commit()
    if created:
        click.echo(f"Created {created} built-in badges.")
    for badge in visible_badges(db.session, platform_id or 0):
        how = "manager" if badge.manager_awardable else "rule"
        click.echo(f"{badge.id:>4}  {badge.kind:12} {how:8} {badge.name}")
