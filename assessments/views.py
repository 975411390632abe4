"""Skill assessment pages: learners take scenarios and read their results; trainers upload
transcripts and grade from the queue with the engine's suggestions beside them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response as WerkzeugResponse

from assessments.library import scenarios
from assessments.models import (
    AWAITING,
    IN_PROGRESS,
    Assessment,
    CalibrationSession,
    Dispute,
    Grade,
    Rubric,
)
from assessments.quizzes import quizzes
from assessments.services import (
    AssessmentError,
    DecisionRefused,
    UploadRefused,
    about_skill,
    agreement_report,
    calibration_events,
    calibration_grade,
    calibration_report,
    close_calibration,
    current_version,
    dispute_of,
    final_grade,
    grade,
    may_decide_dispute,
    mine,
    next_waiting,
    open_dispute,
    open_disputes,
    practice_suggestions,
    queue,
    quiz_report,
    reopen_calibration_grade,
    reply,
    review_dispute,
    rubric_for_platform,
    rubrics_for_platform,
    save_rubric,
    skill_levels,
    start_calibration,
    start_scenario,
    submit_quiz,
    upload_transcripts,
)
from assessments.suggest import CRITERIA
from core.auth import Forbidden, Role, Viewer, require_viewer, roles_required
from core.db import db, utcnow
from core.forms import ActionForm
from core.numbers import NumberFormatError, parse_number
from core.questions import Seal, describe, present_all
from core.ratelimit import enforce_upload_limit
from lms.models import ResourceLink
from people.guards import require_person
from people.models import Membership, User

bp = Blueprint("assessments", __name__, template_folder="templates")

STAFF = (Role.TRAINER, Role.ADMINISTRATOR)
SKILL_NAMES = {
    "empathy": "Empathy", "active_listening": "Active listening", "patience": "Patience",
    "positive_language": "Positive language", "adaptability": "Adaptability",
}  # fmt: skip


def _viewer_user() -> tuple[Viewer, User]:
    return require_person("Assessments are for people launched from a course.")


@bp.errorhandler(AssessmentError)
def _refused(error: AssessmentError) -> WerkzeugResponse:
    db.session.rollback()
    flash(str(error), "error")
    return redirect(url_for("assessments.index"))


def _visible(assessment_id: int, viewer: Viewer) -> Assessment:
    """The learner's own assessment, or one of the trainer's course context; 404 otherwise."""
    assessment = db.session.get(Assessment, assessment_id)
    if assessment is None or assessment.deployment_id != viewer.deployment_id:
        abort(404)
    if viewer.role in STAFF:
        if assessment.team_id != viewer.team_id:
            abort(404)
    elif assessment.learner_id != viewer.user_id:
        abort(404)
    return assessment


def _taken_by(user: User, assessment: Assessment) -> Assessment:
    """Replies and disputes are the learner's own; staff who can read it get a clear 403."""
    if assessment.learner_id != user.id:
        raise Forbidden("Only the person who took this assessment can reply to it or dispute it.")
    return assessment


def _posted_levels(definition: dict[str, Any]) -> dict[str, int | None]:
    """The level chosen for each criterion in the posted form (``level_<criterion>``)."""
    return {c["id"]: request.form.get(f"level_{c['id']}", type=int) for c in definition["criteria"]}


@dataclass
class Segment:
    text: str
    note: str = ""
    supports: bool = True


