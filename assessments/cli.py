"""``flask assessments``: suggested levels from the command line, and the suggestion model.

flask assessments suggest FILE… [--platform-id N] [--json]
flask assessments suggestions train [--cv]
flask assessments suggestions retrain --platform-id N
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

assessments_cli = AppGroup("assessments", help="Skill assessments and suggested levels.")
suggestions_cli = AppGroup("suggestions", help="The model behind suggested levels.")
assessments_cli.add_command(suggestions_cli)


def read_conversations(path: Path) -> list[tuple[str, object]]:
    """(id, transcript) for every conversation in a file: JSON lines of
    ``{"id", "channel", "turns"}`` (one conversation a line), or one conversation in any format
    ``assessments.transcripts.parse`` reads (its id is the file name)."""
    from assessments.transcripts import TranscriptInvalid, TranscriptProblem, parse, parse_json

    data = path.read_bytes()
    text = data.decode("utf-8-sig", errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    json_lines = path.suffix.lower() in (".jsonl", ".ndjson") or (
        path.suffix.lower() == ".json"
        and len(lines) > 1
        and all(line.lstrip().startswith("{") and line.rstrip().endswith("}") for line in lines)
    )
    if not json_lines:
        return [(path.stem, parse(data, path.name))]
    out = []
    for number, line in enumerate(lines, 1):
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise TranscriptInvalid(
                path.name, [TranscriptProblem(number, f"not valid JSON: {error.msg}")]
            ) from error
        name = str(item.get("id", f"{path.stem}:{number}"))
        out.append((name, parse_json(json.dumps(item), name, item.get("channel", "chat"))))
    return out


@assessments_cli.command("suggest")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--platform-id", type=int, default=None, help="Use this LMS's own refitted model.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per conversation.")
def suggest_command(files: tuple[str, ...], platform_id: int | None, as_json: bool) -> None:
    """Suggested levels, confidence and evidence for the conversations in FILES."""
    from assessments.suggest import suggest
    from assessments.transcripts import TranscriptInvalid

    model = None
    if platform_id is not None:
        from assessments.tenant_models import current_model
        from core.db import db

        model = current_model(db.session, platform_id)
    failed = False
    for name in files:
        try:
            conversations = read_conversations(Path(name))
        except TranscriptInvalid as invalid:
            click.echo(f"{invalid}", err=True)
            failed = True
            continue
        for ident, transcript in conversations:
            suggestions = suggest(transcript, model)  # type: ignore[arg-type]
            result = {
                "id": ident,
                "levels": {s.criterion: s.level for s in suggestions},
                "confidence": {s.criterion: s.confidence for s in suggestions},
                "evidence": {
                    s.criterion: [
                        {
                            "turn": e.turn,
                            "start": e.start,
                            "end": e.end,
                            "text": e.text,
                            "note": e.note,
                            "supports": e.supports,
                        }
                        for e in s.evidence
                    ]
                    for s in suggestions
                },
            }
            if as_json:
                click.echo(json.dumps(result, ensure_ascii=False))
            else:
                levels = ", ".join(
                    f"{s.criterion} {s.level} ({s.confidence:.0%})" for s in suggestions
                )
                click.echo(f"{ident}: {levels}")
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
