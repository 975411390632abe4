"""The agents' comparison computed ahead by the worker and kept until the data change.

Comparing agents reads every survey row (tens of seconds at millions of rows), so on large
data the page does not compute it while someone waits: a background job (``AGENTS_JOB``)
computes it, its progress page leads back to the report, and the result is kept in the job
(``Job.result``) with what it was computed from: the query (``agents_key``) and the newest
survey import and completion at the time (``data_stamp``). A later import or completion
makes it stale; the next request starts a new job. A background import starts one for the
default report at once, so the common case is ready when the import is.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.jobs import Job, enqueue
from courses.models import CourseResult, PastTraining
from insights.effects import Impact
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


def data_stamp(session: Session, platform_id: int, metric: str) -> list[int]:
    """What a comparison is computed from: the newest survey import of the metric and the
    newest completion, made in the tool or brought in. Any newer one makes it stale."""
    return [
        int(
            session.scalar(
                select(func.coalesce(func.max(SurveyImport.id), 0)).where(
                    SurveyImport.platform_id == platform_id, SurveyImport.metric == metric
                )
            )
            or 0
        ),
        int(session.scalar(select(func.coalesce(func.max(CourseResult.id), 0))) or 0),
        int(
            session.scalar(
                select(func.coalesce(func.max(PastTraining.id), 0)).where(
                    PastTraining.platform_id == platform_id
                )
            )
            or 0
        ),
    ]


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
    session: Session, platform_id: int, key: Mapping[str, object], stamp: list[int]
) -> AgentComparison | None:
    """The comparison a finished job kept for this query and these data, if any (only its
    result is read: a comparison of 50,000 agents is megabytes)."""
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


# Kept results are pickled (an Impact is a tree of dataclasses, dates and floats) and read
# back allowing only those classes: bytes from the database never name code to run.
_ALLOWED = {
    "insights.effects": {
        "Impact",
        "TeamChange",
        "ExposurePoint",
        "WeekEffect",
        "Durability",
    },
    "insights.stats": {"DiD", "Estimate", "PreTrend", "Correlation", "Interval"},
    "insights.agents": {"AgentComparison"},
    "datetime": {"date"},
    # NumPy scalars, should a figure stay one: rebuilt from a dtype and bytes, nothing else.
    "numpy": {"dtype"},
    "numpy._core.multiarray": {"scalar"},
    "numpy.core.multiarray": {"scalar"},
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> type:
        if name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a kept comparison")


def pack(comparison: AgentComparison) -> bytes:
    return pickle.dumps(comparison, protocol=pickle.HIGHEST_PROTOCOL)


def unpack(data: bytes) -> AgentComparison:
    return _Unpickler(io.BytesIO(data)).load()
