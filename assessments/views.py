"""Skill assessment pages: learners take scenarios and read their results; trainers upload
transcripts and grade from the queue with the engine's suggestions beside them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from assessments.batch import scoring_of
from assessments.disputes import dispute_of
from assessments.errors import AssessmentError
from assessments.formats import MAX_FILE_BYTES
from assessments.forms import GradeForm, QuizForm, ReplyForm, UploadForm
from assessments.grading import (
    CONFIDENCE_FILTERS,
    final_grade,
    grade,
    mine,
    skill_levels,
    uncertain,
)
from assessments.grading_queue import (
    LEVELS,
    QueueFilters,
    QueuePlace,
    next_in_queue,
    queue_page,
    queue_people,
)
from assessments.library import scenarios
from assessments.models import AWAITING, IN_PROGRESS, Assessment
from assessments.practice import practice_suggestions
from assessments.quiz_attempts import quiz_report, submit_quiz
from assessments.quizzes import quizzes
from assessments.scenarios import reply, start_scenario
from assessments.uploads import UploadRefused, assessable_people, upload_transcripts
from core.auth import STAFF, Forbidden, Viewer, require_viewer, roles_required
from core.db import db, utcnow
from core.forms import ActionForm
from core.questions import Seal, describe, present_all
from core.ratelimit import enforce_upload_limit
from core.teaching import teaching_targets
from lms.models import ResourceLink
from lms.targets import target_named
from people.guards import require_person
from people.models import User

bp = Blueprint("assessments", __name__, template_folder="templates")

# Of each file: past the formats' size limit, which then says so.
UPLOAD_READ_BYTES = MAX_FILE_BYTES + 1
SKILL_NAMES = {
    "empathy": "Empathy",
    "active_listening": "Active listening",
    "patience": "Patience",
    "positive_language": "Positive language",
    "adaptability": "Adaptability",
}


@bp.context_processor
def _skill_names() -> dict[str, dict[str, str]]:
    # Every assessment page names the skills the same way.
    return {"names": SKILL_NAMES}


def viewer_user() -> tuple[Viewer, User]:
    return require_person("Assessments are for people launched from a course.")


@bp.errorhandler(AssessmentError)
def _refused(error: AssessmentError) -> WerkzeugResponse:
    db.session.rollback()
    flash(str(error), "error")
    return redirect(url_for("assessments.index"))


def visible(assessment_id: int, viewer: Viewer) -> Assessment:
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


def taken_by_viewer(assessment_id: int) -> tuple[Assessment, User]:
    """The viewer's own assessment and the viewer, for a reply or a dispute: those are the
    learner's own; staff who can read it get a clear 403."""
    viewer, user = viewer_user()
    assessment = visible(assessment_id, viewer)
    if assessment.learner_id != user.id:
        raise Forbidden("Only the person who took this assessment can reply to it or dispute it.")
    return assessment, user


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
    viewer, user = viewer_user()
    practice = practice_suggestions(db.session, user.id, teaching_targets())
    # Where each suggested skill is taught, if that page can be opened here.
    teaching = {p.criterion: t.url() for p in practice if (t := target_named(p.teaching))}
    return render_template(
        "assessments/index.html",
        viewer=viewer,
        user=user,
        scenarios=scenarios().values(),
        mine=mine(db.session, user.id),
        form=ActionForm(),
        staff=viewer.role in STAFF,
        practice=practice,
        teaching=teaching,
        quizzes=quizzes().values(),
        profile=skill_levels(db.session, [user.id])[user.id],
    )


@bp.get("/assessments/scenarios/<scenario_id>")
def scenario(scenario_id: str) -> str:
    """Where a scenario placed in the LMS lands: what it is about, and Start."""
    viewer, user = viewer_user()
    found = scenarios().get(scenario_id)
    if found is None:
        abort(404)
    return render_template(
        "assessments/scenario.html",
        viewer=viewer,
        user=user,
        scenario=found,
        form=ActionForm(),
    )


