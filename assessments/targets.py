"""Scenarios as LMS activities: offered by the deep-linking picker, graded out of 100."""

from __future__ import annotations

from collections.abc import Iterable

from assessments.library import scenarios
from assessments.quizzes import quizzes
from lms.targets import LaunchTarget

PREFIX = "scenario:"
QUIZ = "quiz:"


class ScenarioTargets:
    def targets(self, platform_id: int) -> Iterable[LaunchTarget]:
        for s in scenarios().values():
            yield LaunchTarget(
                f"{PREFIX}{s.id}", "assessments.scenario", f"Scenario: {s.title}",
                s.customer, kind="Assessment", score_maximum=100.0,
                view_args=(("scenario_id", s.id),),
            )  # fmt: skip

        for q in quizzes().values():
            yield LaunchTarget(
                f"{QUIZ}{q['id']}", "assessments.quiz", f"Quiz: {q['title']}", q["description"],
                kind="Assessment", score_maximum=100.0, view_args=(("quiz_id", q["id"]),),
            )  # fmt: skip

    def find(self, name: str) -> LaunchTarget | None:
        if name.startswith(QUIZ):
            return LaunchTarget(name, "assessments.quiz", name, kind="Assessment",
                                view_args=(("quiz_id", name[len(QUIZ):]),))  # fmt: skip
        if not name.startswith(PREFIX):
            return None
        return LaunchTarget(name, "assessments.scenario", name, kind="Assessment",
                            view_args=(("scenario_id", name[len(PREFIX):]),))  # fmt: skip
