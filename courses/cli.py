"""``flask courses …``: import content packs, list the catalogue."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from core.cli import finish_import
from core.db import db
from courses.completions import import_completions
from courses.pack import (
    ItemReport,
    Pack,
    PackInvalid,
    files_from_zip,
    load_directory,
    load_pack,
    pack_directories,
)
from courses.services import CourseError, catalogue, import_packs
from lms.models import Platform

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


def import_content(paths: list[Path], source: str, platform_id: int | None = None) -> list[str]:
    """Validate every pack, then store them all in one transaction: all or nothing. Built-in
    courses, shared by every LMS, unless ``platform_id`` names the LMS they are for."""
    packs, problems = [], []
    for path in paths:
        try:
            packs.append(_load(path))
        except PackInvalid as invalid:
            problems.append(str(invalid) if invalid.problems else f"{path}: no course.yaml here")
    if problems:
        raise click.ClickException("Nothing was imported.\n" + "\n".join(problems))
    try:
        outcomes = import_packs(db.session, packs, source, platform_id=platform_id)
        db.session.commit()
    except CourseError as error:
        db.session.rollback()
        raise click.ClickException(f"Nothing was imported.\n{error}") from error
    return [f"{o.slug} {o.version}: {o.status}" for o in outcomes]


@courses_cli.command("import")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--check", is_flag=True, help="Validate only; change nothing.")
@click.option(
    "--platform-id",
    type=int,
    default=None,
    help="Import as this LMS's own courses (see `flask lms platform list`); without it, as "
    "built-in courses every LMS shares.",
)
def import_command(paths: tuple[Path, ...], check: bool, platform_id: int | None) -> None:
    """Import content packs (folders or .zip files; default: every pack in the content
    folder). A pack with any problem is refused with its file, line and reason, and then
    nothing is imported."""
    targets = list(paths) or pack_directories(content_root())
    if not targets:
        raise click.ClickException(f"No content packs found under {content_root()}.")
    if check:
        failed = False
        items = ItemReport()
        for path in targets:
            try:
                pack = _load(path)
                click.echo(f"{path}: ok ({pack.slug} {pack.version})")
                click.echo(f"  item writing: {pack.items.summary()}")
                items += pack.items
            except PackInvalid as invalid:
                failed = True
                click.echo(str(invalid) if invalid.problems else f"{path}: no course.yaml here")
        if len(targets) > 1 and items.single:
            click.echo(f"All valid packs, item writing: {items.summary()}")
        if failed:
            raise click.ClickException("Some packs have problems.")
        return
    if platform_id is not None and db.session.get(Platform, platform_id) is None:
        raise click.ClickException(f"No LMS platform has the id {platform_id}.")
    lines = import_content(targets, "flask courses import", platform_id)
    for index, line in enumerate(lines, 1):
        click.echo(f"[{index}/{len(targets)}] {line}")


@courses_cli.command("list")
@click.option(
    "--platform-id", type=int, default=None, help="That LMS's catalogue (default: built-ins)."
)
def list_command(platform_id: int | None) -> None:
    """List the catalogue with each course's current version."""
    courses = catalogue(db.session, platform_id)
    if not courses:
        click.echo("No courses yet: run `flask courses import`.")
    for course in courses:
        owner = "built-in" if course.built_in else f"LMS {course.platform_id}"
        click.echo(f"{course.slug:32} {course.version:8} {owner:10} {course.title}")


completions_cli = AppGroup(
    "completions", help="Training done before or outside the tool, brought in from a file."
)
courses_cli.add_command(completions_cli)


@completions_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--platform-id", type=int, required=True, help="The LMS the people belong to.")
@click.option("--email-column", default=None, help="Default: email, e-mail, mail, …")
@click.option("--course-column", default=None, help="Default: course, training, …")
@click.option("--date-column", default=None, help="Default: date, completed, completed on, …")
@click.option("--score-column", default=None, help="Optional; default: score, result, …")
@click.option(
    "--provider-column",
    default=None,
    help="Optional; default: provider, vendor, … A row with a provider is an outside "
    "training, kept by its name.",
)
@click.option(
    "--date-format",
    default="auto",
    show_default=True,
    help="iso, day-first, month-first, a pattern such as %d.%m.%Y, or auto.",
)
@click.option("--skip-bad", is_flag=True, help="Bring in the good rows and list the bad ones.")
def import_completions_command(
    file: Path,
    platform_id: int,
    email_column: str | None,
    course_column: str | None,
    date_column: str | None,
    score_column: str | None,
    provider_column: str | None,
    date_format: str,
    skip_bad: bool,
) -> None:
    """Bring in completions (CSV or .xlsx, one a row): the person's e-mail, the course (one
    of the catalogue's, by slug or title, or an outside training with its provider), the day
    it was completed and optionally a score. A file with any bad row brings in nothing unless
    --skip-bad; a completion brought in before is not counted twice."""
    if db.session.get(Platform, platform_id) is None:
        raise click.ClickException(f"No LMS platform has the id {platform_id}.")
    report = import_completions(
        db.session,
        platform_id=platform_id,
        data=file.read_bytes(),
        source=f"flask courses completions import {file.name}",
        columns={
            "email": email_column,
            "course": course_column,
            "date": date_column,
            "score": score_column,
            "provider": provider_column,
        },
        date_format=date_format,
        skip_bad=skip_bad,
    )
    finish_import(report, f"Done: {report.summary()}.")
