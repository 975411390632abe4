"""Where a learner's records belong: their LMS, and the deployment and course context they
launched from. An assessment (a scenario taken, a transcript uploaded) and a quiz attempt are
stamped alike, so every page that filters by tenant and course context finds them."""

from __future__ import annotations

from typing import TypedDict

from people.models import User


class LearnerColumns(TypedDict):
    platform_id: int
    deployment_id: int
    team_id: int | None
    learner_id: int


def learner_columns(learner: User, deployment_id: int, team_id: int | None) -> LearnerColumns:
    """The columns that place a new record of ``learner`` (keyword arguments of its model)."""
    return LearnerColumns(
        platform_id=learner.platform_id,
        deployment_id=deployment_id,
        team_id=team_id,
        learner_id=learner.id,
    )