@bp.post("/assessments/scenarios/<scenario_id>/start")
def start(scenario_id: str) -> WerkzeugResponse:
    viewer, user = viewer_user()
    if user.opted_in_at is None:
        flash("Join the programme first: assessments are part of it.", "error")
        return redirect(url_for("people.programme", next=url_for("assessments.index")))
    assessment = start_scenario(
        db.session,
        user,
        scenario_id,
        deployment_id=viewer.deployment_id,
        team_id=viewer.team_id,
        resource_link_id=_link_for(viewer, scenario_id),
    )
    db.session.commit()
    return redirect(url_for("assessments.show", assessment_id=assessment.id))


@bp.get("/assessments/<int:assessment_id>")
def show(assessment_id: int) -> str | WerkzeugResponse:
    viewer, _ = viewer_user()
    assessment = visible(assessment_id, viewer)
    if viewer.role in STAFF and assessment.status == AWAITING:
        return redirect(url_for("assessments.grade_page", assessment_id=assessment.id))
    scenario = scenarios().get(assessment.scenario or "")
    return render_template(
        "assessments/show.html",
        viewer=viewer,
        assessment=assessment,
        scenario=scenario,
        turns=highlighted(assessment.conversation, []),
        grade=final_grade(db.session, assessment.id),
        definition=assessment.rubric_version.definition,
        form=ActionForm(),
        taking=assessment.status == IN_PROGRESS and assessment.learner_id == viewer.user_id,
        dispute=dispute_of(db.session, assessment.id),
    )


@bp.post("/assessments/<int:assessment_id>/reply")
def answer(assessment_id: int) -> WerkzeugResponse:
    assessment, user = taken_by_viewer(assessment_id)
    reply(db.session, assessment, user, ReplyForm().reply.data)
    db.session.commit()
    if assessment.status == AWAITING:
        flash("Sent for grading. You will see your result here.", "success")
    return redirect(url_for("assessments.show", assessment_id=assessment.id))


@bp.get("/assessments/queue")
@roles_required(*STAFF)
def grading_queue() -> str:
    viewer = require_viewer()
    filters = QueueFilters.from_args(request.args)
    page = queue_page(
        db.session,
        viewer.deployment_id,
        viewer.team_id,
        filters,
        page=request.args.get("page", type=int) or 1,
    )
    return render_template(
        "assessments/queue.html",
        viewer=viewer,
        page=page,
        filters=filters,
        place=QueuePlace(filters, page.number),
        people=queue_people(db.session, viewer.deployment_id, viewer.team_id),
        scenarios=scenarios(),
        levels=LEVELS,
        confidences=CONFIDENCE_FILTERS,
        uncertain=uncertain,
    )


@bp.route("/assessments/<int:assessment_id>/grade", methods=["GET", "POST"])
@roles_required(*STAFF)
def grade_page(assessment_id: int) -> str | tuple[str, int] | WerkzeugResponse:
    viewer, grader = viewer_user()
    assessment = visible(assessment_id, viewer)
    definition = assessment.rubric_version.definition
    form = GradeForm.for_rubric(definition)
    place = form.queue_place(None if form.is_submitted() else request.args)
    status = 200
    # Errors by criterion (id -> message), shown in each criterion's box and in the summary.
    missing: dict[str, str] = {}
    if form.is_submitted():
        allowed = {int(level) for level in definition["levels"]}
        levels = form.levels()
        missing = {
            c["id"]: f"Choose a level for {c['name']}."
            for c in definition["criteria"]
            if levels.get(c["id"]) not in allowed
        }
        try:
            if missing:
                raise AssessmentError(next(iter(missing.values())))
            grade(db.session, assessment, grader, levels, form.comment.data)
        except AssessmentError as error:
            db.session.rollback()
            if not missing:
                form.form_errors.append(str(error))
            status = 400
        else:
            graded = f"Graded {assessment.learner.display_name}: {assessment.title}."
            db.session.commit()
            flash(graded, "success")
            following = next_in_queue(
                db.session, viewer.deployment_id, viewer.team_id, place, after=assessment
            )
            if following is not None:
                return redirect(
                    url_for("assessments.grade_page", assessment_id=following, **place.link_args())
                )
            return redirect(url_for("assessments.grading_queue", **place.link_args()))
    suggested = {s["criterion"]: s for s in assessment.suggestions}
    # A conversation of a batch still being scored is graded without suggestions, or later.
    scoring = scoring_of(db.session, assessment)
    return render_template(
        "assessments/grade.html",
        viewer=viewer,
        assessment=assessment,
        definition=definition,
        suggested=suggested,
        turns=highlighted(assessment.conversation, assessment.suggestions),
        scenario=scenarios().get(assessment.scenario or ""),
        form=form,
        place=place,
        grade=final_grade(db.session, assessment.id),
        missing=missing,
        scoring=scoring,
        progress_job=scoring.progress_page_for(viewer.user_id) if scoring else None,
    ), status


