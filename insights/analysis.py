"""Training impact from the per-team daily roll-ups: each team's training date, before/after
windows of equal length, a stacked difference in differences against teams not (yet) trained
in the same windows, and the correlation between exposure and change across teams.

``impact`` is a plain function over plain values (tested directly); ``load_team_days`` and
``training_dates`` read the database in a fixed number of queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Course, CourseResult
from insights.models import TeamDailyRollup
from insights.stats import Correlation, DiD, correlation, difference_in_differences
from people.models import Membership

MIN_RESPONSES = 10  # per team and window, below which a team's value is too noisy to use


@dataclass(frozen=True)
class Counts:
    responses: int = 0
    score_sum: int = 0
    top_two_box: int = 0
    promoters: int = 0
    detractors: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            *(a + b for a, b in zip(self.__dict__.values(), other.__dict__.values(), strict=True))
        )


def value(metric: str, counts: Counts) -> float:
    """CSAT % (4-5), NPS, or mean CES of a window's counts."""
    if metric == "csat":
        return 100 * counts.top_two_box / counts.responses
    if metric == "nps":
        return 100 * (counts.promoters - counts.detractors) / counts.responses
    return counts.score_sum / counts.responses


@dataclass
class TeamChange:
    team_id: int
    trained_on: date | None
    before: float
    after: float
    exposure: float

    @property
    def change(self) -> float:
        return self.after - self.before


@dataclass
class Impact:
    metric: str
    window_days: int
    did: DiD | None
    pearson: Correlation | None
    spearman: Correlation | None
    teams: list[TeamChange] = field(default_factory=list)
    # (team, exposure, change) behind the correlation: every team with enough responses
    # around the common split date (the median training date).
    exposure_points: list[tuple[int, float, float]] = field(default_factory=list)
    split_on: date | None = None
    missing: list[str] = field(default_factory=list)  # why a number could not be given


def _window(days: Mapping[date, Counts], start: date, end: date) -> Counts:
    total = Counts()
    for day, counts in days.items():
        if start <= day < end:
            total = total + counts
    return total


