"""``POST /api/surveys``: a survey tool sends responses for one LMS, in batches, with a bearer
token of that LMS. A batch goes through the same checks as a file: with any bad response
nothing is imported (422, every problem listed) unless ``skip_bad``; a response whose id was
imported before is counted once, so a batch sent again after a timeout changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.ratelimit import allow
from insights.importer import ImportRefused, ImportReport, Mapping, import_survey
from insights.metrics import METRICS
from insights.models import SurveyApiToken

MAX_BATCH = 10_000
TOKEN_PREFIX = "cxq_"  # noqa: S105 - a recognisable prefix, not a secret
FIELDS = ("id", "team", "answered_at", "score", "agent", "channel")
BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["metric", "responses"],
    "properties": {
        "metric": {"enum": sorted(METRICS)},
        "timezone": {"type": "string", "maxLength": 64},
        "skip_bad": {"type": "boolean"},
        "responses": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_BATCH,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "team", "answered_at", "score"],
                "properties": {
                    "id": {"type": "string", "minLength": 1, "maxLength": 100},
                    "team": {"type": "string", "minLength": 1, "maxLength": 255},
                    "answered_at": {"type": "string", "minLength": 1, "maxLength": 40},
                    "score": {"type": "integer"},
                    "agent": {"type": "string", "maxLength": 255},
                    "channel": {"type": "string", "maxLength": 30},
                },
            },
        },
    },
}


def new_token(session: Session, platform_id: int, name: str) -> tuple[SurveyApiToken, str]:
    """Create a token; the clear text is returned once and never stored."""
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = SurveyApiToken(
        platform_id=platform_id,
        name=name.strip()[:100] or "survey tool",
        token_sha256=hashlib.sha256(clear.encode()).hexdigest(),
    )
    session.add(token)
    session.flush()
    return token, clear


def token_from_header(session: Session, header: str | None) -> SurveyApiToken | None:
    """The live token named by an ``Authorization: Bearer …`` header, if any."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip().startswith(TOKEN_PREFIX):
        return None
    digest = hashlib.sha256(value.strip().encode()).hexdigest()
    token = session.scalar(select(SurveyApiToken).where(SurveyApiToken.token_sha256 == digest))
    if token is None or token.revoked_at is not None:
        return None
    return token


@dataclass(frozen=True)
class BatchError(Exception):
    status: int
    message: str


def schema_problem(payload: object) -> str | None:
    """The first way the batch does not match ``BATCH_SCHEMA``, said plainly, or None."""
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(BATCH_SCHEMA).iter_errors(payload)
    )
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{where.lstrip('.') or 'the body'}: {error.message}"


def import_batch(session: Session, token: SurveyApiToken, payload: object) -> ImportReport:
    """Check and import one batch for the token's LMS (the caller commits when ``ok``)."""
    if not isinstance(payload, dict):
        raise BatchError(400, "The body must be a JSON object.")
    responses = payload.get("responses")
    if isinstance(responses, list) and len(responses) > MAX_BATCH:
        raise BatchError(413, f"At most {MAX_BATCH} responses per batch; split the batch.")
    problem = schema_problem(payload)
    if problem:
        raise BatchError(400, problem)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    for item in payload["responses"]:
        writer.writerow([item.get(f, "") for f in FIELDS])
    token.last_used_at = utcnow()
    try:
        return import_survey(
            session,
            platform_id=token.platform_id,
            creator_id=None,
            filename=f"API batch ({token.name})",
            data=out.getvalue().encode(),
            mapping=Mapping(
                team="team",
                date="answered_at",
                score="score",
                agent="agent",
                channel="channel",
                source_id="id",
                date_format="iso",
            ),
            metric=payload["metric"],
            timezone=payload.get("timezone", "UTC"),
            skip_bad=payload.get("skip_bad", False),
            once_per_file=False,
        )
    except ImportRefused as refused:
        raise BatchError(400, str(refused)) from refused


def problems_json(report: ImportReport) -> list[dict[str, object]]:
    """Bad rows as positions in the batch: line 2 of the CSV is ``responses[0]``."""
    return [
        {"index": p.line - 2, "field": p.column or None, "reason": p.reason} for p in report.bad
    ]


@dataclass(frozen=True)
class Answer:
    """What ``POST /api/surveys`` answers, and whether the batch was imported (the caller then
    commits; else it rolls back)."""

    body: dict[str, object]
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    imported: bool = False


def receive_batch(
    session: Session,
    authorization: str | None,
    read_payload: Callable[[], object],
    batches_per_minute: int,
) -> Answer:
    """One call of the endpoint: the bearer token of one LMS, at most ``batches_per_minute``
    batches a minute per token, then the batch. The body is read (``read_payload``: parsed
    JSON, or None) only once the token and its rate are accepted."""
    token = token_from_header(session, authorization)
    if token is None:
        return Answer(
            {"error": "A valid bearer token of this service is required."},
            401,
            {"WWW-Authenticate": 'Bearer realm="surveys"'},
        )
    verdict = allow(f"api-surveys:{token.id}", limit=batches_per_minute, per=60)
    if not verdict.allowed:
        return Answer(
            {"error": f"At most {batches_per_minute} batches a minute; try again later."},
            429,
            {"Retry-After": str(verdict.retry_after)},
        )
    payload = read_payload()
    if payload is None:
        return Answer({"error": "The body must be JSON (Content-Type: application/json)."}, 400)
    try:
        report = import_batch(session, token, payload)
    except BatchError as error:
        return Answer({"error": error.message}, error.status)
    counts: dict[str, object] = {
        "imported": report.imported,
        "duplicates": report.duplicates,
        "bad_rows": report.bad_rows,
        "problems": problems_json(report),
    }
    if not report.ok:
        return Answer({"error": report.refused, **counts}, 422)
    return Answer(counts, 200, imported=True)
