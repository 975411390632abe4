"""Course pages for learners (catalogue, lessons, checks, exercise, certificate), the public
certificate check, and the trainer's cohort view and review queue. Thin: parse, call a
service, render."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from markupsafe import Markup
from werkzeug.wrappers import Response as WerkzeugResponse

from core.auth import STAFF, Viewer, require_viewer, roles_required
from core.db import db
from core.exports import csv_response
from core.forms import ActionForm
from core.pdf import render_pdf
from core.questions import Described, Seal, describe, present_all
from core.ratelimit import enforce_upload_limit
from courses import cohort as cohort_service
from courses.certificates import certificate_qr_svg, verification_url
from courses.checks import FINAL, mark_check
from courses.completions import import_completions
from courses.exercises import EXPERIENCE_ROWS, EXPERIENCE_STAGES, SENTIMENTS, exercise_kind
from courses.forms import CheckPolicyForm, CompletionsForm, GradeForm, PackUploadForm
from courses.glossary import glossary, terms_in
from courses.markdown import with_assets
from courses.models import CheckAttempt, Course, Enrolment, ExerciseSubmission
from courses.pack import PackInvalid, files_from_zip, load_pack
from courses.services import (
    AWAITING_REVIEW,
    EXERCISE,
    CourseError,
    Outline,
    Progress,
    catalogue,
    check_opens_at,
    check_policy,
    course_by_slug,
    find_enrolment,
    grade_submission,
    import_packs,
    mark_done,
    my_courses,
    note_launch,
    note_opened,
    outline_of,
    progress_of,
    result_by_code,
    result_for_user,
    save_check_policy,
    start_course,
    submit_check,
    submit_exercise,
)
from courses.services import asset as find_asset
from lms.models import ResourceLink
from people.forms import ProgrammeChoiceForm
from people.guards import require_person
from people.models import User

bp = Blueprint("courses", __name__, template_folder="templates")


@dataclass
class CheckFeedback:
    score: float
    maximum: float
    passed: bool
    correct: dict[str, bool]
    described: dict[str, Described]
    # Whether the right answers and explanations are shown: the trainer's policy decides.
    reveal: bool

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.maximum if self.maximum else 0.0

    @classmethod
    def of(
        cls,
        questions: list[dict[str, Any]],
        score: float,
        maximum: float,
        passed: bool,
        correct: dict[str, bool],
        given: dict[str, list[str]],
        *,
        reveal: bool,
    ) -> CheckFeedback:
        described = {q["id"]: describe(q, given.get(q["id"], [])) for q in questions}
        return cls(score, maximum, passed, correct, described, reveal)


@dataclass
class Page:
    """What every course page needs: who is looking, the course, and their progress."""

    viewer: Viewer
    user: User
    course: Course
    outline: Outline
    enrolment: Enrolment | None
    progress: Progress

    @property
    def preview(self) -> bool:
        """Staff read the course without taking it; nothing is recorded for them."""
        return self.enrolment is None and self.viewer.role in STAFF

    def render(self, template: str, **context: Any) -> str:
        """A course page's template, given the page and its viewer (the layout's)."""
        return render_template(template, page=self, viewer=self.viewer, **context)

    def html(self, fragment: str) -> Markup:
        assets = url_for("courses.course_asset", version_id=self.outline.version_id, path="")
        return Markup(with_assets(fragment, assets))  # noqa: S704 - rendered by courses.markdown, raw HTML off


def _viewer_user() -> tuple[Viewer, User]:
    return require_person("Courses are for people launched from a course in the learning platform.")


def _course_or_404(slug: str, viewer: Viewer) -> Course:
    course = course_by_slug(db.session, slug, viewer.platform_id)
    if course is None:
        abort(404)
    return course


def _page(slug: str, *, need_access: bool = True) -> Page:
    viewer, user = _viewer_user()
    course = _course_or_404(slug, viewer)
    outline = outline_of(db.session, course)
    # A POST records progress: its enrolment is locked first, so the progress read here is
    # still true when the change is written, and the services need not read it again.
    posting = request.method == "POST"
    enrolment = find_enrolment(db.session, user.id, course.id, lock=posting)
    page = Page(
        viewer, user, course, outline, enrolment, progress_of(db.session, enrolment, outline)
    )
    if need_access and enrolment is None and not page.preview:
        raise CourseError("Start the course first: open it and choose “Start this course”.")
    return page


def _link_for(viewer: Viewer, slug: str) -> int | None:
    """The viewer's LMS activity if it opens this course: its gradebook column is the
    course's."""
    if viewer.resource_link_id is None:
        return None
    link = db.session.get(ResourceLink, viewer.resource_link_id)
    if link is None or link.deployment_id != viewer.deployment_id:
        return None
    target = link.target or ""
    return link.id if target == f"course:{slug}" or target.startswith(f"course:{slug}/") else None