def impact(
    metric: str,
    team_days: Mapping[int, Mapping[date, Counts]],
    trained_on: Mapping[int, date],
    exposure: Mapping[int, float],
    *,
    window_days: int = 28,
    resamples: int = 2000,
) -> Impact:
    """Stacked difference in differences: for each trained team, its change from the window
    before its training date to the window after, minus the mean change of the teams not
    trained by the end of that after-window, over the same dates."""
    span = timedelta(days=window_days)
    result = Impact(metric, window_days, None, None, None)
    trained_b, trained_a, comparison_b, comparison_a = [], [], [], []
    for team_id, when in sorted(trained_on.items()):
        days = team_days.get(team_id, {})
        before, after = _window(days, when - span, when), _window(days, when, when + span)
        if min(before.responses, after.responses) < MIN_RESPONSES:
            continue
        others = []
        for other_id, other_days in team_days.items():
            other_date = trained_on.get(other_id)
            if other_id == team_id or (other_date is not None and other_date < when + span):
                continue
            b, a = _window(other_days, when - span, when), _window(other_days, when, when + span)
            if min(b.responses, a.responses) >= MIN_RESPONSES:
                others.append((value(metric, b), value(metric, a)))
        if not others:
            continue
        trained_b.append(value(metric, before))
        trained_a.append(value(metric, after))
        comparison_b.append(float(np.mean([o[0] for o in others])))
        comparison_a.append(float(np.mean([o[1] for o in others])))
        result.teams.append(
            TeamChange(
                team_id,
                when,
                value(metric, before),
                value(metric, after),
                exposure.get(team_id, 0.0),
            )
        )
    if len(trained_b) >= 2:
        result.did = difference_in_differences(
            trained_b, trained_a, comparison_b, comparison_a, resamples=resamples
        )
    else:
        result.missing.append(
            f"At least two trained teams with {MIN_RESPONSES}+ responses before and after "
            f"training, and untrained teams to compare with, are needed; found {len(trained_b)}."
        )
    # Exposure against change across every team, around one common date: the median
    # training date (the last window when nobody trained yet).
    last = max((d for days in team_days.values() for d in days), default=None)
    if last is not None:
        dates = sorted(trained_on.values())
        split = dates[len(dates) // 2] if dates else last + timedelta(days=1) - span
        result.split_on = split
        for team_id, days in team_days.items():
            b, a = _window(days, split - span, split), _window(days, split, split + span)
            if min(b.responses, a.responses) >= MIN_RESPONSES:
                change = value(metric, a) - value(metric, b)
                result.exposure_points.append((team_id, exposure.get(team_id, 0.0), change))
        xs = [p[1] for p in result.exposure_points]
        ys = [p[2] for p in result.exposure_points]
        result.pearson = correlation(xs, ys, "pearson")
        result.spearman = correlation(xs, ys, "spearman")
        if result.pearson is None:
            result.missing.append(
                f"Relating training to change needs at least four teams with {MIN_RESPONSES}+ "
                f"responses in the {window_days} days both before and after {split} and different "
                f"shares trained; found {len(xs)} team(s)"
                + (", all with the same share." if len(set(xs)) == 1 and xs else ".")
            )
    return result


# -- reading the database --------------------------------------------------------------------


def load_team_days(
    session: Session, platform_id: int, metric: str, team_ids: Sequence[int] | None = None
) -> dict[int, dict[date, Counts]]:
    query = select(TeamDailyRollup).where(
        TeamDailyRollup.platform_id == platform_id, TeamDailyRollup.metric == metric
    )
    if team_ids is not None:
        query = query.where(TeamDailyRollup.team_id.in_(team_ids))
    team_days: dict[int, dict[date, Counts]] = defaultdict(dict)
    for row in session.scalars(query):
        team_days[row.team_id][row.day] = Counts(
            row.responses, row.score_sum, row.top_two_box, row.promoters, row.detractors
        )
    return team_days


def training_dates(
    session: Session, team_ids: Sequence[int], courses: Sequence[str], share: float = 0.5
) -> tuple[dict[int, date], dict[int, float]]:
    """Per team: the date by which ``share`` of its active members completed one of
    ``courses`` (no date if never), and the share who completed (exposure)."""
    members: dict[int, set[int]] = defaultdict(set)
    for team_id, user_id in session.execute(
        select(Membership.team_id, Membership.user_id).where(
            Membership.team_id.in_(team_ids), Membership.active.is_(True)
        )
    ):
        members[team_id].add(user_id)
    first_completion: dict[int, date] = {}
    users = {u for group in members.values() for u in group}
    for user_id, completed_at in session.execute(
        select(CourseResult.user_id, CourseResult.completed_at)
        .join(Course, Course.id == CourseResult.course_id)
        .where(CourseResult.user_id.in_(users), Course.slug.in_(courses))
        .order_by(CourseResult.completed_at)
    ):
        first_completion.setdefault(user_id, completed_at.date())
    dates, exposure = {}, {}
    for team_id, people in members.items():
        done = sorted(first_completion[u] for u in people if u in first_completion)
        exposure[team_id] = len(done) / len(people) if people else 0.0
        needed = max(1, int(np.ceil(share * len(people))))
        if len(done) >= needed:
            dates[team_id] = done[needed - 1]
    return dates, exposure


@dataclass(frozen=True)
class WeekPoint:
    week: date  # Monday
    value: float
    responses: int


def weekly_series(
    metric: str, days: Mapping[date, Counts], minimum: int = MIN_RESPONSES
) -> list[WeekPoint]:
    """The metric week by week (weeks with fewer than ``minimum`` responses are left out)."""
    weeks: dict[date, Counts] = defaultdict(Counts)
    for day, counts in days.items():
        weeks[day - timedelta(days=day.weekday())] += counts
    return [
        WeekPoint(week, value(metric, counts), counts.responses)
        for week, counts in sorted(weeks.items())
        if counts.responses >= minimum
    ]


def team_trend(session: Session, platform_id: int, team_id: int) -> dict[str, object]:
    """What a manager sees of their team: weekly CSAT and NPS, and the training date."""
    series = {}
    for metric in ("csat", "nps"):
        days = load_team_days(session, platform_id, metric, [team_id]).get(team_id, {})
        points = weekly_series(metric, days)
        if points:
            series[metric] = points
    all_courses = [c.slug for c in session.scalars(select(Course))]
    dates, exposure = training_dates(session, [team_id], all_courses)
    return {
        "series": series,
        "trained_on": dates.get(team_id),
        "exposure": exposure.get(team_id, 0.0),
    }
