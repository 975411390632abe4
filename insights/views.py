"""Trainers' training-impact page and survey upload. Thin: parse, call, render."""

from __future__ import annotations

from dataclasses import asdict

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as WerkzeugResponse

from core.auth import Role, Viewer, require_viewer, roles_required
from core.db import db, utcnow
from core.exports import csv_response
from core.extensions import csrf
from core.forms import ActionForm
from core.jobs import enqueue
from core.ratelimit import allow, enforce_upload_limit
from insights.api import BatchError, import_batch, problems_json, token_from_header
from insights.cohort import cohort_overview, overview_tables
from insights.importer import ImportRefused, Mapping, import_survey
from insights.jobs import IMPORT_JOB, REPORT_JOB
from insights.metrics import METRICS
from insights.report import Report, ReportQuery, build_report, report_tables

bp = Blueprint("insights", __name__, template_folder="templates")

STAFF = (Role.TRAINER, Role.ADMINISTRATOR)


def _report(viewer: Viewer) -> Report:
    return build_report(db.session, viewer.platform_id, ReportQuery.from_args(request.args),
                        deployment_id=viewer.deployment_id)  # fmt: skip


@bp.get("/insights/")
@roles_required(*STAFF)
def index() -> str:
    viewer = require_viewer()
    return render_template(
        "insights/index.html",
        viewer=viewer,
        report=_report(viewer),
        csrf_form=ActionForm(),
        metrics=METRICS,
    )


@bp.post("/insights/report.pdf")
@roles_required(*STAFF)
def report_pdf() -> WerkzeugResponse:
    """The same analysis as a PDF (charts, tables, method notes, the date), drawn by the
    worker: the page shows its progress and then the download."""
    viewer = require_viewer()
    query = ReportQuery.from_args(request.form)
    job = enqueue(
        db.session, REPORT_JOB, f"Training impact report ({query.metric.upper()})",
        platform_id=viewer.platform_id, user_id=viewer.user_id,
        params={"query": query.as_args(), "deployment_id": viewer.deployment_id,
                "next_url": url_for("insights.index", **query.as_args())},
    )  # fmt: skip
    db.session.commit()
    return redirect(url_for("core.job_status", job_id=job.id))


@bp.get("/insights/<table>.csv")
@roles_required(*STAFF)
def export(table: str) -> Response:
    """One of the report's tables as CSV, for the same query."""
    viewer = require_viewer()
    report = _report(viewer)
    if table == "agents" and not report.query.agents:
        report = build_report(db.session, viewer.platform_id, report.query, agents=True,
                              deployment_id=viewer.deployment_id)  # fmt: skip
    tables = report_tables(report)
    if table not in tables:
        abort(404)
    header, rows = tables[table]
    measure = report.measure.replace("_", "-")  # csat-mean when CSAT is shown as a mean score
    name = f"training-impact-{measure}-{table}-{report.generated:%Y-%m-%d}.csv"
    return csv_response(name, header, rows)


@bp.get("/insights/cohort")
@roles_required(*STAFF)
def cohort() -> str:
    viewer = require_viewer()
    overview = cohort_overview(db.session, viewer.deployment_id)
    return render_template("insights/cohort.html", viewer=viewer, overview=overview)


@bp.get("/insights/cohort/<table>.csv")
@roles_required(*STAFF)
def cohort_export(table: str) -> Response:
    viewer = require_viewer()
    tables = overview_tables(cohort_overview(db.session, viewer.deployment_id))
    if table not in tables:
        abort(404)
    return csv_response(f"cohort-{table}-{utcnow():%Y-%m-%d}.csv", *tables[table])


SYNC_IMPORT_BYTES = 1_000_000  # larger files import in the background, with a progress page