@bp.route("/assessments/upload", methods=["GET", "POST"])
@roles_required(*STAFF)
def upload() -> str | tuple[str, int] | WerkzeugResponse:
    viewer, trainer = viewer_user()
    if viewer.team_id is None:
        raise Forbidden("Open this from a course to assess its people.")
    form = UploadForm()
    problems: list[Any] = []
    field_errors: list[tuple[str, str]] = []  # (the control's id, the message)
    status = 200
    if form.is_submitted():
        enforce_upload_limit(viewer.platform_id, viewer.user_id)
        files = form.chosen_files(UPLOAD_READ_BYTES)
        pasted = form.pasted.data.strip()
        if pasted:
            files.append(
                (f"Pasted transcript, {utcnow():%d %b %Y %H:%M}.txt", pasted.encode("utf-8"))
            )
        try:
            uploaded = upload_transcripts(
                db.session,
                trainer=trainer,
                deployment_id=viewer.deployment_id,
                team_id=viewer.team_id,
                learner_id=form.learner.data or 0,
                files=files,
                channel=form.channel.data,
                mask=form.mask.data,
                next_url=url_for("assessments.grading_queue"),
            )
        except UploadRefused as refused:
            db.session.rollback()
            problems = refused.problems
            status = 400
        except AssessmentError as refused:
            # On the form, next to the field it is about, the choices kept.
            db.session.rollback()
            said = str(refused)
            about = "learner" if "joined" in said or "team" in said or "own" in said else "files"
            field_errors.append((about, said))
            status = 400
        else:
            db.session.commit()
            count = len(uploaded.assessments)
            if uploaded.job is not None:
                flash(f"{count} conversations added; their levels are being suggested.", "success")
                return redirect(url_for("core.job_status", job_id=uploaded.job.id))
            flash(f"{count} conversation(s) added to the grading queue.", "success")
            return redirect(url_for("assessments.grading_queue"))
    return render_template(
        "assessments/upload.html",
        viewer=viewer,
        form=form,
        problems=problems,
        members=assessable_people(db.session, viewer.team_id, trainer),
        errors=field_errors,
    ), status


# -- quizzes ---------------------------------------------------------------------------------


def _quiz_or_404(quiz_id: str) -> dict[str, Any]:
    quiz = quizzes().get(quiz_id)
    if quiz is None:
        abort(404)
    return quiz


@bp.route("/assessments/quizzes/<quiz_id>", methods=["GET", "POST"])
def quiz(quiz_id: str) -> str | tuple[str, int] | WerkzeugResponse:
    viewer, learner = viewer_user()
    found = _quiz_or_404(quiz_id)
    secret = current_app.config["SECRET_KEY"]
    form = QuizForm()
    result, status = None, 200
    seal, given = None, {}
    if form.is_submitted():
        submitted = form.answers
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
        "assessments/quiz_analysis.html",
        viewer=viewer,
        quiz=found,
        report=quiz_report(db.session, viewer.deployment_id, viewer.team_id, quiz_id),
        prompts={q["id"]: q["prompt"] for q in found["questions"]},
    )