def highlighted(
    conversation: dict[str, Any], suggestions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The turns, each split into plain and evidence segments (first span wins on overlap)."""
    spans: dict[int, list[tuple[int, int, str, bool]]] = {}
    for suggestion in suggestions:
        name = SKILL_NAMES.get(suggestion["criterion"], suggestion["criterion"])
        for e in suggestion["evidence"]:
            spans.setdefault(e["turn"], []).append(
                (e["start"], e["end"], f"{name}: {e['note']}", e["supports"])
            )
    out = []
    for index, turn in enumerate(conversation["turns"]):
        text, segments, position = turn["text"], [], 0
        # On overlap the longer span wins ("I can hear" over "I can").
        for start, end, note, supports in sorted(spans.get(index, []), key=lambda s: (s[0], -s[1])):
            if start < position or end > len(text):
                continue
            if start > position:
                segments.append(Segment(text[position:start]))
            segments.append(Segment(text[start:end], note, supports))
            position = end
        if position < len(text):
            segments.append(Segment(text[position:]))
        out.append({"speaker": turn["speaker"], "at": turn.get("at"), "segments": segments})
    return out


def _link_for(viewer: Viewer, scenario_id: str) -> int | None:
    if viewer.resource_link_id is None:
        return None
    link = db.session.get(ResourceLink, viewer.resource_link_id)
    if link is None or link.target != f"scenario:{scenario_id}":
        return None
    return link.id


@bp.get("/assessments/")
def index() -> str:
    viewer, user = _viewer_user()
    return render_template(
        "assessments/index.html", viewer=viewer, user=user, scenarios=scenarios().values(),
        mine=mine(db.session, user.id), names=SKILL_NAMES, form=ActionForm(),
        staff=viewer.role in STAFF, practice=practice_suggestions(db.session, user.id),
        quizzes=quizzes().values(),
        profile=skill_levels(db.session, [user.id])[user.id],
    )  # fmt: skip


@bp.get("/assessments/scenarios/<scenario_id>")
def scenario(scenario_id: str) -> str:
    """Where a scenario placed in the LMS lands: what it is about, and Start."""
    viewer, user = _viewer_user()
    found = scenarios().get(scenario_id)
    if found is None:
        abort(404)
    return render_template(
        "assessments/scenario.html", viewer=viewer, user=user, scenario=found, names=SKILL_NAMES,
        form=ActionForm(),
    )  # fmt: skip


@bp.post("/assessments/scenarios/<scenario_id>/start")
def start(scenario_id: str) -> WerkzeugResponse:
    viewer, user = _viewer_user()
    if user.opted_in_at is None:
        flash("Join the programme first: assessments are part of it.", "error")
        return redirect(url_for("people.programme", next=url_for("assessments.index")))
    assessment = start_scenario(
        db.session, user, scenario_id, deployment_id=viewer.deployment_id,
        team_id=viewer.team_id, resource_link_id=_link_for(viewer, scenario_id),
    )  # fmt: skip
    db.session.commit()
    return redirect(url_for("assessments.show", assessment_id=assessment.id))


@bp.get("/assessments/<int:assessment_id>")
def show(assessment_id: int) -> str:
    viewer, _ = _viewer_user()
    assessment = _visible(assessment_id, viewer)
    if viewer.role in STAFF and assessment.status == AWAITING:
        return redirect(url_for("assessments.grade_page", assessment_id=assessment.id))  # type: ignore[return-value]
    scenario = scenarios().get(assessment.scenario or "")
    return render_template(
        "assessments/show.html", viewer=viewer, assessment=assessment, scenario=scenario,
        turns=highlighted(assessment.conversation, []),
        grade=final_grade(db.session, assessment.id),
        definition=assessment.rubric_version.definition, names=SKILL_NAMES, form=ActionForm(),
        taking=assessment.status == IN_PROGRESS and assessment.learner_id == viewer.user_id,
        dispute=dispute_of(db.session, assessment.id),
    )  # fmt: skip


@bp.post("/assessments/<int:assessment_id>/reply")
def answer(assessment_id: int) -> WerkzeugResponse:
    viewer, user = _viewer_user()
    assessment = _taken_by(user, _visible(assessment_id, viewer))
    reply(db.session, assessment, user, request.form.get("reply", ""))
    db.session.commit()
    if assessment.status == AWAITING:
        flash("Sent for grading. You will see your result here.", "success")
    return redirect(url_for("assessments.show", assessment_id=assessment.id))


@bp.get("/assessments/queue")
@roles_required(*STAFF)
def grading_queue() -> str:
    viewer = require_viewer()
    skill = request.args.get("skill", "") if request.args.get("skill") in CRITERIA else ""
    learner = request.args.get("learner", type=int) or 0
    everyone = queue(db.session, viewer.deployment_id, viewer.team_id)
    waiting = [
        a for a in everyone if about_skill(a, skill) and (not learner or a.learner_id == learner)
    ]
    people = sorted({a.learner for a in everyone}, key=lambda u: u.display_name)
    return render_template(
        "assessments/queue.html", viewer=viewer, waiting=waiting, names=SKILL_NAMES,
        skill=skill, learner=learner, people=people, scenarios=scenarios(),
    )  # fmt: skip


@bp.route("/assessments/<int:assessment_id>/grade", methods=["GET", "POST"])
@roles_required(*STAFF)
def grade_page(assessment_id: int) -> str | tuple[str, int] | WerkzeugResponse:
    viewer, grader = _viewer_user()
    assessment = _visible(assessment_id, viewer)
    definition = assessment.rubric_version.definition
    form = ActionForm()
    status = 200
    if request.method == "POST":
        levels = _posted_levels(definition)
        try:
            grade(db.session, assessment, grader, levels, request.form.get("comment", ""))  # type: ignore[arg-type]
        except AssessmentError as error:
            db.session.rollback()
            flash(str(error), "error")
            status = 400
        else:
            graded = f"Graded {assessment.learner.display_name}: {assessment.title}."
            db.session.commit()
            flash(graded, "success")
            following = next_waiting(db.session, viewer.deployment_id, viewer.team_id)
            if following is not None:
                return redirect(url_for("assessments.grade_page", assessment_id=following))
            return redirect(url_for("assessments.grading_queue"))
    suggested = {s["criterion"]: s for s in assessment.suggestions}
    return render_template(
        "assessments/grade.html", viewer=viewer, assessment=assessment, definition=definition,
        suggested=suggested, turns=highlighted(assessment.conversation, assessment.suggestions),
        scenario=scenarios().get(assessment.scenario or ""), form=form, names=SKILL_NAMES,
        grade=final_grade(db.session, assessment.id),
    ), status  # fmt: skip


@bp.route("/assessments/upload", methods=["GET", "POST"])
@roles_required(*STAFF)
def upload() -> str | tuple[str, int] | WerkzeugResponse:
    viewer, trainer = _viewer_user()
    if viewer.team_id is None:
        raise Forbidden("Open this from a course to assess its people.")
    members = [
        m.user
        for m in db.session.scalars(
            select(Membership)
            .where(Membership.team_id == viewer.team_id, Membership.active.is_(True))
            .options(selectinload(Membership.user))
        )
        if m.user_id != trainer.id
    ]
    form = ActionForm()
    problems: list[Any] = []
    status = 200
    if request.method == "POST":
        enforce_upload_limit(viewer.platform_id, viewer.user_id)
        files = [
            (f.filename or "transcript.txt", f.read(220_000))
            for f in request.files.getlist("files")
            if f.filename
        ]
        pasted = request.form.get("pasted", "").strip()
        if pasted:
            files.append(
                (f"Pasted transcript, {utcnow():%d %b %Y %H:%M}.txt", pasted.encode("utf-8"))
            )
        try:
            created = upload_transcripts(
                db.session, trainer=trainer, deployment_id=viewer.deployment_id,
                team_id=viewer.team_id, learner_id=request.form.get("learner", type=int) or 0,
                files=files, channel=request.form.get("channel", "chat"),
                mask=request.form.get("mask") == "1",
            )  # fmt: skip
        except UploadRefused as refused:
            db.session.rollback()
            problems = refused.problems
            status = 400
        else:
            db.session.commit()
            flash(f"{len(created)} conversation(s) added to the grading queue.", "success")
            return redirect(url_for("assessments.grading_queue"))
    return render_template(
        "assessments/upload.html", viewer=viewer, form=form, problems=problems,
        members=sorted(members, key=lambda u: u.display_name),
    ), status  # fmt: skip


# -- rubrics ---------------------------------------------------------------------------------


@bp.get("/assessments/rubrics")
@roles_required(*STAFF)
def rubrics() -> str:
    viewer = require_viewer()
    found = rubrics_for_platform(db.session, viewer.platform_id)
    in_use = rubric_for_platform(db.session, viewer.platform_id)
    db.session.commit()  # the built-in rubric, created on first need
    return render_template(
        "assessments/rubrics.html", viewer=viewer, rubrics=found, in_use=in_use,
        versions={r.id: current_version(db.session, r) for r in found},
    )  # fmt: skip


def _number(text: str | None, kind: type[float] | type[int]) -> float | int | str:
    """The number typed, or the text itself when it is not one: the rubric's schema then
    refuses it with a message, and the form shows what was typed. Read by core.numbers, so
    "12,5" is a weight of 12.5 and "nan", which float() took and the schema's bounds let
    through, is refused."""
    typed = (text or "").strip() or "0"
    try:
        value = parse_number(typed, allow_percent=False).value
    except NumberFormatError:
        return typed[:40]
    if kind is int:
        return int(value) if value.is_integer() else typed[:40]
    return value


def _definition_from(form: Any, base: dict[str, Any]) -> dict[str, Any]:
    criteria = []
    for index, criterion in enumerate(base["criteria"]):
        criteria.append({
            "id": criterion["id"],
            "name": form.get(f"c{index}_name", criterion["name"]).strip(),
            "weight": _number(form.get(f"c{index}_weight"), float),
            "levels": {str(n): form.get(f"c{index}_l{n}", "").strip() for n in range(1, 5)},
        })  # fmt: skip
    extra_name = form.get("extra_name", "").strip()
    if extra_name:
        slug = re.sub(r"[^a-z0-9]+", "_", extra_name.lower()).strip("_")[:39] or "extra"
        criteria.append({
            "id": slug if slug[0].isalpha() else f"c_{slug}", "name": extra_name,
            "weight": _number(form.get("extra_weight"), float),
            "levels": {str(n): form.get(f"extra_l{n}", "").strip() for n in range(1, 5)},
        })  # fmt: skip
    return {
        "name": form.get("name", "").strip(),
        "target_level": _number(form.get("target_level") or "3", int),
        "levels": {str(n): form.get(f"level_{n}", "").strip() for n in range(1, 5)},
        "criteria": criteria,
    }


@bp.route("/assessments/rubrics/<int:rubric_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF)
def edit_rubric(rubric_id: int) -> str | tuple[str, int] | WerkzeugResponse:
    viewer, editor = _viewer_user()
    rubric = db.session.get(Rubric, rubric_id)
    if rubric is None or rubric.platform_id not in (None, viewer.platform_id):
        abort(404)
    base = current_version(db.session, rubric).definition
    definition, status = base, 200
    form = ActionForm()
    if request.method == "POST":
        definition = _definition_from(request.form, base)
        try:
            version = save_rubric(db.session, platform_id=viewer.platform_id, editor=editor,
                                  rubric=rubric, definition=definition)  # fmt: skip
        except AssessmentError as error:
            db.session.rollback()
            flash(str(error), "error")
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
        "assessments/rubric_edit.html", viewer=viewer, rubric=rubric, definition=definition,
        form=form,
    ), status  # fmt: skip


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
    viewer, trainer = _viewer_user()
    assessment = _visible(assessment_id, viewer)
    calibration = start_calibration(db.session, assessment, trainer)
    db.session.commit()
    flash("Calibration started: send this page's address to the other graders.", "success")
    return redirect(url_for("assessments.calibration", calibration_id=calibration.id))


@bp.route("/assessments/calibrations/<int:calibration_id>", methods=["GET", "POST"])
@roles_required(*STAFF)
def calibration(calibration_id: int) -> str | tuple[str, int] | WerkzeugResponse:
    viewer, grader = _viewer_user()
    found = _calibration(calibration_id, viewer)
    definition = found.assessment.rubric_version.definition
    form = ActionForm()
    status = 200
    if request.method == "POST":
        if request.form.get("close") == "1":
            close_calibration(db.session, found)
            db.session.commit()
            return redirect(url_for("assessments.calibration", calibration_id=found.id))
        levels = _posted_levels(definition)
        try:
            calibration_grade(db.session, found, grader, levels)
        except AssessmentError as error:
            db.session.rollback()
            flash(str(error), "error")
            status = 400
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
        "assessments/calibration.html", viewer=viewer, calibration=found, definition=definition,
        report=report, mine=mine, form=form, names=SKILL_NAMES,
        turns=highlighted(found.assessment.conversation, []),
        reveal=found.closed_at is not None, events=calibration_events(db.session, found),
    ), status  # fmt: skip


@bp.post("/assessments/calibrations/<int:calibration_id>/reopen")
@roles_required(*STAFF)
def reopen_calibration(calibration_id: int) -> WerkzeugResponse:
    """A trainer lets one grader change their locked levels (recorded, not counted)."""
    viewer, trainer = _viewer_user()
    found = _calibration(calibration_id, viewer)
    try:
        reopened = reopen_calibration_grade(
            db.session, found, trainer, viewer.role.value,
            request.form.get("grader", type=int) or 0, request.form.get("reason", ""),
        )  # fmt: skip
    except AssessmentError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        name = reopened.grader.display_name
        db.session.commit()
        flash(f"{name} can change their levels once; their first levels still count.", "success")
    return redirect(url_for("assessments.calibration", calibration_id=found.id))


# -- disputes --------------------------------------------------------------------------------


@bp.post("/assessments/<int:assessment_id>/dispute")
def dispute(assessment_id: int) -> WerkzeugResponse:
    viewer, learner = _viewer_user()
    assessment = _taken_by(learner, _visible(assessment_id, viewer))
    open_dispute(db.session, assessment, learner, request.form.get("reason", ""))
    db.session.commit()
    flash("Your dispute was sent. A different trainer will review the grade.", "success")
    return redirect(url_for("assessments.show", assessment_id=assessment.id))


@bp.get("/assessments/disputes")
@roles_required(*STAFF)
def disputes() -> str:
    viewer = require_viewer()
    return render_template(
        "assessments/disputes.html", viewer=viewer,
        disputes=open_disputes(db.session, viewer.deployment_id, viewer.team_id),
    )  # fmt: skip


@bp.route("/assessments/disputes/<int:dispute_id>", methods=["GET", "POST"])
@roles_required(*STAFF)
def review(dispute_id: int) -> str | tuple[str, int] | WerkzeugResponse:
    viewer, reviewer = _viewer_user()
    found = db.session.get(Dispute, dispute_id)
    if found is None:
        abort(404)
    assessment = _visible(found.assessment_id, viewer)
    definition = assessment.rubric_version.definition
    form = ActionForm()
    status = 200
    if request.method == "POST":
        levels = _posted_levels(definition)
        try:
            review_dispute(db.session, found, reviewer, levels, request.form.get("note", ""),
                           role=viewer.role.value)  # fmt: skip
        except DecisionRefused as refused:
            db.session.rollback()
            raise Forbidden(str(refused)) from refused
        except AssessmentError as error:
            db.session.rollback()
            flash(str(error), "error")
            status = 400
        else:
            db.session.commit()
            flash("Grade changed after review." if found.outcome == "changed" else
                  "Grade upheld after review.", "success")  # fmt: skip
            return redirect(url_for("assessments.disputes"))
    original = db.session.get(Grade, found.original_grade_id)
    return render_template(
        "assessments/review.html", viewer=viewer, dispute=found, assessment=assessment,
        definition=definition, original=original, form=form,
        turns=highlighted(assessment.conversation, []),
        may_decide=may_decide_dispute(viewer.role.value),
    ), status  # fmt: skip


@bp.get("/assessments/results")
@roles_required(*STAFF)
def results() -> str:
    """Agreement between graders over a period, how far suggestions match final grades, and
    the cohort's levels per skill."""
    viewer = require_viewer()
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
            db.session, viewer.deployment_id, viewer.team_id,
            datetime.combine(start, time.min, UTC),
            datetime.combine(end + timedelta(days=1), time.min, UTC),
        )  # fmt: skip
    return render_template(
        "assessments/results.html", viewer=viewer, report=report, start=start, end=end,
        names=SKILL_NAMES,
    )  # fmt: skip