@bp.route("/insights/import", methods=["GET", "POST"])
@roles_required(*STAFF)
def upload() -> str | tuple[str, int] | WerkzeugResponse:
    viewer = require_viewer()
    form = ActionForm()
    report = None
    status = 200
    if request.method == "POST" and form.validate_on_submit():
        enforce_upload_limit(viewer.platform_id, viewer.user_id)
        file = request.files.get("file")
        mapping = Mapping(
            team=request.form.get("team_column", "team").strip(),
            date=request.form.get("date_column", "date").strip(),
            score=request.form.get("score_column", "score").strip(),
            agent=request.form.get("agent_column", "").strip(),
            channel=request.form.get("channel_column", "").strip(),
            source_id=request.form.get("id_column", "").strip(),
            date_format=request.form.get("date_format", "auto").strip() or "auto",
        )
        metric = request.form.get("metric", "csat")
        settings = {
            "filename": file.filename if file and file.filename else "survey.csv",
            "metric": metric,
            "timezone": request.form.get("timezone", "UTC").strip() or "UTC",
            "skip_bad": request.form.get("skip_bad") == "1",
            "deployment_id": viewer.deployment_id,
        }
        size = file.stream.seek(0, 2) if file else 0
        if file:
            file.stream.seek(0)
        if not size:
            flash("Choose a CSV file to import.", "error")
            status = 400
        elif size > SYNC_IMPORT_BYTES:
            job = enqueue(
                db.session, IMPORT_JOB, f"Importing {settings['filename']}",
                platform_id=viewer.platform_id, user_id=viewer.user_id, upload=file.stream,
                params={**settings, "mapping": asdict(mapping),
                        "next_url": url_for("insights.index", metric=metric)},
            )  # fmt: skip
            db.session.commit()
            return redirect(url_for("core.job_status", job_id=job.id))
        else:
            try:
                report = import_survey(
                    db.session, platform_id=viewer.platform_id, creator_id=viewer.user_id,
                    data=file.stream, mapping=mapping, **settings,  # type: ignore[union-attr]
                )  # fmt: skip
            except ImportRefused as refused:
                db.session.rollback()
                flash(str(refused), "error")
                status = 400
            else:
                if report.ok:
                    db.session.commit()
                    flash(f"Imported {report.imported} responses ({report.duplicates} already "
                          f"there, {report.bad_rows} bad rows skipped).", "success")  # fmt: skip
                    return redirect(url_for("insights.index", metric=metric))
                db.session.rollback()
                status = 400
    elif request.method == "POST":
        status = 400
    return render_template(
        "insights/upload.html",
        viewer=viewer,
        form=form,
        report=report,
        metrics=METRICS,
        background_from=SYNC_IMPORT_BYTES,
    ), status


@bp.post("/api/surveys")
@csrf.exempt  # a bearer token, never a cookie: nothing for a forged form to ride on
def api_surveys() -> tuple[dict[str, object], int, dict[str, str]] | tuple[dict[str, object], int]:
    token = token_from_header(db.session, request.headers.get("Authorization"))
    if token is None:
        return ({"error": "A valid bearer token of this service is required."}, 401,
                {"WWW-Authenticate": 'Bearer realm="surveys"'})  # fmt: skip
    limit = current_app.config["SURVEY_API_BATCHES_PER_MINUTE"]
    verdict = allow(f"api-surveys:{token.id}", limit=limit, per=60)
    if not verdict.allowed:
        return ({"error": f"At most {limit} batches a minute; try again later."},
                429, {"Retry-After": str(verdict.retry_after)})  # fmt: skip
    payload = request.get_json(silent=True)
    if payload is None:
        return {"error": "The body must be JSON (Content-Type: application/json)."}, 400
    try:
        report = import_batch(db.session, token, payload)
    except BatchError as error:
        db.session.rollback()
        return {"error": error.message}, error.status
    counts = {"imported": report.imported, "duplicates": report.duplicates,
              "bad_rows": report.bad_rows, "problems": problems_json(report)}  # fmt: skip
    if not report.ok:
        db.session.rollback()
        return {"error": report.refused, **counts}, 422
    db.session.commit()
    return counts, 200
