"""The course logic: importing packs, enrolment (opt-in only), progress, checks, exercises,
completion and certificates. Plain functions over a session; views only parse and render.

Every function that changes a learner's progress locks their enrolment row first, so two
tabs or two workers submitting at once cannot complete a course twice or count a check twice.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from blinker import Namespace
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, make_transient_to_detached

from core.cache import forget_when_changed, process_cache
from core.db import utcnow
from core.questions import Form
from courses.checks import (
    DEFAULT_POLICY,
    CheckPolicy,
    CheckResult,
    Reveal,
    mark_check,
    next_attempt_at,
)
from courses.exercises import Checked, exercise_kind
from courses.models import (
    CheckAttempt,
    CheckPolicySetting,
    Course,
    CourseAsset,
    CourseResult,
    CourseVersion,
    Enrolment,
    ExerciseSubmission,
    ItemProgress,
)
from courses.pack import Pack
from lms.grades import FULLY_GRADED, PENDING_MANUAL, enqueue_score, gradebook_available
from people.models import User

signals = Namespace()
# Sent after a completion is written (same transaction, before commit): badges listen here.
course_completed = signals.signal("course-completed")
# Sent after packs are stored (same transaction): e.g. badges for new courses are made.
courses_imported = signals.signal("courses-imported")

EXERCISE = "exercise"
PASSED, FAILED, AWAITING_REVIEW, RETURNED = "passed", "failed", "awaiting_review", "returned"


class CourseError(ValueError):
    """A request the rules refuse; the message is safe to show."""


# -- the catalogue ---------------------------------------------------------------------------


@dataclass
class ImportOutcome:
    slug: str
    version: str
    status: str  # created | updated | unchanged


def import_packs(
    session: Session, packs: Iterable[Pack], source: str, *, platform_id: int | None = None
) -> list[ImportOutcome]:
    """Store validated packs: as built-in courses shared by every LMS (``platform_id`` None,
    the operator's ``flask courses import``), or as one LMS's own courses (a trainer's
    upload). An LMS may add versions only to its own courses: a pack with a built-in course's
    slug is refused, and another LMS's course of the same slug is a different course.

    Either every pack is stored or, on a ``CourseError``, none is: the caller commits or rolls
    back once."""
    outcomes = []
    for pack in packs:
        course = _course_to_import_into(session, pack, platform_id)
        existing = (
            session.scalar(
                select(CourseVersion).where(
                    CourseVersion.course_id == course.id, CourseVersion.version == pack.version
                )
            )
            if course
            else None
        )
        if existing is not None:
            if existing.content_hash != pack.content_hash:
                raise CourseError(
                    f"{pack.origin}: the content of {pack.slug} changed but its version is still "
                    f"{pack.version}. Bump `version` in course.yaml to publish the change."
                )
            outcomes.append(ImportOutcome(pack.slug, pack.version, "unchanged"))
            continue
        status = "updated"
        if course is None:
            course = Course(
                slug=pack.slug, title=pack.title, version=pack.version, platform_id=platform_id
            )
            session.add(course)
            status = "created"
        course.title = pack.title
        course.summary = pack.document["summary"]
        course.sort_order = int(pack.document["order"])
        course.version = pack.version
        course.updated_at = utcnow()
        session.flush()
        version = CourseVersion(
            course_id=course.id,
            version=pack.version,
            content_hash=pack.content_hash,
            document=pack.document,
            source=source[:255],
        )
        session.add(version)
        session.flush()
        session.add_all(
            CourseAsset(version_id=version.id, path=path, media_type=media, data=data)
            for path, (media, data) in pack.assets.items()
        )
        outcomes.append(ImportOutcome(pack.slug, pack.version, status))
    session.flush()
    courses_imported.send(session, outcomes=outcomes)
    return outcomes


def _course_to_import_into(session: Session, pack: Pack, platform_id: int | None) -> Course | None:
    """The course a pack adds a version to (None: a new course); refuses a built-in's slug
    from an LMS."""
    built_in = session.scalar(
        select(Course).where(Course.slug == pack.slug, Course.platform_id.is_(None))
    )
    if platform_id is None:
        return built_in
    if built_in is not None:
        raise CourseError(
            f"{pack.origin}: “{pack.slug}” is the slug of the built-in course "
            f"“{built_in.title}”, which every LMS shares and only the tool's operator updates. "
            "Give your course a slug of its own in course.yaml to add it for your LMS."
        )
    return session.scalar(
        select(Course).where(Course.slug == pack.slug, Course.platform_id == platform_id)
    )


def visible_to(platform_id: int | None) -> ColumnElement[bool]:
    """The courses an LMS's people see: the built-in ones and that LMS's own."""
    built_in = Course.platform_id.is_(None)
    return built_in if platform_id is None else or_(built_in, Course.platform_id == platform_id)


def catalogue(session: Session, platform_id: int | None) -> list[Course]:
    """The courses of one LMS's catalogue (``None``: the built-in courses only)."""
    return list(
        session.scalars(
            select(Course).where(visible_to(platform_id)).order_by(Course.sort_order, Course.title)
        )
    )


def my_courses(
    session: Session, user_id: int, platform_id: int
) -> list[tuple[Course, Progress | None]]:
    """The person's LMS's catalogue with their progress in each course they started."""
    enrolments = {
        e.course_id: e
        for e in session.scalars(select(Enrolment).where(Enrolment.user_id == user_id))
    }
    rows = []
    for course in catalogue(session, platform_id):
        enrolment = enrolments.get(course.id)
        progress = (
            progress_of(session, enrolment, outline_of(session, course)) if enrolment else None
        )
        rows.append((course, progress))
    return rows


forget_when_changed(Course)


def course_by_slug(session: Session, slug: str, platform_id: int | None) -> Course | None:
    """A course of one LMS's catalogue by its slug (another LMS's course of that slug is not
    found). Courses change only when a pack is imported, and every course page reads one, so
    each process keeps the row's values for a while (``core.cache``): an import applies at once
    in its own process, and within ``LTI_REGISTRY_CACHE_SECONDS`` in the others."""
    cache = process_cache()
    key = ("course", platform_id, slug)
    known = cache.get(key)
    if known is not None:
        course = Course(**known)
        make_transient_to_detached(course)
        return session.merge(course, load=False)  # the row as known, without reading it
    course = session.scalar(
        select(Course)
        .where(Course.slug == slug, visible_to(platform_id))
        # Should an operator later import a built-in with a slug an LMS already uses, that
        # LMS's people keep their own course.
        .order_by(Course.platform_id.is_(None))
        .limit(1)
    )
    if course is not None:
        columns = Course.__mapper__.column_attrs
        cache.put(key, {c.key: getattr(course, c.key) for c in columns})
    return course


def outline_of(session: Session, course: Course) -> Outline:
    """The current version's outline. Versions never change once imported, so the parsed
    outline is kept per process by version id."""
    cached = _outline_cache.get((course.id, course.version))
    if cached is not None:
        return cached
    version = session.scalar(
        select(CourseVersion).where(
            CourseVersion.course_id == course.id, CourseVersion.version == course.version
        )
    )
    if version is None:
        raise CourseError(f"The course {course.slug} has no content.")
    outline = Outline(version.document, version_id=version.id)
    if len(_outline_cache) > 256:
        _outline_cache.clear()
    _outline_cache[(course.id, course.version)] = outline
    return outline


_outline_cache: dict[tuple[int, str], Outline] = {}


@dataclass(frozen=True)
class Item:
    key: str  # module/lesson, module/example, module/check, exercise
    kind: str  # lesson | example | check | exercise
    title: str
    module: str  # module slug ("" for the exercise)


class Outline:
    """A course version's document, with its items in reading order."""

    def __init__(self, document: dict[str, Any], version_id: int = 0) -> None:
        self.document = document
        self.version_id = version_id
        self.version: str = document["version"]
        self.pass_mark: float = float(document["pass_mark"])
        self.modules: list[dict[str, Any]] = document["modules"]
        self.exercise: dict[str, Any] = document["exercise"]
        self.items: list[Item] = []
        for module in self.modules:
            for lesson in module["lessons"]:
                self.items.append(
                    Item(
                        f"{module['slug']}/{lesson['slug']}",
                        "lesson",
                        lesson["title"],
                        module["slug"],
                    )
                )
            self.items.append(
                Item(
                    f"{module['slug']}/example",
                    "example",
                    module["example"]["title"],
                    module["slug"],
                )
            )
            self.items.append(
                Item(f"{module['slug']}/check", "check", "Knowledge check", module["slug"])
            )
        self.items.append(Item(EXERCISE, "exercise", self.exercise["title"], ""))
        self._by_key = {item.key: item for item in self.items}
        self._modules = {module["slug"]: module for module in self.modules}

    def item(self, key: str) -> Item | None:
        return self._by_key.get(key)

    def module(self, slug: str) -> dict[str, Any] | None:
        return self._modules.get(slug)

    def lesson(self, module_slug: str, lesson_slug: str) -> dict[str, Any] | None:
        module = self.module(module_slug)
        if module is None:
            return None
        if lesson_slug == "example":
            return module["example"]
        return next((ls for ls in module["lessons"] if ls["slug"] == lesson_slug), None)

    def neighbours(self, key: str) -> tuple[Item | None, Item | None]:
        index = next(i for i, item in enumerate(self.items) if item.key == key)
        before = self.items[index - 1] if index > 0 else None
        after = self.items[index + 1] if index + 1 < len(self.items) else None
        return before, after

    def module_items(self, slug: str) -> list[Item]:
        return [item for item in self.items if item.module == slug]


# -- progress --------------------------------------------------------------------------------


@dataclass
class Progress:
    outline: Outline
    done: set[str] = field(default_factory=set)
    check_best: dict[str, CheckAttempt] = field(default_factory=dict)
    exercise: ExerciseSubmission | None = None
    result: CourseResult | None = None
    last_item: str = ""

    @property
    def percent(self) -> int:
        return round(100 * len(self.done) / len(self.outline.items)) if self.outline.items else 0

    def module_percent(self, slug: str) -> int:
        items = self.outline.module_items(slug)
        return round(100 * sum(i.key in self.done for i in items) / len(items)) if items else 0

    @property
    def completed(self) -> bool:
        return self.result is not None

    def state(self, key: str) -> str:
        """done | awaiting_review | returned | failed | todo, for showing an item."""
        if key in self.done:
            return "done"
        if key == EXERCISE and self.exercise is not None:
            return self.exercise.status
        return "todo"

    def next_item(self) -> Item | None:
        """Where "Continue" goes: the first unfinished item after the last one opened,
        else the first unfinished one."""
        items = self.outline.items
        start = next((i for i, item in enumerate(items) if item.key == self.last_item), 0)
        for item in items[start:] + items[:start]:
            if item.key not in self.done and self.state(item.key) != AWAITING_REVIEW:
                return item
        return None


def find_enrolment(
    session: Session, user_id: int, course_id: int, *, lock: bool = False
) -> Enrolment | None:
    """``lock``: hold the enrolment's row until the transaction ends, as every change to its
    progress does (``_locked``), so progress read after it stays true while the change is made."""
    query = select(Enrolment).where(Enrolment.user_id == user_id, Enrolment.course_id == course_id)
    return session.scalar(query.with_for_update() if lock else query)


def progress_of(session: Session, enrolment: Enrolment | None, outline: Outline) -> Progress:
    progress = Progress(outline=outline)
    if enrolment is None:
        return progress
    progress.last_item = enrolment.last_item
    progress.done = set(
        session.scalars(select(ItemProgress.item).where(ItemProgress.enrolment_id == enrolment.id))
    )
    for attempt in session.scalars(
        select(CheckAttempt)
        .where(CheckAttempt.enrolment_id == enrolment.id)
        .order_by(CheckAttempt.id)
    ):
        best = progress.check_best.get(attempt.module)
        if best is None or (attempt.passed, attempt.percent) > (best.passed, best.percent):
            progress.check_best[attempt.module] = attempt
        if attempt.passed:
            progress.done.add(f"{attempt.module}/check")
    progress.exercise = session.scalar(
        select(ExerciseSubmission)
        .where(ExerciseSubmission.enrolment_id == enrolment.id)
        .order_by(ExerciseSubmission.id.desc())
        .limit(1)
    )
    if progress.exercise is not None and progress.exercise.status == PASSED:
        progress.done.add(EXERCISE)
    # A completion writes the result and ``completed_at`` in one transaction.
    if enrolment.completed_at is not None:
        progress.result = session.scalar(
            select(CourseResult).where(CourseResult.enrolment_id == enrolment.id)
        )
    # Items a newer version no longer has do not count.
    progress.done &= {item.key for item in outline.items}
    return progress


def start_course(
    session: Session,
    user: User,
    course: Course,
    *,
    deployment_id: int,
    team_id: int | None,
    resource_link_id: int | None,
) -> Enrolment:
    """Enrol a learner who joined the programme, at their own request. Idempotent."""
    if user.opted_in_at is None:
        raise CourseError("Join the programme before starting a course.")
    enrolment = find_enrolment(session, user.id, course.id)
    if enrolment is None:
        enrolment = Enrolment(
            user_id=user.id,
            course_id=course.id,
            platform_id=user.platform_id,
            deployment_id=deployment_id,
            team_id=team_id,
            resource_link_id=resource_link_id,
        )
        session.add(enrolment)
        session.flush()
    else:
        note_launch(enrolment, team_id, resource_link_id)
    return enrolment


def note_launch(enrolment: Enrolment, team_id: int | None, resource_link_id: int | None) -> None:
    """Remember the LMS activity the learner came through, so the grade goes there."""
    if resource_link_id is not None and enrolment.resource_link_id != resource_link_id:
        enrolment.resource_link_id = resource_link_id
    if team_id is not None and enrolment.team_id != team_id:
        enrolment.team_id = team_id


def _locked(session: Session, enrolment: Enrolment) -> Enrolment:
    locked = session.scalar(
        select(Enrolment)
        .where(Enrolment.id == enrolment.id)
        .with_for_update()
        .execution_options(populate_existing=True)  # as it is now, not as first read
    )
    assert locked is not None
    return locked


def _require_active(enrolment: Enrolment) -> None:
    if enrolment.user.opted_in_at is None:
        raise CourseError(
            "You left the programme, so progress is not recorded. Join again "
            "to continue where you left off."
        )


def mark_done(session: Session, enrolment: Enrolment, outline: Outline, key: str) -> None:
    """Record that the learner finished reading a lesson or worked example."""
    item = outline.item(key)
    if item is None or item.kind not in ("lesson", "example"):
        raise CourseError("There is no such lesson in this course.")
    _require_active(enrolment)
    enrolment = _locked(session, enrolment)
    exists = session.scalar(
        select(ItemProgress.id).where(
            ItemProgress.enrolment_id == enrolment.id, ItemProgress.item == key
        )
    )
    if exists is None:
        session.add(ItemProgress(enrolment_id=enrolment.id, item=key))
    enrolment.last_activity_at = utcnow()
    session.flush()


def note_opened(enrolment: Enrolment, key: str) -> None:
    """Remember the item the learner is on, for "Continue"."""
    if enrolment.last_item != key:
        enrolment.last_item = key


@dataclass
class CheckOutcome:
    result: CheckResult
    attempt: CheckAttempt | None
    already_passed: bool = False
    # Set when the trainer's attempt limit refuses this attempt: when the next one opens.
    opens_at: datetime | None = None


def check_policy(session: Session, platform_id: int, course_id: int) -> CheckPolicy:
    """The policy one LMS's trainers chose for a course's checks, or the default."""
    row = session.scalar(
        select(CheckPolicySetting).where(
            CheckPolicySetting.platform_id == platform_id,
            CheckPolicySetting.course_id == course_id,
        )
    )
    if row is None:
        return DEFAULT_POLICY
    return CheckPolicy(
        reveal=Reveal(row.reveal),
        max_attempts=row.max_attempts,
        wait=timedelta(minutes=row.wait_minutes) if row.wait_minutes else None,
    )


def save_check_policy(
    session: Session, platform_id: int, course_id: int, policy: CheckPolicy, by_user_id: int | None
) -> None:
    row = session.scalar(
        select(CheckPolicySetting).where(
            CheckPolicySetting.platform_id == platform_id,
            CheckPolicySetting.course_id == course_id,
        )
    )
    if row is None:
        row = CheckPolicySetting(platform_id=platform_id, course_id=course_id)
        session.add(row)
    row.reveal = policy.reveal.value
    row.max_attempts = policy.max_attempts
    row.wait_minutes = int(policy.wait.total_seconds() // 60) if policy.wait else None
    row.updated_by_id = by_user_id
    session.flush()


def check_opens_at(
    session: Session, enrolment: Enrolment, module_slug: str, policy: CheckPolicy
) -> datetime | None:
    """When the learner may next attempt this check under ``policy`` (None: now), from the
    times of their recorded attempts (every version of the course counts)."""
    if policy.max_attempts is None:
        return None
    times = session.scalars(
        select(CheckAttempt.submitted_at).where(
            CheckAttempt.enrolment_id == enrolment.id, CheckAttempt.module == module_slug
        )
    ).all()
    return next_attempt_at(policy, times, utcnow())


def submit_check(
    session: Session,
    enrolment: Enrolment,
    outline: Outline,
    module_slug: str,
    form: Form,
    progress: Progress | None = None,
    *,
    secret: str | bytes,
    policy: CheckPolicy = DEFAULT_POLICY,
) -> CheckOutcome:
    """Mark a knowledge check and record the attempt. A check already passed is not marked
    again: its first passing attempt stands. ``form``: the whole submitted form, read under
    the seal its page was rendered with (``secret``: the server's). ``policy``: the trainer's
    attempt limit, checked against the recorded attempts. ``progress``: the enrolment's
    progress, read after its row was locked (``find_enrolment(lock=True)``), which saves
    reading it again."""
    module = outline.module(module_slug)
    if module is None:
        raise CourseError("There is no such module in this course.")
    _require_active(enrolment)
    if progress is None:
        enrolment = _locked(session, enrolment)
        progress = progress_of(session, enrolment, outline)
    questions = module["check"]["questions"]
    best = progress.check_best.get(module_slug)
    passed = best if best is not None and best.passed else None
    if passed is not None:
        return CheckOutcome(result=CheckResult([]), attempt=passed, already_passed=True)
    # Counted after the enrolment row is locked, so two tabs cannot both take the last attempt.
    opens_at = check_opens_at(session, enrolment, module_slug, policy)
    if opens_at is not None:
        return CheckOutcome(result=CheckResult([]), attempt=None, opens_at=opens_at)
    result = mark_check(questions, form, secret)
    if result.errors:
        return CheckOutcome(result=result, attempt=None)
    attempt = CheckAttempt(
        enrolment_id=enrolment.id,
        module=module_slug,
        version=outline.version,
        answers={q.question_id: q.given for q in result.questions},
        correct={q.question_id: q.correct for q in result.questions},
        score=result.score,
        maximum=result.maximum,
        passed=result.passed(outline.pass_mark),
    )
    session.add(attempt)
    enrolment.last_activity_at = utcnow()
    session.flush()
    if attempt.passed:
        progress.check_best[module_slug] = attempt
        progress.done.add(f"{module_slug}/check")
        complete_if_finished(session, enrolment, outline, progress)
    return CheckOutcome(result=result, attempt=attempt)


def submit_exercise(
    session: Session, enrolment: Enrolment, outline: Outline, form: dict[str, str]
) -> tuple[Checked, ExerciseSubmission | None]:
    """Check the final exercise. Automatic kinds pass or fail at once; the others wait for a
    trainer, and the LMS hears "PendingManual" meanwhile."""
    _require_active(enrolment)
    enrolment = _locked(session, enrolment)
    latest = session.scalar(
        select(ExerciseSubmission)
        .where(ExerciseSubmission.enrolment_id == enrolment.id)
        .order_by(ExerciseSubmission.id.desc())
        .limit(1)
    )
    if latest is not None and latest.status in (PASSED, AWAITING_REVIEW):
        raise CourseError(
            "Your exercise has already passed."
            if latest.status == PASSED
            else "Your exercise is waiting for a trainer; you can change it once it is returned."
        )
    spec = outline.exercise
    checked = exercise_kind(spec["kind"]).check(spec, form)
    if not checked.valid:
        return checked, None
    if checked.needs_review:
        status, score, maximum = AWAITING_REVIEW, None, None
    else:
        maximum = checked.maximum
        score = checked.score
        status = PASSED if 100 * score / maximum + 1e-9 >= spec["pass_mark"] else FAILED
    submission = ExerciseSubmission(
        enrolment_id=enrolment.id,
        version=outline.version,
        answers=checked.answers,
        status=status,
        score=score,
        maximum=maximum,
        marks=checked.feedback,
    )
    session.add(submission)
    enrolment.last_activity_at = utcnow()
    session.flush()
    if status == AWAITING_REVIEW:
        _send_grade(session, enrolment, outline, pending=True)
    elif status == PASSED:
        complete_if_finished(session, enrolment, outline)
    return checked, submission


def grade_submission(
    session: Session,
    submission: ExerciseSubmission,
    outline: Outline,
    *,
    marks: dict[str, int],
    comment: str,
    grader: User,
) -> ExerciseSubmission:
    """A trainer grades a submission waiting for review: passed if the rubric total reaches
    the pass mark, otherwise returned to the learner to improve."""
    enrolment = _locked(session, submission.enrolment)
    session.refresh(submission)
    if submission.status != AWAITING_REVIEW:
        raise CourseError("This submission was already graded.")
    if grader.id == enrolment.user_id:
        raise CourseError("You cannot grade your own work.")
    rubric = outline.exercise.get("rubric", [])
    clean: dict[str, int] = {}
    for criterion in rubric:
        value = marks.get(criterion["id"])
        if value is None or not 0 <= value <= criterion["points"]:
            raise CourseError(f"Give {criterion['label']!r} between 0 and {criterion['points']}.")
        clean[criterion["id"]] = value
    submission.marks = clean
    submission.score = float(sum(clean.values()))
    submission.maximum = float(sum(c["points"] for c in rubric))
    submission.comment = comment.strip()[:4000]
    submission.graded_by_id = grader.id
    submission.graded_at = utcnow()
    percent = submission.percent or 0.0
    submission.status = PASSED if percent + 1e-9 >= outline.exercise["pass_mark"] else RETURNED
    session.flush()
    if submission.status == PASSED:
        complete_if_finished(session, enrolment, outline)
    else:
        _send_grade(session, enrolment, outline, pending=False, returned=True)
    return submission


def course_score(progress: Progress) -> float:
    """The course score in percent: the mean of the best knowledge-check results and the
    exercise, each counting once."""
    parts = [
        progress.check_best[m["slug"]].percent
        for m in progress.outline.modules
        if m["slug"] in progress.check_best
    ]
    if progress.exercise is not None and progress.exercise.percent is not None:
        parts.append(progress.exercise.percent)
    return round(sum(parts) / (len(progress.outline.modules) + 1), 1) if parts else 0.0


def complete_if_finished(
    session: Session, enrolment: Enrolment, outline: Outline, progress: Progress | None = None
) -> CourseResult | None:
    """Write the completion once every check and the exercise passed: the result, the grade
    for the LMS (same transaction) and the signal badges listen to. ``progress``: as it is
    now, read under the enrolment's lock, when the caller has it."""
    if progress is None:
        progress = progress_of(session, enrolment, outline)
    if progress.result is not None:
        return progress.result
    required = [f"{m['slug']}/check" for m in outline.modules] + [EXERCISE]
    if not all(key in progress.done for key in required):
        return None
    now = utcnow()
    result = CourseResult(
        enrolment_id=enrolment.id,
        user_id=enrolment.user_id,
        course_id=enrolment.course_id,
        version=outline.version,
        score_percent=course_score(progress),
        completed_at=now,
        certificate_code=secrets.token_urlsafe(12),
        learner_name=enrolment.user.display_name,
        course_title=outline.document["title"],
    )
    session.add(result)
    enrolment.completed_at = now
    session.flush()
    _send_grade(session, enrolment, outline, pending=False, result=result)
    course_completed.send(session, result=result)
    return result


def _send_grade(
    session: Session,
    enrolment: Enrolment,
    outline: Outline,
    *,
    pending: bool,
    returned: bool = False,
    result: CourseResult | None = None,
) -> None:
    link = enrolment.resource_link_id
    if link is None or not gradebook_available(session, link):
        return
    if result is not None:
        score, activity, grading = result.score_percent, "Completed", FULLY_GRADED
        comment = f"Completed {outline.document['title']} (version {outline.version})."
    elif pending:
        score, activity, grading = 0.0, "Submitted", PENDING_MANUAL
        comment = "Exercise submitted; waiting for a trainer to grade it."
    elif returned:
        progress = progress_of(session, enrolment, outline)
        score, activity, grading = course_score(progress), "InProgress", FULLY_GRADED
        comment = "Exercise returned by the trainer for improvement."
    else:
        return
    enqueue_score(
        session,
        user_id=enrolment.user_id,
        resource_link_id=enrolment.resource_link_id,
        score_given=score,
        score_maximum=100.0,
        activity_progress=activity,
        grading_progress=grading,
        comment=comment,
    )


# -- certificates ----------------------------------------------------------------------------


def result_for_user(session: Session, user_id: int, course_id: int) -> CourseResult | None:
    return session.scalar(
        select(CourseResult).where(
            CourseResult.user_id == user_id, CourseResult.course_id == course_id
        )
    )


def result_by_code(session: Session, code: str) -> CourseResult | None:
    if not code or len(code) > 32:
        return None
    return session.scalar(select(CourseResult).where(CourseResult.certificate_code == code))


def asset(session: Session, version_id: int, path: str) -> CourseAsset | None:
    return session.scalar(
        select(CourseAsset).where(CourseAsset.version_id == version_id, CourseAsset.path == path)
    )
