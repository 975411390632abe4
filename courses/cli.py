"""``flask courses …``: import content packs, list the catalogue."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from core.db import db
from courses.pack import (
    Pack,
    PackInvalid,
    files_from_zip,
    load_directory,
    load_pack,
    pack_directories,
)
from courses.services import CourseError, catalogue, import_packs

courses_cli = AppGroup("courses", help="The course catalogue and its content packs.")


def content_root() -> Path:
    configured = current_app.config.get("COURSE_CONTENT_PATH") or ""
    return Path(configured) if configured else Path(__file__).parent / "content"


def _load(path: Path) -> Pack:
    if path.suffix == ".zip":
        return load_pack(files_from_zip(path.read_bytes(), path.name), origin=path.name)
    if not (path / "course.yaml").is_file():
        raise PackInvalid(str(path), [])
    return load_directory(path)


def import_content(paths: list[Path], source: str) -> list[str]:
    """Validate every pack, then store them all in one transaction: all or nothing."""
    packs, problems = [], []
    for path in paths:
        try:
            packs.append(_load(path))
        except PackInvalid as invalid:
            problems.append(str(invalid) if invalid.problems else f"{path}: no course.yaml here")
    if problems:
        raise click.ClickException("Nothing was imported.\n" + "\n".join(problems))
    try:
        outcomes = import_packs(db.session, packs, source)
        db.session.commit()
    except CourseError as error:
        db.session.rollback()
        raise click.ClickException(f"Nothing was imported.\n{error}") from error
    return [f"{o.slug} {o.version}: {o.status}" for o in outcomes]


@courses_cli.command("import")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--check", is_flag=True, help="Validate only; change nothing.")
def import_command(paths: tuple[Path, ...], check: bool) -> None:
    """Import content packs (folders or .zip files; default: every pack in the content
    folder). A pack with any problem is refused with its file, line and reason, and then
    nothing is imported."""
    targets = list(paths) or pack_directories(content_root())
    if not targets:
        raise click.ClickException(f"No content packs found under {content_root()}.")
    if check:
        failed = False
        for path in targets:
            try:
                pack = _load(path)
                click.echo(f"{path}: ok ({pack.slug} {pack.version})")
            except PackInvalid as invalid:
                failed = True
                click.echo(str(invalid) if invalid.problems else f"{path}: no course.yaml here")
        if failed:
            raise click.ClickException("Some packs have problems.")
        return
    for index, line in enumerate(import_content(targets, "flask courses import"), 1):
        click.echo(f"[{index}/{len(targets)}] {line}")


@courses_cli.command("list")
def list_command() -> None:
    """List the catalogue with each course's current version."""
    courses = catalogue(db.session)
    if not courses:
        click.echo("No courses yet: run `flask courses import`.")
    for course in courses:
        click.echo(f"{course.slug:32} {course.version:8} {course.title}")
