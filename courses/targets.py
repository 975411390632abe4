"""Courses and their modules as LMS activities: what the deep-linking picker offers, and where
a launch of such an activity lands."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from core.db import db
from courses.models import CourseResult
from courses.services import (
    catalogue,
    course_by_slug,
    course_completed,
    outline_of,
    result_for_user,
)
from lms import catch_up
from lms.catch_up import HeldResult
from lms.targets import LaunchTarget
from people.models import User

PREFIX = "course:"
SCORE_MAXIMUM = 100.0

# The module of the skills course that teaches each service skill the assessments score
# (``core.teaching``): what a practice suggestion links to.
SKILLS_COURSE = "skills-of-great-service"
SKILL_MODULES = {
    "empathy": "empathy",
    "active_listening": "active-listening",
    "patience": "patience",
    "positive_language": "positive-language",
    "adaptability": "adaptability",
}


def module_target(course: str, module: str) -> str:
    """The launch target of one module of a course."""
    return f"{PREFIX}{course}/{module}"


class CourseTargets:
    def targets(self, platform_id: int) -> Iterable[LaunchTarget]:
        for course in catalogue(db.session, platform_id):
            yield LaunchTarget(
                f"{PREFIX}{course.slug}",
                "courses.course",
                course.title,
                course.summary,
                kind="Course",
                score_maximum=SCORE_MAXIMUM,
                view_args=(("slug", course.slug),),
            )
            for module in outline_of(db.session, course).modules:
                yield LaunchTarget(
                    module_target(course.slug, module["slug"]),
                    "courses.module",
                    f"{course.title}: {module['title']}",
                    module.get("summary") or f"One module of {course.title}.",
                    kind="Course module",
                    view_args=(("slug", course.slug), ("module", module["slug"])),
                )

    def find(self, name: str) -> LaunchTarget | None:
        if not name.startswith(PREFIX):
            return None
        slug, _, module = name[len(PREFIX) :].partition("/")
        if module:
            return LaunchTarget(
                name,
                "courses.module",
                name,
                kind="Course module",
                view_args=(("slug", slug), ("module", module)),
            )
        return LaunchTarget(
            name, "courses.course", name, kind="Course", view_args=(("slug", slug),)
        )

    def held_result(
        self, session: Session, user_id: int, platform_id: int, target: str
    ) -> HeldResult | None:
        """The person's completion of the course a target opens (the course or one of its
        modules: the course's grade is the activity's, as ``courses.views`` sends it)."""
        if not target.startswith(PREFIX):
            return None
        course = course_by_slug(session, target[len(PREFIX) :].partition("/")[0], platform_id)
        result = result_for_user(session, user_id, course.id) if course is not None else None
        return held(result) if result is not None else None


def held(result: CourseResult) -> HeldResult:
    """A completion as its gradebook score: the score and comment the completion sends."""
    return HeldResult(
        key=f"course-result:{result.id}",
        score_given=result.score_percent,
        score_maximum=SCORE_MAXIMUM,
        comment=f"Completed {result.course_title} (version {result.version}).",
    )


@course_completed.connect
def _to_every_activity(session: Session, *, result: CourseResult) -> None:
    """The completion's score goes to every graded activity of the person's courses that
    opens this course, not only the one they finished it in (connected on import, which
    ``courses.init_app`` does)."""
    user = session.get(User, result.user_id)
    course = result.course
    if user is not None and course is not None:
        catch_up.everywhere(session, user, f"{PREFIX}{course.slug}", held(result))