# -- quizzes ---------------------------------------------------------------------------------


def _quiz_or_404(quiz_id: str) -> dict[str, Any]:
    quiz = quizzes().get(quiz_id)
    if quiz is None:
        abort(404)
    return quiz


@bp.route("/assessments/quizzes/<quiz_id>", methods=["GET", "POST"])
def quiz(quiz_id: str) -> str | tuple[str, int] | WerkzeugResponse:
    viewer, learner = _viewer_user()
    found = _quiz_or_404(quiz_id)
    secret = current_app.config["SECRET_KEY"]
    form = ActionForm()
    result, status = None, 200
    seal, given = None, {}
    if request.method == "POST":
        submitted = request.form.to_dict(flat=False)
        link = None
        if viewer.resource_link_id is not None:
            placed = db.session.get(ResourceLink, viewer.resource_link_id)
            link = placed.id if placed is not None and placed.target == f"quiz:{quiz_id}" else None
        result, attempt = submit_quiz(
            db.session,
            learner,
            quiz_id,
            submitted,
            deployment_id=viewer.deployment_id,
            team_id=viewer.team_id,
            resource_link_id=link,
            secret=secret,
        )
        if attempt is None:
            status = 400
            # The form comes back under the same seal, with the answers as given.
            seal, given = Seal.from_form(secret, submitted), result.given
        else:
            db.session.commit()
    described = (
        {q["id"]: describe(q, result.given.get(q["id"], [])) for q in found["questions"]}
        if result is not None
        else {}
    )
    return render_template(
        "assessments/quiz.html",
        viewer=viewer,
        user=learner,
        quiz=found,
        form=form,
        result=result,
        described=described,
        presented=present_all(found["questions"], secret, seal=seal, given=given),
    ), status


@bp.get("/assessments/quizzes/<quiz_id>/analysis")
@roles_required(*STAFF)
def quiz_analysis(quiz_id: str) -> str:
    viewer = require_viewer()
    found = _quiz_or_404(quiz_id)
    return render_template(
        "assessments/quiz_analysis.html", viewer=viewer, quiz=found,
        report=quiz_report(db.session, viewer.deployment_id, viewer.team_id, quiz_id),
        prompts={q["id"]: q["prompt"] for q in found["questions"]},
    )  # fmt: skip
