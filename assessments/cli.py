"""``flask assessments``: suggested levels from the command line, and the suggestion model.

flask assessments suggest FILE… [--platform-id N] [--json]
flask assessments suggestions train [--cv]
flask assessments suggestions retrain --platform-id N
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from flask.cli import AppGroup

if TYPE_CHECKING:
    from assessments.formats import Conversation
    from assessments.tenant_models import CurrentModel

assessments_cli = AppGroup("assessments", help="Skill assessments and suggested levels.")
suggestions_cli = AppGroup("suggestions", help="The model behind suggested levels.")
assessments_cli.add_command(suggestions_cli)
PROGRESS_EVERY = 25  # conversations between progress lines on stderr


def read_file(path: Path) -> list[Conversation]:
    """Every conversation in a file, in any format ``assessments.formats`` recognises (JSON
    lines of ``{"id", "channel", "turns"}``, vendor exports, the product's own files)."""
    from assessments.formats import read_conversations

    return read_conversations(path.read_bytes(), path.name)


def suggestion_model(platform_id: int | None) -> CurrentModel:
    """This LMS's current model with its agreement and threshold, else the built-in model with
    its cross-validated agreement and the default threshold."""
    from assessments.suggest_model import builtin_model
    from assessments.tenant_models import (
        DEFAULT_THRESHOLD,
        CurrentModel,
        builtin_agreement,
        current_suggestion_model,
    )

    if platform_id is None:
        return CurrentModel(builtin_model(), None, builtin_agreement(), DEFAULT_THRESHOLD)
    from core.db import db
    from lms.models import Platform

    if db.session.get(Platform, platform_id) is None:
        raise click.ClickException(f"there is no platform {platform_id} (flask lms platform list)")
    return current_suggestion_model(db.session, platform_id)


def suggestion_record(ident: str, suggestions: list[dict[str, Any]]) -> dict[str, Any]:
    """One conversation's line of ``--json``: exactly id, levels, confidence and evidence.
    A skill's confidence is the model's probability of its level and whether the skill is low
    confidence for this LMS (its out-of-sample agreement below the LMS's threshold)."""
    return {
        "id": ident,
        "levels": {s["criterion"]: s["level"] for s in suggestions},
        "confidence": {
            s["criterion"]: {
                "probability": s["confidence"],
                "low_confidence": s["low_confidence"],
                "agreement": s["agreement"],
            }
            for s in suggestions
        },
        "evidence": {s["criterion"]: s["evidence"] for s in suggestions},
    }


@assessments_cli.command("suggest")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--platform-id", type=int, default=None, help="Use this LMS's own refitted model.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per conversation.")
def suggest_command(files: tuple[str, ...], platform_id: int | None, as_json: bool) -> None:
    """Suggested levels, confidence and evidence for every conversation in FILES (any
    supported format; an export's conversations one by one, progress on stderr)."""
    from assessments.grading import stored_suggestions
    from assessments.transcripts import TranscriptInvalid

    current = suggestion_model(platform_id)
    failed = False
    for name in files:
        try:
            conversations = read_file(Path(name))
        except TranscriptInvalid as invalid:
            click.echo(f"{invalid}", err=True)
            failed = True
            continue
        total = len(conversations)
        for done, conversation in enumerate(conversations, 1):
            suggestions = stored_suggestions(conversation.transcript, current)
            if as_json:
                record = suggestion_record(conversation.id, suggestions)
                click.echo(json.dumps(record, ensure_ascii=False))
            else:
                levels = ", ".join(
                    f"{s['criterion']} {s['level']} ({s['confidence']:.0%}"
                    f"{', low confidence' if s['low_confidence'] else ''})"
                    for s in suggestions
                )
                click.echo(f"{conversation.id}: {levels}")
            if total > 1 and (done % PROGRESS_EVERY == 0 or done == total):
                click.echo(f"{name}: {done} of {total} conversations scored", err=True)
    if failed:
        raise SystemExit(1)


@suggestions_cli.command("train")
@click.option("--cv/--no-cv", default=True, help="Also print the cross-validation table.")
@click.option("--repeats", type=int, default=5, help="Cross-validation repeats.")
def train_command(cv: bool, repeats: int) -> None:
    """Fit the built-in model on the development part of the corpus and write
    assessments/suggest_model.json (the sealed part is never read)."""
    from assessments.suggest_training import train

    for line in train(cv=cv, repeats=repeats):
        click.echo(line)


@suggestions_cli.command("retrain")
@click.option("--platform-id", type=int, required=True, help="The LMS whose graders to learn from.")
@click.option("--minimum", type=int, default=None, help="Graded conversations needed (50).")
def retrain_command(platform_id: int, minimum: int | None) -> None:
    """Refit one LMS's suggestion model on its own final grades (a new version)."""
    from assessments.tenant_models import MINIMUM, retrain
    from core.db import db

    version = retrain(db.session, platform_id, minimum=minimum or MINIMUM)
    if version is None:
        raise click.ClickException(
            f"platform {platform_id} has fewer than {minimum or MINIMUM} graded conversations"
        )
    db.session.commit()
    click.echo(
        f"platform {platform_id}: version {version.version} on "
        f"{version.conversations} graded conversations"
    )
    for skill, a in version.agreement.items():
        click.echo(f"  {skill}: out-of-sample QWK {a['qwk']:.2f} (built-in {a['builtin_qwk']:.2f})")
