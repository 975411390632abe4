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
    result = impact(
        "csat", panel, completed, {}, window_days=28, minimum=5, correlate=False, unit="agent"
    )
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


def weekly_rows(changes, trained_week, weeks=20, responses=100, base=0.7):
    """Weekly CSAT rows for teams whose top-two-box share moves by ``changes[team]`` from the
    week after ``trained_week[team]`` (None: a team that never trains; it changes from week 9)."""
    from insights.analysis import EPOCH

    monday = START - timedelta(days=START.weekday())
    rows = []
    for team, change in enumerate(changes):
        from_week = (trained_week[team] + 1) if trained_week[team] is not None else 9
        for week in range(weeks):
            share = base + (change if week >= from_week else 0.0)
            day = (monday + timedelta(weeks=week) - EPOCH).days
            rows.append((team, day, responses, 4 * responses, round(share * responses), 0, 0, 0))
    dates = {
        t: monday + timedelta(weeks=w, days=2) for t, w in enumerate(trained_week) if w is not None
    }
    return np.array(rows, np.int64), dates


def test_the_comparison_field_counts_comparison_teams_and_their_spread_is_in_the_interval():
    """One training date, three trained teams that all rose 5 points, six comparison teams that
    moved differently. The old bootstrap resampled the trained rows and one repeated comparison
    mean per row, saw no spread at all (an interval of zero width) and called the trained count
    the comparison count."""
    from insights.analysis import Panel

    changes = [0.05, 0.05, 0.05, 0.02, -0.03, 0.0, 0.04, -0.01, 0.01]
    rows, dates = weekly_rows(changes, [8, 8, 8, None, None, None, None, None, None])
    panel = Panel.from_rows("csat", rows, period_days=7)
    result = impact("csat", panel, dates, {}, window_days=28, correlate=False)
    assert result.did.trained == 3 and result.did.comparison == 6
    comparison = np.array(changes[3:]) * 100
    assert result.did.effect == pytest.approx(5 - comparison.mean(), abs=1e-9)
    assert result.did.high - result.did.low > 1.0


def test_a_ramp_up_is_left_out_of_the_after_window():
    """The effect builds up: nothing in the first two weeks after training, +8 points after.
    With a 14-day ramp-up the after-window starts when it is over."""
    team_days, trained_on = staggered(lambda since: 0.08 if since >= 14 else 0.0)
    plain = impact("csat", team_days, trained_on, {}, window_days=28)
    ramped = impact("csat", team_days, trained_on, {}, window_days=28, ramp_days=14)
    assert plain.did.effect == pytest.approx(4.0, abs=0.6)  # half the window ramping up
    assert ramped.did.effect == pytest.approx(8.0, abs=0.6)
    assert ramped.ramp_days == 14
    first = {t.team_id: t for t in plain.teams}
    assert all(t.after > first[t.team_id].after for t in ramped.teams)


def test_csat_as_a_mean_score():
    counts = Counts(responses=4, score_sum=17, top_two_box=3)
    assert value("csat", counts) == 75.0
    assert value("csat", counts, csat_as="mean") == 4.25
    # Every answer moves from 3 to 5 after training: top-two-box +100 points, mean +2.
    from insights.analysis import EPOCH, Panel

    monday = START - timedelta(days=START.weekday())
    rows = []
    for team in range(8):
        for week in range(20):
            after = team < 4 and week >= 10
            day = (monday + timedelta(weeks=week) - EPOCH).days
            rows.append((team, day, 20, 100 if after else 60, 20 if after else 0, 0, 0, 0))
    panel = Panel.from_rows("csat", np.array(rows, np.int64), period_days=7)
    dates = {t: monday + timedelta(weeks=9, days=2) for t in range(4)}
    top2 = impact("csat", panel, dates, {}, correlate=False)
    mean = impact("csat", panel, dates, {}, correlate=False, csat_as="mean")
    assert top2.did.effect == pytest.approx(100.0)
    assert mean.did.effect == pytest.approx(2.0) and mean.csat_as == "mean"


def test_without_an_early_effect_durability_is_unclear_and_says_why():
    team_days, trained_on = staggered(lambda since: 0.0)
    result = impact("csat", team_days, trained_on, {}, window_days=28)
    assert result.lasting == "unclear"
    assert result.durability.reason.startswith("The early effect is not distinguishable from zero")
    assert result.durability.early is not None and result.durability.early.excludes_zero is False


def _share_reached_day_by_day(stays, completed, share):
    """The day-by-day search ``training_dates`` made before it counted over arrays (kept
    verbatim as the reference): stays are (user, joined, left) with None for no date."""
    trained_from = {
        (user, joined, left): max(completed[user], joined or completed[user])
        for user, joined, left in stays
        if user in completed and (left is None or completed[user] < left)
    }
    for day in sorted(set(trained_from.values())):
        members = [
            s for s in stays if (s[1] is None or s[1] <= day) and (s[2] is None or day < s[2])
        ]
        trained = sum(1 for s in members if s in trained_from and trained_from[s] <= day)
        needed = max(1, int(np.ceil(share * len(members))))
        if members and trained >= needed:
            return day
    return None


@pytest.mark.parametrize("share", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_training_days_over_arrays_give_the_dates_of_the_day_by_day_search(share):
    """Teams whose people joined, left (some before they completed, some recorded as leaving
    before they joined) and completed on random days, and course-context teams with no
    dates: the same training day and exposure as the search that looked at one day at a
    time."""
    from insights.analysis import FROM_THE_START, NEVER, training_days

    rng = np.random.default_rng(7)
    rows, expected_days, expected_exposure = [], {}, {}
    for team in range(300):
        dated = team % 3 != 0
        people = int(rng.integers(1, 12))
        stays, completed, current = [], {}, []
        for person in range(people):
            user = 1000 * team + person
            joined = int(rng.integers(0, 60)) if dated and rng.random() < 0.7 else None
            active = not dated or rng.random() < 0.7
            left = None if active else int(rng.integers(0, 90))
            if rng.random() < 0.6:
                completed[user] = int(rng.integers(0, 90))
            stays.append((user, joined, left))
            if active:
                current.append(user)
            rows.append(
                (
                    team,
                    int(active),
                    FROM_THE_START if joined is None else joined,
                    NEVER if left is None else left,
                    completed.get(user, NEVER),
                )
            )
        day = _share_reached_day_by_day(stays, completed, share)
        if day is not None:
            expected_days[team] = day
        expected_exposure[team] = (
            sum(u in completed for u in current) / len(current) if current else 0.0
        )
    days, exposure = training_days(np.array(rows, np.int64), share)
    assert days == expected_days
    assert exposure == expected_exposure
    assert len(days) > 50  # the comparison covers many teams that reached the share
