"""Trainers' training-impact page and survey upload. Thin: parse, call, render."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
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
from core.forms import ActionForm
from core.pdf import render_pdf
from courses.services import catalogue
from insights.analysis import impact, load_team_days, training_dates
from insights.importer import ImportRefused, Mapping, import_survey
from insights.models import METRICS
from insights.stats import fit_line
from people.models import Team

bp = Blueprint("insights", __name__, template_folder="templates")

STAFF = (Role.TRAINER, Role.ADMINISTRATOR)


def _report_context(viewer: Viewer) -> dict[str, object]:
    """The impact analysis for the page's query (metric, window, courses, trained share)."""
    metric = request.args.get("metric", "csat") if request.args.get("metric") in METRICS else "csat"
    window = request.args.get("window", default=28, type=int)
    window = window if window in (14, 28, 56) else 28
    courses = catalogue(db.session)
    chosen = request.args.getlist("course") or [c.slug for c in courses]
    share = request.args.get("share", default=50, type=int)
    share = min(max(share, 10), 100)
    team_days = load_team_days(db.session, viewer.platform_id, metric)
    dates, exposure = training_dates(db.session, list(team_days), chosen, share / 100)
    result = impact(metric, team_days, dates, exposure, window_days=window, resamples=1000)
    names = {
        t.id: t.display_name
        for t in db.session.query(Team).filter(Team.id.in_(list(team_days) or [0]))
    }
    points = [(x, y) for _, x, y in result.exposure_points]
    line = fit_line(*zip(*points, strict=True)) if len(points) >= 2 else None
    return {
        "metric": metric, "window": window, "courses": courses, "chosen": chosen,
        "share": share, "result": result, "names": names, "teams_with_data": len(team_days),
        "line": line,
    }  # fmt: skip


@bp.get("/insights/")
@roles_required(*STAFF)
def index() -> str:
    viewer = require_viewer()
    return render_template("insights/index.html", viewer=viewer, **_report_context(viewer))


@bp.get("/insights/report.pdf")
@roles_required(*STAFF)
def report_pdf() -> Response:
    """The same analysis as a PDF: charts, tables, method notes and the date."""
    viewer = require_viewer()
    context = _report_context(viewer)
    pdf = render_pdf(
        "insights/report.html", generated=utcnow(),
        organisation=current_app.config["ORGANISATION_NAME"], **context,
    )  # fmt: skip
    name = f"training-impact-{context['metric']}-{utcnow():%Y-%m-%d}.pdf"
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@bp.route("/insights/import", methods=["GET", "POST"])
@roles_required(*STAFF)
def upload() -> str | tuple[str, int] | WerkzeugResponse:
    viewer = require_viewer()
    form = ActionForm()
    report = None
    status = 200
    if request.method == "POST" and form.validate_on_submit():
        file = request.files.get("file")
        data = file.read(50_000_000) if file else b""
        mapping = Mapping(
            team=request.form.get("team_column", "team").strip(),
            date=request.form.get("date_column", "date").strip(),
            score=request.form.get("score_column", "score").strip(),
            agent=request.form.get("agent_column", "").strip(),
            channel=request.form.get("channel_column", "").strip(),
            source_id=request.form.get("id_column", "").strip(),
        )
        try:
            report = import_survey(
                db.session, platform_id=viewer.platform_id, creator_id=viewer.user_id,
                filename=file.filename if file and file.filename else "survey.csv", data=data,
                mapping=mapping, metric=request.form.get("metric", "csat"),
                timezone=request.form.get("timezone", "UTC").strip() or "UTC",
                skip_bad=request.form.get("skip_bad") == "1",
            )  # fmt: skip
        except ImportRefused as refused:
            db.session.rollback()
            flash(str(refused), "error")
            status = 400
        else:
            if report.ok:
                db.session.commit()
                flash(f"Imported {report.imported} responses ({report.duplicates} already there, "
                      f"{report.bad_rows} bad rows skipped).", "success")  # fmt: skip
                return redirect(url_for("insights.index", metric=request.form.get("metric")))
            db.session.rollback()
            status = 400
    elif request.method == "POST":
        status = 400
    return render_template(
        "insights/upload.html", viewer=viewer, form=form, report=report, metrics=METRICS
    ), status
