"""Training impact from roll-ups: a planted effect is recovered by the stacked difference in
differences, and the guardrails say what is missing instead of giving a number."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from insights.analysis import Counts, impact, value

START = date(2026, 1, 1)
TREND = 0.0004  # every team drifts up a little over time


def daily(p_of_day, responses=20, days=150):
    """Deterministic daily counts for a CSAT share that may change with the day."""
    out = {}
    for n in range(days):
        day = START + timedelta(days=n)
        share = p_of_day(day)
        out[day] = Counts(responses, 0, round(share * responses), 0, 0)
    return out


def test_a_planted_effect_of_eight_points_is_recovered():
    rng = np.random.default_rng(3)
    team_days, trained_on, exposure = {}, {}, {}
    for team in range(30):
        base = 0.65 + 0.1 * rng.random()
        if team < 15:
            when = START + timedelta(days=60 + 2 * team)
            trained_on[team] = when
            exposure[team] = 0.8
            team_days[team] = daily(
                lambda d, b=base, w=when: b + TREND * (d - START).days + (0.08 if d >= w else 0)
            )
        else:
            exposure[team] = 0.0
            team_days[team] = daily(lambda d, b=base: b + TREND * (d - START).days)
    result = impact("csat", team_days, trained_on, exposure, window_days=28)
    assert result.did is not None and result.did.trained == 15
    assert result.did.effect == pytest.approx(8.0, abs=0.6)  # rounding of daily counts
    assert result.did.low < 8.0 < result.did.high
    assert result.missing == []
    # Around the median training date, trained teams (80% exposure) changed more.
    assert len(result.exposure_points) == 30 and result.pearson.r > 0.5


def staggered(effect_of, drift_before=0.0, teams=30, days=200):
    """Half the teams train on staggered dates; ``effect_of(days since training)`` is added
    after, and ``drift_before`` a day before training (a pre-trend)."""
    rng = np.random.default_rng(5)
    team_days, trained_on = {}, {}
    for team in range(teams):
        base = 0.65 + 0.1 * rng.random()
        when = START + timedelta(days=60 + 2 * team) if team < teams // 2 else None

        def share(d, b=base, w=when):
            if w is None:
                return b
            since = (d - w).days
            return b + (effect_of(since) if since >= 0 else drift_before * since)

        team_days[team] = daily(share, days=days)
        if when:
            trained_on[team] = when
    return team_days, trained_on


def test_week_by_week_the_effect_is_seen_to_fade_and_the_groups_moved_alike_before():
    team_days, trained_on = staggered(lambda since: 0.08 if since < 28 else 0.0)
    result = impact("csat", team_days, trained_on, {}, window_days=28)
    by_week = {w.week: w for w in result.weeks}
    assert sorted(by_week) == list(range(-6, 12))
    for week in range(4):
        assert by_week[week].effect == pytest.approx(8.0, abs=0.6)
        assert by_week[week].low > 0
    for week in range(6, 12):
        assert by_week[week].effect == pytest.approx(0.0, abs=0.6)
    for week in range(-6, 0):
        assert by_week[week].effect == pytest.approx(0.0, abs=0.6)
    assert result.lasting == "faded"
    assert result.pre_trend is not None and result.pre_trend.parallel
    assert result.pre_trend.teams == 15


def test_a_lasting_effect_is_reported_as_held():
    team_days, trained_on = staggered(lambda since: 0.08)
    result = impact("csat", team_days, trained_on, {}, window_days=28)
    assert result.lasting == "held"


def test_trained_teams_already_rising_before_training_fail_the_pre_trend_check():
    # Trained teams climb half a CSAT point a day for the weeks before training.
    team_days, trained_on = staggered(lambda since: 0.0, drift_before=0.005)
    result = impact("csat", team_days, trained_on, {}, window_days=28)
    assert result.pre_trend is not None and not result.pre_trend.parallel
    assert result.pre_trend.difference == pytest.approx(3.5, abs=0.5)  # points a week


def test_agents_are_compared_from_weekly_roll_ups():
    from insights.analysis import EPOCH, Panel

    rows = []
    monday = START - timedelta(days=START.weekday())
    completed = {}
    for agent in range(40):
        done_week = 10 + agent % 5 if agent < 20 else None
        if done_week is not None:
            completed[agent] = monday + timedelta(weeks=done_week, days=2)
        for week in range(30):
            share = 0.6 + (0.1 if done_week is not None and week >= done_week else 0.0)
            day = (monday + timedelta(weeks=week) - EPOCH).days
            rows.append((agent, day, 10, 40, round(10 * share), 0, 0, 0))
    panel = Panel.from_rows("csat", np.array(rows, np.int64), period_days=7)
    result = impact("csat", panel, completed, {}, window_days=28, minimum=5,
                    correlate=False, unit="agent")  # fmt: skip
    assert result.did is not None and result.did.trained == 20
    assert result.did.effect == pytest.approx(10.0, abs=1e-9)
    assert result.teams[0].trained_on in completed.values()


def test_the_weekly_panel_recovers_the_effect_with_the_training_week_left_out():
    from insights.analysis import Panel

    team_days, trained_on = staggered(lambda since: 0.08)  # trained on any day of a week
    weekly = Panel.from_days("csat", team_days, period_days=7)
    assert weekly.first.weekday() == 0 and weekly.period_days == 7
    result = impact("csat", weekly, trained_on, {}, window_days=28)
    assert result.did is not None and result.did.trained == 15
    assert result.did.effect == pytest.approx(8.0, abs=0.6)
    assert result.did.low < 8.0 < result.did.high
    assert result.lasting == "held"


def test_too_few_teams_says_what_is_missing():
    team_days = {1: daily(lambda d: 0.7), 2: daily(lambda d: 0.7)}
    result = impact("csat", team_days, {1: START + timedelta(days=60)}, {1: 1.0, 2: 0.0})
    assert result.did is None
    assert "At least two trained teams" in result.missing[0]
    assert any("Relating training to change needs at least four teams" in m for m in result.missing)


def test_values_per_metric():
    counts = Counts(responses=100, score_sum=520, top_two_box=81, promoters=50, detractors=20)
    assert value("csat", counts) == 81.0
    assert value("nps", counts) == 30.0
    assert value("ces", counts) == 5.2


def test_training_dates_come_from_completions(app, lti, packs):
    from sqlalchemy import select

    from core.db import db
    from insights.analysis import training_dates
    from people.models import Team
    from tests.courses.flow import as_person, finish_basics, join, start

    done = as_person(app, lti, "learner", "done-1", "Dana Done")
    join(done)
    start(done, "basics")
    finish_basics(done)
    as_person(app, lti, "learner", "not-1", "Nick Not")
    with app.app_context():
        team = db.session.scalar(select(Team))
        dates, exposure = training_dates(db.session, [team.id], ["basics"], share=0.5)
        none_yet, _ = training_dates(db.session, [team.id], ["basics"], share=1.0)
        db.session.remove()
    assert exposure[team.id] == 0.5
    assert dates[team.id] == date.today()
    assert none_yet == {}
