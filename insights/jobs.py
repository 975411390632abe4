"""Insights' background jobs: a large survey import, the impact report's PDF, and the agents'
comparison kept for the page (``insights.agents``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, BinaryIO

from flask import current_app
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from core.jobs import Job, JobFailed, Outcome, Progress, uploaded_file
from core.pdf import render_pdf
from insights.agents import (
    agents_key,
    data_stamp,
    forget_superseded,
    pack,
    start_comparison,
)
from insights.importer import ImportRefused, ImportReport, data_lines, import_survey
from insights.importer import Mapping as ColumnMapping
from insights.importer import Progress as ImportProgress
from insights.report import ReportQuery, build_report, chosen_courses, compare_agents

IMPORT_JOB = "insights.import"
REPORT_JOB = "insights.report_pdf"


def import_uploaded(
    session: Session,
    platform_id: int,
    creator_id: int | None,
    data: BinaryIO,
    params: Mapping[str, Any],
    progress: ImportProgress | None = None,
) -> ImportReport:
    """Import an uploaded survey file as its upload's parameters say (the page's form: file
    name, column mapping, metric, time zone, skip_bad, deployment), the same on the page for a
    small file and in the worker (``run_import``) for a large one."""
    return import_survey(
        session,
        platform_id=platform_id,
        creator_id=creator_id,
        filename=params["filename"],
        data=data,
        mapping=ColumnMapping(**params["mapping"]),
        metric=params["metric"],
        timezone=params["timezone"],
        skip_bad=params["skip_bad"],
        progress=progress,
        deployment_id=params.get("deployment_id"),
    )


def run_import(session: Session, job: Job, progress: Progress) -> Outcome:
    params = job.params
    stream = uploaded_file(session, job)
    total = data_lines(stream)
    progress(0, total, "Checking rows")

    def on_progress(phase: str, done: int) -> None:
        progress(done, total, "Storing the rows" if phase == "storing" else "Checking rows")

    try:
        report = import_uploaded(
            session, job.platform_id or 0, job.user_id, stream, params, on_progress
        )
    except ImportRefused as refused:
        raise JobFailed(str(refused)) from refused
    finally:
        stream.close()
    if not report.ok:
        raise JobFailed(report.refused, [str(p) for p in report.bad])
    # Compare agents for the default report now, so it is ready when someone asks.
    query = ReportQuery(metric=params["metric"])
    deployment_id = params.get("deployment_id")
    chosen = chosen_courses(session, job.platform_id or 0, query)
    start_comparison(
        session,
        job.platform_id or 0,
        job.user_id,
        query.as_args(),
        agents_key(query.as_args(), chosen, deployment_id),
    )
    return Outcome(
        f"Imported {report.imported:,} responses ({report.duplicates:,} already there, "
        f"{report.bad_rows:,} bad rows skipped).",
        details=tuple(str(p) for p in report.bad),
        next_url=params.get("next_url", ""),
    )


def run_report(session: Session, job: Job, progress: Progress) -> Outcome:
    progress(0, 2, "Analysing")
    query = ReportQuery.from_args(MultiDict(job.params["query"]))
    report = build_report(
        session,
        job.platform_id or 0,
        query,
        agents=True,
        deployment_id=job.params.get("deployment_id"),
    )
    progress(1, 2, "Drawing the PDF")
    pdf = render_pdf(
        "insights/report.html", report=report, organisation=current_app.config["ORGANISATION_NAME"]
    )
    return Outcome(
        "The report is ready.",
        result=pdf,
        result_name=f"training-impact-{query.metric}-{report.generated:%Y-%m-%d}.pdf",
        result_type="application/pdf",
        next_url=job.params.get("next_url", ""),
    )


def run_agents(session: Session, job: Job, progress: Progress) -> Outcome:
    """Compare agents for a report query and keep the result with what it was computed from
    (read in the same transaction as the rows, so the stamp matches them)."""
    progress(0, 1, "Reading every survey row that names an agent")
    platform_id = job.platform_id or 0
    query = ReportQuery.from_args(MultiDict(job.params["query"]))
    deployment_id = job.params["key"].get("deployment_id")
    chosen = chosen_courses(session, platform_id, query)
    stamp = data_stamp(session, platform_id, query.metric, chosen, deployment_id)
    compared = compare_agents(session, platform_id, query, chosen, deployment_id)
    job.params = {
        **job.params,
        "key": agents_key(query.as_args(), chosen, deployment_id),
        "stamp": stamp,
    }
    forget_superseded(session, job)
    agents = len(compared.result.teams) if compared.result else 0
    return Outcome(
        f"Agents compared ({agents:,} who completed and had enough responses).",
        result=pack(compared),
        next_url=job.params.get("next_url", ""),
    )