def _recording(page: Page, key: str) -> Enrolment:
    """The enrolment a POST records against, with the launch's activity noted for grades."""
    if page.enrolment is None:
        raise CourseError("Start the course first: open it and choose “Start this course”.")
    note_launch(page.enrolment, page.viewer.team_id, _link_for(page.viewer, page.course.slug))
    note_opened(page.enrolment, key)
    return page.enrolment


def _go(page: Page, key: str | None) -> WerkzeugResponse:
    slug = page.course.slug
    if key is None:
        return redirect(url_for("courses.course", slug=slug))
    if key == EXERCISE:
        return redirect(url_for("courses.exercise", slug=slug))
    module, part = key.split("/", 1)
    if part == "check":
        return redirect(url_for("courses.check", slug=slug, module=module))
    return redirect(url_for("courses.lesson", slug=slug, module=module, lesson=part))


@bp.errorhandler(CourseError)
def _course_error(error: CourseError) -> WerkzeugResponse:
    flash(str(error), "error")
    slug = (request.view_args or {}).get("slug")
    return redirect(url_for("courses.course", slug=slug) if slug else url_for("courses.index"))


# -- learner pages ---------------------------------------------------------------------------


@bp.get("/courses/")
def index() -> str:
    viewer, user = _viewer_user()
    rows = my_courses(db.session, user.id, viewer.platform_id)
    return render_template(
        "courses/index.html",
        viewer=viewer,
        user=user,
        courses=[course for course, _ in rows],
        outlines={c.id: outline_of(db.session, c) for c, _ in rows},
        progress={c.id: p for c, p in rows if p is not None},
        upload_form=PackUploadForm() if viewer.role in STAFF else None,
    )


@bp.get("/courses/glossary")
def glossary_page() -> str:
    """Plain-English meanings of the words and idioms the courses use."""
    viewer, _ = _viewer_user()
    return render_template("courses/glossary.html", viewer=viewer, terms=glossary())


@bp.get("/courses/<slug>/")
def course(slug: str) -> str:
    page = _page(slug, need_access=False)
    result = page.progress.result
    return page.render(
        "courses/course.html",
        user=page.user,
        result=result,
        form=ActionForm(),
        next_item=page.progress.next_item(),
        choice_form=ProgrammeChoiceForm(next=url_for("courses.course", slug=slug)),
    )


@bp.post("/courses/<slug>/start")
def start(slug: str) -> WerkzeugResponse:
    viewer, user = _viewer_user()
    course = _course_or_404(slug, viewer)
    if user.opted_in_at is None:
        flash(
            "Join the programme first: it is your choice, and nothing is tracked before.", "error"
        )
        return redirect(url_for("people.programme", next=url_for("courses.course", slug=slug)))
    start_course(
        db.session,
        user,
        course,
        deployment_id=viewer.deployment_id,
        team_id=viewer.team_id,
        resource_link_id=_link_for(viewer, slug),
    )
    db.session.commit()
    page = _page(slug)
    return _go(page, page.progress.next_item().key if page.progress.next_item() else None)


@bp.get("/courses/<slug>/continue")
def resume(slug: str) -> WerkzeugResponse:
    page = _page(slug)
    item = page.progress.next_item()
    return _go(page, item.key if item else None)


@bp.get("/courses/<slug>/m/<module>/")
def module(slug: str, module: str) -> WerkzeugResponse:
    page = _page(slug)
    items = page.outline.module_items(module)
    if not items:
        abort(404)
    first = next((i for i in items if page.progress.state(i.key) != "done"), items[0])
    return _go(page, first.key)


@bp.get("/courses/<slug>/m/<module>/<lesson>")
def lesson(slug: str, module: str, lesson: str) -> str:
    page = _page(slug)
    content = page.outline.lesson(module, lesson)
    key = f"{module}/{lesson}"
    item = page.outline.item(key)
    if content is None or item is None:
        abort(404)
    before, after = page.outline.neighbours(key)
    return page.render(
        "courses/lesson.html",
        item=item,
        content=content,
        words=terms_in(content["html"]),
        module=page.outline.module(module),
        before=before,
        after=after,
        form=ActionForm(),
    )


