"""Insights' background jobs: a large survey import and the impact report's PDF."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from core.jobs import Job, JobFailed, Outcome, Progress, uploaded_file
from core.pdf import render_pdf
from insights.importer import ImportRefused, Mapping, data_lines, import_survey
from insights.report import ReportQuery, build_report

IMPORT_JOB = "insights.import"
REPORT_JOB = "insights.report_pdf"


def run_import(session: Session, job: Job, progress: Progress) -> Outcome:
    params = job.params
    stream = uploaded_file(session, job)
    total = data_lines(stream)
    progress(0, total, "Checking rows")

    def on_progress(phase: str, done: int) -> None:
        progress(done, total, "Storing the rows" if phase == "storing" else "Checking rows")

    try:
        report = import_survey(
            session,
            platform_id=job.platform_id or 0,
            creator_id=job.user_id,
            filename=params["filename"],
            data=stream,
            mapping=Mapping(**params["mapping"]),
            metric=params["metric"],
            timezone=params["timezone"],
            skip_bad=params["skip_bad"],
            progress=on_progress,
            deployment_id=params.get("deployment_id"),
        )
    except ImportRefused as refused:
        raise JobFailed(str(refused)) from refused
    finally:
        stream.close()
    if not report.ok:
        raise JobFailed(report.refused, [str(p) for p in report.bad])
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
