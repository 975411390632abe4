"""The pages that keep grading consistent and fair: rubrics, calibration sessions, disputes
and the results over a period. Registered on the assessments blueprint (``views.bp``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from assessments.calibration import (
    calibration_events,
    calibration_grade,
    calibration_report,
    close_calibration,
    reopen_calibration_grade,
    start_calibration,
)
from assessments.disputes import (
    DecisionRefused,
    may_decide_dispute,
    open_dispute,
    open_disputes,
    review_dispute,
)
from assessments.errors import AssessmentError
from assessments.forms import (
    CalibrationForm,
    DisputeForm,
    ReopenForm,
    ReviewForm,
    RubricForm,
    ThresholdForm,
)
from assessments.models import CalibrationSession, Dispute, Grade, Rubric
from assessments.results import agreement_report
from assessments.rubrics import (
    current_version,
    rubric_for_platform,
    rubrics_for_platform,
    save_rubric,
)
from assessments.tenant_models import set_threshold, threshold, trust_report
from assessments.views import (
    bp,
    highlighted,
    taken_by_viewer,
    viewer_user,
    visible,
)
from core.auth import STAFF, Forbidden, Viewer, require_viewer, roles_required
from core.db import db, utcnow


def _show_refusal(error: AssessmentError) -> int:
    """A refused change rolled back and its reason shown on the page; the page's status."""
    db.session.rollback()
    flash(str(error), "error")
    return 400


# -- rubrics ---------------------------------------------------------------------------------


@bp.get("/assessments/rubrics")
@roles_required(*STAFF)
def rubrics() -> str:
    viewer = require_viewer()
    found = rubrics_for_platform(db.session, viewer.platform_id)
    in_use = rubric_for_platform(db.session, viewer.platform_id)
    db.session.commit()  # the built-in rubric, created on first need
    return render_template(
        "assessments/rubrics.html",
        viewer=viewer,
        rubrics=found,
        in_use=in_use,
        versions={r.id: current_version(db.session, r) for r in found},
    )


