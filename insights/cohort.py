"""The cohort across one LMS, for trainers: who joined, started and completed; how course and
assessment scores are spread; and each team's skill profile from graded conversations."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assessments.models import Assessment, Grade
from courses.models import CourseResult, Enrolment
from people.models import Membership, Team, User

BIN_WIDTH = 10  # score bins of ten percentage points


@dataclass(frozen=True)
class Distribution:
    bins: list[int]  # counts for 0-10, 10-20, …, 90-100 (100 in the last bin)
    n: int
    mean: float | None

    @classmethod
    def of(cls, scores: list[float]) -> Distribution:
        bins = [0] * (100 // BIN_WIDTH)
        for score in scores:
            bins[min(int(score // BIN_WIDTH), len(bins) - 1)] += 1
        return cls(bins, len(scores), sum(scores) / len(scores) if scores else None)


@dataclass
class TeamSkills:
    team_id: int
    name: str
    levels: dict[str, tuple[float, int]] = field(default_factory=dict)  # skill: (mean, grades)


@dataclass
class CohortOverview:
    funnel: list[tuple[str, int]]
    course_scores: Distribution
    assessment_scores: Distribution
    skills: list[str]
    teams: list[TeamSkills]


def cohort_overview(session: Session, deployment_id: int) -> CohortOverview:
    """The programme's funnel, scores and skills for the people of one deployment."""
    opted_in = session.scalar(
        select(func.count(func.distinct(User.id)))
        .join(Membership, Membership.user_id == User.id)
        .join(Team, Team.id == Membership.team_id)
        .where(Team.deployment_id == deployment_id, User.opted_in_at.is_not(None))
    )
    started = session.scalar(
        select(func.count(func.distinct(Enrolment.user_id))).where(
            Enrolment.deployment_id == deployment_id
        )
    )
    completed = session.scalar(
        select(func.count(func.distinct(CourseResult.user_id)))
        .join(Enrolment, Enrolment.id == CourseResult.enrolment_id)
        .where(Enrolment.deployment_id == deployment_id)
    )
    course_scores = list(
        session.scalars(
            select(CourseResult.score_percent)
            .join(Enrolment, Enrolment.id == CourseResult.enrolment_id)
            .where(Enrolment.deployment_id == deployment_id)
        )
    )
    grades = session.execute(
        select(Assessment.team_id, Grade.levels, Grade.score_percent)
        .join(Grade, Grade.assessment_id == Assessment.id)
        .where(Assessment.deployment_id == deployment_id, Grade.final.is_(True))
    ).all()
    sums: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    skills: list[str] = []
    for team_id, levels, _ in grades:
        for skill, level in (levels or {}).items():
            if skill not in skills:
                skills.append(skill)
            if team_id is not None:
                sums[team_id][skill].append(int(level))
    names = dict(session.execute(select(Team.id, Team.title).where(Team.id.in_(sums))).all())
    teams = [
        TeamSkills(
            team_id,
            names.get(team_id, str(team_id)),
            {s: (sum(v) / len(v), len(v)) for s, v in by_skill.items()},
        )
        for team_id, by_skill in sorted(sums.items(), key=lambda kv: names.get(kv[0], ""))
    ]
    return CohortOverview(
        funnel=[
            ("Joined the programme", opted_in or 0),
            ("Started a course", started or 0),
            ("Completed a course", completed or 0),
        ],
        course_scores=Distribution.of([float(s) for s in course_scores]),
        assessment_scores=Distribution.of([float(score) for _, _, score in grades]),
        skills=skills,
        teams=teams,
    )


def overview_tables(overview: CohortOverview) -> dict[str, tuple[list[str], list[list[object]]]]:
    bins = [f"{low}-{low + BIN_WIDTH}%" for low in range(0, 100, BIN_WIDTH)]
    scores = zip(bins, overview.course_scores.bins, overview.assessment_scores.bins, strict=True)
    skill_rows = [
        [
            t.name,
            *(f"{t.levels[s][0]:.2f}" if s in t.levels else "" for s in overview.skills),
            max((n for _, n in t.levels.values()), default=0),
        ]
        for t in overview.teams
    ]
    return {
        "funnel": (["stage", "people"], [list(step) for step in overview.funnel]),
        "scores": (["score", "course results", "graded assessments"], [list(r) for r in scores]),
        "skills": (["team", *(f"{s} (mean level)" for s in overview.skills), "grades"], skill_rows),
    }
