"""The agents' comparison computed ahead by the worker and kept until the data change.

Comparing agents reads every survey row (tens of seconds at millions of rows), so on large
data the page does not compute it while someone waits: a background job (``AGENTS_JOB``)
computes it, its progress page leads back to the report, and the result is kept in the job
(``Job.result``, as versioned JSON) with what it was computed from: the query
(``agents_key``) and the state of the data it reads (``data_stamp``: the LMS's survey imports,
its people's completions, its deployment's teams). Any change there makes it stale, and the
next request starts a new job; removed survey rows drop the LMS's kept results at once. A
background import starts one for the default report, so the common case is ready when the
import is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.jobs import Job, enqueue
from insights.analysis import completions_digest, teams_digest
from insights.effects import Impact
from insights.impact_json import impact_from_json, impact_to_json
from insights.models import SurveyImport

AGENTS_JOB = "insights.agents"
# Below this many imported responses of a metric the page compares agents at once (about a
# second); above it, in the worker.
INLINE_RESPONSES = 200_000
KEPT_LOOKED_AT = 50  # the newest finished comparisons of an LMS searched for a match


@dataclass(frozen=True)
class AgentComparison:
    result: Impact | None
    names: dict[int, str] = field(default_factory=dict)


def imported_responses(session: Session, platform_id: int, metric: str) -> int:
    """How many responses of ``metric`` the LMS imported (from the imports' own counts: a
    count of the rows themselves would read them all)."""
    total = session.scalar(
        select(func.coalesce(func.sum(SurveyImport.imported), 0)).where(
            SurveyImport.platform_id == platform_id, SurveyImport.metric == metric
        )
    )
    return int(total or 0)


def data_stamp(
    session: Session, platform_id: int, metric: str, chosen: list[str], deployment_id: int | None
) -> dict[str, object]:
    """What a comparison is computed from, as it is now; any change makes a kept one stale.
    Only this LMS's data, so nothing another LMS does touches it: its survey imports of the
    metric (survey rows go only in imports; removals drop kept results at once), its people's
    first completions of ``chosen`` (in the tool or brought in), and with ``deployment_id``
    which of the teams with results of the metric are in that deployment (a team moved to
    another one takes its agents' rows with it). People moving between teams, and teams
    archived or merged, change none of it: survey rows keep the team they were answered for,
    and an agent's training date is their own."""
    imports, newest = session.execute(
        select(func.count(), func.coalesce(func.max(SurveyImport.id), 0)).where(
            SurveyImport.platform_id == platform_id, SurveyImport.metric == metric
        )
    ).one()
    return {
        "surveys": [int(imports), int(newest)],
        "completions": completions_digest(session, platform_id, chosen),
        "teams": ""
        if deployment_id is None
        else teams_digest(session, platform_id, metric, deployment_id),
    }


def agents_key(
    query_args: Mapping[str, object], chosen: list[str], deployment_id: int | None
) -> dict[str, object]:
    """The parts of a report query the agents' comparison depends on (the trained share and
    the ROI amounts do not change it), with the courses as resolved."""
    return {
        "metric": query_args.get("metric"),
        "window": query_args.get("window"),
        "csat_as": query_args.get("csat_as", "top2"),
        "ramp": query_args.get("ramp", 0),
        "courses": sorted(chosen),
        "deployment_id": deployment_id,
    }


def kept_comparison(
    session: Session, platform_id: int, key: Mapping[str, object], stamp: Mapping[str, object]
) -> AgentComparison | None:
    """The comparison a finished job kept for this query and these data, if any and readable
    (only its result is read: a comparison of 50,000 agents is megabytes)."""
    for job_id, params in session.execute(
        select(Job.id, Job.params)
        .where(Job.kind == AGENTS_JOB, Job.platform_id == platform_id, Job.status == "done")
        .order_by(Job.id.desc())
        .limit(KEPT_LOOKED_AT)
    ):
        if params.get("key") == key and params.get("stamp") == stamp:
            data = session.scalar(select(Job.result).where(Job.id == job_id))
            return unpack(data) if data else None
    return None


def forget_superseded(session: Session, job: Job) -> None:
    """Drop the comparisons kept for the same query before ``job``'s: only the newest can
    match the data, and each is megabytes."""
    older = [
        job_id
        for job_id, params in session.execute(
            select(Job.id, Job.params).where(
                Job.kind == AGENTS_JOB,
                Job.platform_id == job.platform_id,
                Job.status == "done",
                Job.id < job.id,
            )
        )
        if params.get("key") == job.params.get("key")
    ]
    if older:
        session.execute(delete(Job).where(Job.id.in_(older)))


def start_comparison(
    session: Session,
    platform_id: int,
    user_id: int | None,
    query_args: Mapping[str, object],
    key: Mapping[str, object],
    next_url: str = "",
) -> Job:
    """The person's comparison job for this query: the one already waiting or running, or a
    new one (the caller commits)."""
    for job in session.scalars(
        select(Job).where(
            Job.kind == AGENTS_JOB,
            Job.platform_id == platform_id,
            Job.user_id == user_id,
            Job.status.in_(("queued", "running")),
        )
    ):
        if job.params.get("key") == key:
            return job
    return enqueue(
        session,
        AGENTS_JOB,
        f"Comparing agents ({str(key['metric']).upper()})",
        platform_id=platform_id,
        user_id=user_id,
        params={"query": dict(query_args), "key": dict(key), "next_url": next_url},
    )


# A kept result is JSON of a known shape (``insights.impact_json``), never pickled: bytes read
# from the database name no code. The version changes when what a comparison means changes;
# a result of another version, or unreadable, is absent: the page compares again.
KEPT_FORMAT = "insights.agents"
KEPT_VERSION = 1


def pack(comparison: AgentComparison) -> bytes:
    document = {
        "format": KEPT_FORMAT,
        "version": KEPT_VERSION,
        "result": None if comparison.result is None else impact_to_json(comparison.result),
        "names": {str(agent): name for agent, name in comparison.names.items()},
    }
    return json.dumps(document).encode()


def unpack(data: bytes) -> AgentComparison | None:
    """The kept comparison, or None when ``data`` is not one of today's format."""
    try:
        document = json.loads(data)
        if document["format"] != KEPT_FORMAT or document["version"] != KEPT_VERSION:
            return None
        names = document["names"]
        if not all(isinstance(name, str) for name in names.values()):
            return None
        result = document["result"]
        return AgentComparison(
            None if result is None else impact_from_json(result),
            {int(agent): name for agent, name in names.items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
