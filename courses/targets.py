"""Courses and their modules as LMS activities: what the deep-linking picker offers, and where
a launch of such an activity lands."""

from __future__ import annotations

from collections.abc import Iterable

from core.db import db
from courses.services import catalogue, outline_of
from lms.targets import LaunchTarget

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