@bp.post("/courses/<slug>/m/<module>/<lesson>/done")
def lesson_done(slug: str, module: str, lesson: str) -> WerkzeugResponse:
    page = _page(slug)
    key = f"{module}/{lesson}"
    if page.preview:
        _, after = page.outline.neighbours(key)
        return _go(page, after.key if after else None)
    mark_done(db.session, _recording(page, key), page.outline, key)
    db.session.commit()
    _, after = page.outline.neighbours(key)
    return _go(page, after.key if after else None)


@bp.route("/courses/<slug>/m/<module>/check", methods=["GET", "POST"])
def check(slug: str, module: str) -> str | tuple[str, int] | WerkzeugResponse:
    page = _page(slug)
    spec = page.outline.module(module)
    if spec is None:
        abort(404)
    key = f"{module}/check"
    questions = spec["check"]["questions"]
    secret = current_app.config["SECRET_KEY"]
    policy = check_policy(db.session, page.viewer.platform_id, page.course.id)
    form = ActionForm()
    shown = page.progress.check_best.get(module)
    result = None
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        answers = request.form.to_dict(flat=False)
        if page.preview:
            result = mark_check(questions, answers, secret)
            errors = result.errors
        else:
            outcome = submit_check(
                db.session,
                _recording(page, key),
                page.outline,
                module,
                answers,
                page.progress,
                secret=secret,
                policy=policy,
            )
            attempt_id = outcome.attempt.id if outcome.attempt else None  # before commit expires it
            db.session.commit()
            if outcome.already_passed:
                flash("You already passed this check; your first pass counts.", "success")
                return redirect(url_for("courses.check", slug=slug, module=module))
            if outcome.opens_at is not None:
                return redirect(url_for("courses.check", slug=slug, module=module))
            if attempt_id is None:
                result, errors, status = outcome.result, outcome.result.errors, 400
            else:
                return redirect(
                    url_for("courses.check", slug=slug, module=module, attempt=attempt_id)
                )
    attempt_id = request.args.get("attempt", type=int)
    if attempt_id and page.enrolment is not None:
        found = db.session.get(CheckAttempt, attempt_id)
        if found is not None and found.enrolment_id == page.enrolment.id and found.module == module:
            shown = found
    feedback = None
    if result is not None and not errors:
        # Only a trainer's preview is marked here (a learner's attempt is shown after a
        # redirect): staff see everything.
        feedback = CheckFeedback.of(
            questions,
            result.score,
            result.maximum,
            result.passed(page.outline.pass_mark),
            {q.question_id: q.correct for q in result.questions},
            {q.question_id: q.given for q in result.questions},
            reveal=True,
        )
    elif shown is not None and result is None:
        feedback = CheckFeedback.of(
            questions,
            shown.score,
            shown.maximum,
            shown.passed,
            shown.correct,
            shown.answers,
            reveal=page.preview or policy.reveals(shown.passed),
        )
    opens_at = (
        check_opens_at(db.session, page.enrolment, module, policy)
        if page.enrolment is not None and not (feedback and feedback.passed)
        else None
    )
    _, after = page.outline.neighbours(key)
    # After an error the form comes back under the same seal, with the answers as given.
    seal = Seal.from_form(secret, request.form.to_dict(flat=False)) if errors else None
    given = {q.question_id: q.given for q in result.questions} if errors and result else {}
    return page.render(
        "courses/check.html",
        module=spec,
        form=form,
        feedback=feedback,
        errors=errors,
        after=after,
        presented=present_all(questions, secret, seal=seal, given=given),
        opens_at=opens_at,
        final=FINAL,
        policy=policy,
    ), status


@bp.route("/courses/<slug>/check-settings", methods=["GET", "POST"])
@roles_required(*STAFF)
def check_settings(slug: str) -> str | tuple[str, int] | WerkzeugResponse:
    """The trainer's choice, for their LMS, of when this course's checks show the answers and
    how many attempts learners have."""
    viewer = require_viewer()
    course = _course_or_404(slug, viewer)
    form = CheckPolicyForm.of(check_policy(db.session, viewer.platform_id, course.id))
    if request.method == "POST":
        form = CheckPolicyForm()
        if form.validate_on_submit():
            save_check_policy(
                db.session, viewer.platform_id, course.id, form.policy(), viewer.user_id
            )
            db.session.commit()
            flash("Knowledge check settings saved.", "success")
            return redirect(url_for("courses.check_settings", slug=slug))
    status = 400 if form.errors else 200
    return render_template(
        "courses/check_settings.html", viewer=viewer, course=course, form=form
    ), status


