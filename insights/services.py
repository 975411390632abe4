"""What the insights pages call: the training-impact report for a viewer's query, its CSV
tables and its PDF (a background job), the cohort overview, and a survey upload (imported at
once, or in the background when large). Plain functions over a session; the views parse the
request, commit or roll back, and render.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from core.auth import Viewer
from core.db import utcnow
from core.jobs import Job, enqueue
from insights.agents import start_comparison
from insights.cohort import cohort_overview, overview_tables
from insights.forms import SurveyImportForm
from insights.importer import ImportRefused, ImportReport
from insights.jobs import IMPORT_JOB, REPORT_JOB, import_uploaded
from insights.report import Report, ReportQuery, build_report, report_tables

SYNC_IMPORT_BYTES = 1_000_000  # larger files import in the background, with a progress page

Table = tuple[str, list[str], list[list[object]]]  # file name, header, rows


def report_page(
    session: Session,
    viewer: Viewer,
    args: Mapping[str, str],
    inline_up_to: int,
    next_url_for: Callable[[dict[str, object]], str],
) -> Report:
    """The report as the page shows it: agents on more than ``inline_up_to`` imported
    responses are compared by the worker (a job is started, or the one running is named in
    ``agents_job_id``; its page leads back to ``next_url_for(the query)``) unless a
    comparison of the same data is kept. The caller commits."""
    report = build_report(
        session,
        viewer.platform_id,
        ReportQuery.from_args(args),
        deployment_id=viewer.deployment_id,
        inline_up_to=inline_up_to,
    )
    if report.agents_waiting:
        query_args = report.query.as_args()
        report.agents_job_id = start_comparison(
            session,
            viewer.platform_id,
            viewer.user_id,
            query_args,
            report.agents_key,
            next_url_for(query_args),
        ).id
    return report


def report_table(
    session: Session,
    viewer: Viewer,
    args: Mapping[str, str],
    table: str,
    inline_up_to: int | None = None,
) -> Table | None:
    """One of the report's tables as CSV rows, named by the measure shown and the day; None
    when there is no such table. The agents' table is computed when asked for, or on more
    than ``inline_up_to`` imported responses is the one the worker kept (none yet: None)."""
    report = build_report(
        session,
        viewer.platform_id,
        ReportQuery.from_args(args),
        agents=table == "agents",
        deployment_id=viewer.deployment_id,
        inline_up_to=inline_up_to,
    )
    tables = report_tables(report)
    if table not in tables:
        return None
    measure = report.measure.replace("_", "-")  # csat-mean when CSAT is shown as a mean score
    return (f"training-impact-{measure}-{table}-{report.generated:%Y-%m-%d}.csv", *tables[table])


def start_report_pdf(
    session: Session,
    viewer: Viewer,
    args: Mapping[str, str],
    next_url_for: Callable[[dict[str, object]], str],
) -> Job:
    """The same analysis as a PDF, drawn by the worker (``insights.jobs.run_report``); the job
    leads back to the page of ``next_url_for(the query's arguments)``."""
    query = ReportQuery.from_args(args)
    return enqueue(
        session,
        REPORT_JOB,
        f"Training impact report ({query.metric.upper()})",
        platform_id=viewer.platform_id,
        user_id=viewer.user_id,
        params={
            "query": query.as_args(),
            "deployment_id": viewer.deployment_id,
            "next_url": next_url_for(query.as_args()),
        },
    )


def cohort_table(session: Session, viewer: Viewer, table: str) -> Table | None:
    tables = overview_tables(cohort_overview(session, viewer.deployment_id))
    if table not in tables:
        return None
    return (f"cohort-{table}-{utcnow():%Y-%m-%d}.csv", *tables[table])


@dataclass(frozen=True)
class Upload:
    """What became of an uploaded survey file: imported (``report``, which may list bad rows
    and refuse), handed to the worker (``job``), or refused before reading (``refused``)."""

    report: ImportReport | None = None
    job: Job | None = None
    refused: str = ""


def import_upload(
    session: Session, viewer: Viewer, form: SurveyImportForm, next_url: str
) -> Upload:
    """Import the form's file: small files at once, larger ones in the background. The caller
    commits when the report is ``ok`` or a job was queued, else rolls back."""
    file: FileStorage | None = form.file.data
    size = file.stream.seek(0, 2) if file else 0
    if not file or not size:
        return Upload(refused="Choose a CSV file to import.")
    file.stream.seek(0)
    params = {  # how to read it; also the background job's parameters
        "filename": file.filename or "survey.csv",
        "mapping": asdict(form.mapping()),
        "metric": form.metric.data,
        "timezone": form.timezone.data or "UTC",
        "skip_bad": form.skip_bad.data,
        "deployment_id": viewer.deployment_id,
        "next_url": next_url,
    }
    if size > SYNC_IMPORT_BYTES:
        return Upload(
            job=enqueue(
                session,
                IMPORT_JOB,
                f"Importing {params['filename']}",
                platform_id=viewer.platform_id,
                user_id=viewer.user_id,
                upload=file.stream,
                params=params,
            )
        )
    try:
        report = import_uploaded(session, viewer.platform_id, viewer.user_id, file.stream, params)
    except ImportRefused as refused:
        return Upload(refused=str(refused))
    return Upload(report=report)