@bp.route("/assessments/rubrics/<int:rubric_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF)
def edit_rubric(rubric_id: int) -> str | tuple[str, int] | WerkzeugResponse:
    viewer, editor = viewer_user()
    rubric = db.session.get(Rubric, rubric_id)
    if rubric is None or rubric.platform_id not in (None, viewer.platform_id):
        abort(404)
    base = current_version(db.session, rubric).definition
    definition, status = base, 200
    form = RubricForm.for_rubric(base)
    errors: list[tuple[str | None, str]] = []  # (control id, message), shown where they are
    if form.is_submitted():
        definition = form.definition()
        try:
            version = save_rubric(
                db.session,
                platform_id=viewer.platform_id,
                editor=editor,
                rubric=rubric,
                definition=definition,
            )
        except AssessmentError as error:
            db.session.rollback()
            errors.append(form.error(str(error)))
            status = 400
        else:
            db.session.commit()
            flash(
                f"Saved {definition['name']}, version {version.version}. New assessments use "
                "it; grades already given keep the version they were given with.",
                "success",
            )
            return redirect(url_for("assessments.rubrics"))
    return render_template(
        "assessments/rubric_edit.html",
        viewer=viewer,
        rubric=rubric,
        definition=definition,
        form=form,
        errors=errors,
    ), status


# -- calibration -----------------------------------------------------------------------------


def _calibration(calibration_id: int, viewer: Viewer) -> CalibrationSession:
    found = db.session.get(CalibrationSession, calibration_id)
    if (
        found is None
        or found.deployment_id != viewer.deployment_id
        or found.team_id != viewer.team_id
    ):
        abort(404)
    return found


@bp.post("/assessments/<int:assessment_id>/calibrate")
@roles_required(*STAFF)
def calibrate(assessment_id: int) -> WerkzeugResponse:
    viewer, trainer = viewer_user()
    assessment = visible(assessment_id, viewer)
    calibration = start_calibration(db.session, assessment, trainer)
    db.session.commit()
    flash("Calibration started: send this page's address to the other graders.", "success")
    return redirect(url_for("assessments.calibration", calibration_id=calibration.id))


@bp.route("/assessments/calibrations/<int:calibration_id>", methods=["GET", "POST"])
@roles_required(*STAFF)
def calibration(calibration_id: int) -> str | tuple[str, int] | WerkzeugResponse:
    viewer, grader = viewer_user()
    found = _calibration(calibration_id, viewer)
    definition = found.assessment.rubric_version.definition
    form = CalibrationForm.for_rubric(definition)
    status = 200
    if form.is_submitted():
        if form.closing:
            close_calibration(db.session, found)
            db.session.commit()
            return redirect(url_for("assessments.calibration", calibration_id=found.id))
        try:
            calibration_grade(db.session, found, grader, form.levels())
        except AssessmentError as error:
            status = _show_refusal(error)
        else:
            db.session.commit()
            flash(
                "Your levels are saved and locked. The group's results show when the trainer "
                "closes the session.",
                "success",
            )
            return redirect(url_for("assessments.calibration", calibration_id=found.id))
    report = calibration_report(db.session, found)
    mine = next((g for g in report.graders if g.grader.id == grader.id), None)
    # Blind until closed: before that the page shows who has saved, never anyone's levels
    # but the viewer's own, nor the consensus, the drift or the agreement.
    return render_template(
        "assessments/calibration.html",
        viewer=viewer,
        calibration=found,
        definition=definition,
        report=report,
        mine=mine,
        form=form,
        turns=highlighted(found.assessment.conversation, []),
        reveal=found.closed_at is not None,
        events=calibration_events(db.session, found),
    ), status


@bp.post("/assessments/calibrations/<int:calibration_id>/reopen")
@roles_required(*STAFF)
def reopen_calibration(calibration_id: int) -> WerkzeugResponse:
    """A trainer lets one grader change their locked levels (recorded, not counted)."""
    viewer, trainer = viewer_user()
    found = _calibration(calibration_id, viewer)
    form = ReopenForm()
    try:
        reopened = reopen_calibration_grade(
            db.session, found, trainer, viewer.role.value, form.grader.data or 0, form.reason.data
        )
    except AssessmentError as error:
        _show_refusal(error)
    else:
        name = reopened.grader.display_name
        db.session.commit()
        flash(f"{name} can change their levels once; their first levels still count.", "success")
    return redirect(url_for("assessments.calibration", calibration_id=found.id))


# -- disputes --------------------------------------------------------------------------------


@bp.post("/assessments/<int:assessment_id>/dispute")
def dispute(assessment_id: int) -> WerkzeugResponse:
    assessment, learner = taken_by_viewer(assessment_id)
    open_dispute(db.session, assessment, learner, DisputeForm().reason.data)
    db.session.commit()
    flash("Your dispute was sent. A different trainer will review the grade.", "success")
    return redirect(url_for("assessments.show", assessment_id=assessment.id))


@bp.get("/assessments/disputes")
@roles_required(*STAFF)
def disputes() -> str:
    viewer = require_viewer()
    return render_template(
        "assessments/disputes.html",
        viewer=viewer,
        disputes=open_disputes(db.session, viewer.deployment_id, viewer.team_id),
    )


@bp.route("/assessments/disputes/<int:dispute_id>", methods=["GET", "POST"])
@roles_required(*STAFF)
def review(dispute_id: int) -> str | tuple[str, int] | WerkzeugResponse:
    viewer, reviewer = viewer_user()
    found = db.session.get(Dispute, dispute_id)
    if found is None:
        abort(404)
    assessment = visible(found.assessment_id, viewer)
    definition = assessment.rubric_version.definition
    form = ReviewForm.for_rubric(definition)
    status = 200
    if form.is_submitted():
        try:
            review_dispute(
                db.session, found, reviewer, form.levels(), form.note.data, role=viewer.role.value
            )
        except DecisionRefused as refused:
            db.session.rollback()
            raise Forbidden(str(refused)) from refused
        except AssessmentError as error:
            status = _show_refusal(error)
        else:
            db.session.commit()
            flash(
                "Grade changed after review."
                if found.outcome == "changed"
                else "Grade upheld after review.",
                "success",
            )
            return redirect(url_for("assessments.disputes"))
    original = db.session.get(Grade, found.original_grade_id)
    return render_template(
        "assessments/review.html",
        viewer=viewer,
        dispute=found,
        assessment=assessment,
        definition=definition,
        original=original,
        form=form,
        turns=highlighted(assessment.conversation, []),
        may_decide=may_decide_dispute(viewer.role),
    ), status


@bp.get("/assessments/results")
@roles_required(*STAFF)
def results() -> str:
    """Agreement between graders over a period, how far suggestions match final grades, the
    suggestion model's agreement with this LMS's graders, and the cohort's levels per skill."""
    viewer = require_viewer()
    form = ThresholdForm(threshold=f"{threshold(db.session, viewer.platform_id):g}")
    return _results_page(viewer, form)


@bp.post("/assessments/suggestions/threshold")
@roles_required(*STAFF)
def suggestion_threshold() -> WerkzeugResponse | tuple[str, int]:
    """A trainer sets below which agreement with their graders this LMS's suggestions are low
    confidence: shown on the grading page but not pre-selected."""
    viewer = require_viewer()
    form = ThresholdForm()
    value = form.value() if form.validate_on_submit() else None
    if value is None:
        return _results_page(viewer, form), 400
    set_threshold(db.session, viewer.platform_id, value)
    db.session.commit()
    flash(
        f"Suggestions whose agreement with your graders is below {value:g} are no longer "
        "pre-selected (conversations suggested from now on).",
        "success",
    )
    return redirect(url_for("assessments.results"))


def _results_page(viewer: Viewer, form: ThresholdForm) -> str:
    today = utcnow().date()
    try:
        raw_start, raw_end = request.args.get("from"), request.args.get("to")
        start = date.fromisoformat(raw_start) if raw_start else today - timedelta(days=90)
        end = date.fromisoformat(raw_end) if raw_end else today
    except ValueError:
        flash("Dates look like 2026-11-23.", "error")
        start, end = today - timedelta(days=90), today
    report = None
    if viewer.team_id is not None:
        report = agreement_report(
            db.session,
            viewer.deployment_id,
            viewer.team_id,
            datetime.combine(start, time.min, UTC),
            datetime.combine(end + timedelta(days=1), time.min, UTC),
        )
    return render_template(
        "assessments/results.html",
        viewer=viewer,
        report=report,
        start=start,
        end=end,
        trust=trust_report(db.session, viewer.platform_id),
        form=form,
    )