@bp.route("/courses/<slug>/exercise", methods=["GET", "POST"])
def exercise(slug: str) -> str | tuple[str, int] | WerkzeugResponse:
    page = _page(slug)
    spec = page.outline.exercise
    kind = exercise_kind(spec["kind"])
    form = ActionForm()
    checked = None
    status = 200
    if request.method == "POST":
        values = {fid: request.form.get(fid, "") for fid in kind.field_ids(spec)}
        if page.preview:
            checked = kind.check(spec, values)
        else:
            checked, submission = submit_exercise(
                db.session, _recording(page, EXERCISE), page.outline, values
            )
            db.session.commit()
            if submission is not None:
                flash(
                    {
                        "passed": "Exercise passed.",
                        "failed": "Not yet: see which answers are off, and try again.",
                        AWAITING_REVIEW: "Sent to your trainer for review.",
                    }[submission.status],
                    "success" if submission.status != "failed" else "error",
                )
                return redirect(url_for("courses.exercise", slug=slug))
            status = 400
    submission = page.progress.exercise
    values = checked.answers if checked else (submission.answers if submission else {})
    return page.render(
        "courses/exercise.html",
        spec=spec,
        kind=kind,
        submission=submission,
        checked=checked,
        values=values,
        form=form,
        stages=EXPERIENCE_STAGES,
        rows=EXPERIENCE_ROWS,
        sentiments=SENTIMENTS,
    ), status


# -- certificates ----------------------------------------------------------------------------


def _logo_data_url() -> str | None:
    path = current_app.config.get("ORGANISATION_LOGO") or ""
    if not path:
        return None
    file = Path(path)
    media = {".svg": "image/svg+xml", ".png": "image/png"}.get(file.suffix.lower())
    if media is None or not file.is_file() or file.stat().st_size > 500_000:
        current_app.logger.warning("ORGANISATION_LOGO %s is not a readable SVG or PNG", path)
        return None
    return f"data:{media};base64,{base64.b64encode(file.read_bytes()).decode()}"


@bp.get("/courses/<slug>/certificate.pdf")
def certificate(slug: str) -> Response:
    viewer, user = _viewer_user()
    course = _course_or_404(slug, viewer)
    result = result_for_user(db.session, user.id, course.id)
    if result is None:
        raise CourseError("The certificate is ready once you finish the course.")
    url = verification_url(result.certificate_code)
    pdf = render_pdf(
        "courses/certificate.html",
        result=result,
        url=url,
        qr=certificate_qr_svg(url),
        organisation=current_app.config["ORGANISATION_NAME"],
        logo=_logo_data_url(),
    )
    filename = f"certificate-{course.slug}.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/certificates/<code>")
def verify(code: str) -> tuple[str, int]:
    """Public: anyone holding the code (printed on the certificate) sees that it is genuine,
    and nothing else about the person."""
    result = result_by_code(db.session, code)
    return render_template(
        "courses/verify.html",
        result=result,
        organisation=current_app.config["ORGANISATION_NAME"],
    ), 200 if result else 404


@bp.get("/courses/assets/<int:version_id>/<path:path>")
def course_asset(version_id: int, path: str) -> Response:
    found = find_asset(db.session, version_id, path)
    if found is None:
        abort(404)
    response = Response(found.data, mimetype=found.media_type)
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.headers["Cache-Control"] = "public, max-age=86400, immutable"
    return response


# -- trainers --------------------------------------------------------------------------------


@bp.post("/courses/import")
@roles_required(*STAFF)
def upload_pack() -> WerkzeugResponse | tuple[str, int]:
    viewer = require_viewer()
    enforce_upload_limit(viewer.platform_id, viewer.user_id)
    form = PackUploadForm()
    if not form.validate_on_submit():
        for message in form.pack.errors or ["The form expired; please try again."]:
            flash(str(message), "error")
        return redirect(url_for("courses.index"))
    upload = form.pack.data
    try:
        pack = load_pack(
            files_from_zip(upload.read(), upload.filename or "upload.zip"),
            origin=upload.filename or "upload.zip",
        )
        outcomes = import_packs(
            db.session,
            [pack],
            source=f"upload by user {viewer.user_id}",
            platform_id=viewer.platform_id,
        )
        db.session.commit()
    except PackInvalid as invalid:
        db.session.rollback()
        refusal = render_template("courses/import_refused.html", viewer=viewer, invalid=invalid)
        return refusal, 400
    except CourseError:
        db.session.rollback()
        raise
    outcome = outcomes[0]
    flash(
        {
            "created": f"Added the course {pack.title} ({pack.version}).",
            "updated": f"Published version {pack.version} of {pack.title}.",
            "unchanged": f"{pack.title} {pack.version} is already published; nothing changed.",
        }[outcome.status],
        "success",
    )
    return redirect(url_for("courses.index"))


