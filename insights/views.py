"""Trainers' training-impact page and survey upload. Thin: parse, call, render."""

from __future__ import annotations

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

from core.auth import STAFF, require_viewer, roles_required
from core.db import db
from core.exports import csv_response
from core.extensions import csrf
from core.forms import ActionForm
from core.ratelimit import enforce_upload_limit
from insights.agents import INLINE_RESPONSES
from insights.api import receive_batch
from insights.cohort import cohort_overview
from insights.forms import SurveyImportForm
from insights.metrics import METRICS
from insights.report import CSAT_AS
from insights.services import (
    SYNC_IMPORT_BYTES,
    cohort_table,
    import_upload,
    report_page,
    report_table,
    start_report_pdf,
)

bp = Blueprint("insights", __name__, template_folder="templates")


@bp.get("/insights/")
@roles_required(*STAFF)
def index() -> str:
    viewer = require_viewer()
    report = report_page(
        db.session,
        viewer,
        request.args,
        current_app.config.get("INSIGHTS_AGENTS_INLINE_RESPONSES", INLINE_RESPONSES),
        lambda args: url_for("insights.index", **args),
    )
    db.session.commit()  # a comparison job it started
    return render_template(
        "insights/index.html",
        viewer=viewer,
        report=report,
        csrf_form=ActionForm(),
        metrics=METRICS,
        csat_as=CSAT_AS,  # CSAT's two figures, labelled by its Metric
    )


@bp.post("/insights/report.pdf")
@roles_required(*STAFF)
def report_pdf() -> WerkzeugResponse:
    """The same analysis as a PDF (charts, tables, method notes, the date), drawn by the
    worker: the page shows its progress and then the download. The form is the page's query,
    read like its links (anything out of range falls back to the default)."""
    viewer = require_viewer()
    if not ActionForm().validate_on_submit():
        abort(400)
    job = start_report_pdf(
        db.session, viewer, request.form, lambda args: url_for("insights.index", **args)
    )
    db.session.commit()
    return redirect(url_for("core.job_status", job_id=job.id))


@bp.get("/insights/<table>.csv")
@roles_required(*STAFF)
def export(table: str) -> Response:
    """One of the report's tables as CSV, for the same query."""
    found = report_table(
        db.session,
        require_viewer(),
        request.args,
        table,
        current_app.config.get("INSIGHTS_AGENTS_INLINE_RESPONSES", INLINE_RESPONSES),
    )
    if found is None:
        abort(404)
    return csv_response(*found)


@bp.get("/insights/cohort")
@roles_required(*STAFF)
def cohort() -> str:
    viewer = require_viewer()
    overview = cohort_overview(db.session, viewer.deployment_id)
    return render_template("insights/cohort.html", viewer=viewer, overview=overview)


@bp.get("/insights/cohort/<table>.csv")
@roles_required(*STAFF)
def cohort_export(table: str) -> Response:
    found = cohort_table(db.session, require_viewer(), table)
    if found is None:
        abort(404)
    return csv_response(*found)


@bp.route("/insights/import", methods=["GET", "POST"])
@roles_required(*STAFF)
def upload() -> str | tuple[str, int] | WerkzeugResponse:
    viewer = require_viewer()
    form = SurveyImportForm()
    report = None
    status = 400 if request.method == "POST" else 200  # unless it goes on to another page
    if form.validate_on_submit():
        enforce_upload_limit(viewer.platform_id, viewer.user_id)
        next_url = url_for("insights.index", metric=form.metric.data)
        done = import_upload(db.session, viewer, form, next_url)
        report = done.report
        if done.job is not None:
            db.session.commit()
            return redirect(url_for("core.job_status", job_id=done.job.id))
        if report is not None and report.ok:
            db.session.commit()
            counts = f"{report.duplicates} already there, {report.bad_rows} bad rows skipped"
            flash(f"Imported {report.imported} responses ({counts}).", "success")
            return redirect(next_url)
        db.session.rollback()
        # Said at the file field (the page's error summary links there); the bad rows below.
        refusal = done.refused or (report.refused if report is not None else "")
        if refusal:
            form.file.errors.append(refusal)
    return render_template(
        "insights/upload.html",
        viewer=viewer,
        form=form,
        report=report,
        background_from=SYNC_IMPORT_BYTES,
    ), status


@bp.post("/api/surveys")
@csrf.exempt  # a bearer token, never a cookie: nothing for a forged form to ride on
def api_surveys() -> tuple[dict[str, object], int, dict[str, str]]:
    answer = receive_batch(
        db.session,
        request.headers.get("Authorization"),
        lambda: request.get_json(silent=True),
        current_app.config["SURVEY_API_BATCHES_PER_MINUTE"],
    )
    if answer.imported:
        db.session.commit()
    else:
        db.session.rollback()
    return answer.body, answer.status, answer.headers
