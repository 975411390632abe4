"""Training impact from roll-ups: a planted effect is recovered by the stacked difference in
differences, and the guardrails say what is missing instead of giving a number."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from insights.analysis import Counts, impact, value

START = date(2026, 1, 1)
TREND = 0.0004  # every team drifts up a little over time


def daily(p_of_day, responses=20):
    """Deterministic daily counts for a CSAT share that may change with the day."""
    out = {}
    for n in range(150):
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
    result = impact("csat", team_days, trained_on, exposure, window_days=28, resamples=500)
    assert result.did is not None and result.did.trained == 15
    assert result.did.effect == pytest.approx(8.0, abs=0.6)  # rounding of daily counts
    assert result.did.low < 8.0 < result.did.high
    assert result.missing == []
    # Around the median training date, trained teams (80% exposure) changed more.
    assert len(result.exposure_points) == 30 and result.pearson.r > 0.5


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