@bp.get("/courses/cohort")
@roles_required(*STAFF)
def cohort() -> str:
    viewer = require_viewer()
    courses = catalogue(db.session, viewer.platform_id)
    chosen = course_by_slug(db.session, request.args.get("course", ""), viewer.platform_id) or (
        courses[0] if courses else None
    )
    report = (
        cohort_service.cohort_report(
            db.session, viewer.team_id, chosen, outline_of(db.session, chosen)
        )
        if chosen is not None and viewer.team_id is not None
        else None
    )
    return render_template(
        "courses/cohort.html", viewer=viewer, courses=courses, chosen=chosen, report=report
    )


@bp.get("/courses/cohort.csv")
@roles_required(*STAFF)
def cohort_csv() -> Response:
    viewer = require_viewer()
    chosen = _course_or_404(request.args.get("course", ""), viewer)
    if viewer.team_id is None:
        abort(404)
    report = cohort_service.cohort_report(
        db.session, viewer.team_id, chosen, outline_of(db.session, chosen)
    )
    return csv_response(f"cohort-{chosen.slug}.csv", *cohort_service.report_rows(report))


@bp.get("/courses/reviews")
@roles_required(*STAFF)
def reviews() -> str:
    viewer = require_viewer()
    queue = cohort_service.review_queue(db.session, viewer.deployment_id, viewer.team_id)
    return render_template("courses/reviews.html", viewer=viewer, queue=queue)


def _submission_in_scope(viewer: Viewer, submission_id: int) -> ExerciseSubmission:
    submission = db.session.get(ExerciseSubmission, submission_id)
    if (
        submission is None
        or submission.enrolment.deployment_id != viewer.deployment_id
        or not cohort_service.in_team(db.session, submission.enrolment.user_id, viewer.team_id)
    ):
        abort(404)
    return submission


@bp.route("/courses/reviews/<int:submission_id>", methods=["GET", "POST"])
@roles_required(*STAFF)
def review(submission_id: int) -> str | tuple[str, int] | WerkzeugResponse:
    viewer = require_viewer()
    submission = _submission_in_scope(viewer, submission_id)
    course = submission.enrolment.course
    outline = outline_of(db.session, course)
    rubric = outline.exercise.get("rubric", [])
    form = GradeForm.for_rubric(rubric)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            grader = db.session.get(User, viewer.user_id)
            assert grader is not None
            try:
                grade_submission(
                    db.session,
                    submission,
                    outline,
                    marks={c["id"]: int(form[f"mark_{c['id']}"].data) for c in rubric},
                    comment=form.comment.data or "",
                    grader=grader,
                )
            except CourseError as error:
                db.session.rollback()
                flash(str(error), "error")
                return redirect(url_for("courses.review", submission_id=submission.id))
            db.session.commit()
            flash(f"Graded {submission.enrolment.user.display_name}'s exercise.", "success")
            return redirect(url_for("courses.reviews"))
        status = 400
    return render_template(
        "courses/review.html",
        viewer=viewer,
        submission=submission,
        outline=outline,
        course=course,
        rubric=rubric,
        form=form,
        kind=exercise_kind(outline.exercise["kind"]),
        stages=EXPERIENCE_STAGES,
        rows=EXPERIENCE_ROWS,
    ), status


@bp.route("/courses/completions", methods=["GET", "POST"])
@roles_required(*STAFF)
def completions_upload() -> str | tuple[str, int] | WerkzeugResponse:
    """Training done before or outside the tool, from a file: it counts in the impact
    analysis as the tool's own completions do."""
    viewer = require_viewer()
    form = CompletionsForm()
    report = None
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("courses/completions.html", viewer=viewer, form=form), 400
        enforce_upload_limit(viewer.platform_id, viewer.user_id)
        report = import_completions(
            db.session,
            platform_id=viewer.platform_id,
            data=form.completions.data.read(),
            source=f"upload by user {viewer.user_id}",
            date_format=form.date_format.data or "auto",
            skip_bad=bool(form.skip_bad.data),
        )
        if report.ok:
            db.session.commit()
            flash(f"Done: {report.summary()}.", "success")
            return redirect(url_for("courses.completions_upload"))
        db.session.rollback()
    return render_template(
        "courses/completions.html", viewer=viewer, form=form, report=report
    ), 400 if report else 200
