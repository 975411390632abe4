"""Simulated organisations with a known training effect, for checking the impact statistics.

A pure module (NumPy only): no database, no Flask. Each run draws an organisation of teams and
agents, a seasonal trend shared by every team, staggered training dates for some teams, a
planted effect (zero for a no-effect organisation), noise at the team level (persistent
levels and week-to-week shocks that carry over from one week to the next) and at the response
level (agents' own levels and each customer's answer), and returns exactly what the analysis
reads from the database: weekly roll-up rows per team (``insights.effects.Panel.from_rows``)
and each trained team's training date. Thousands of runs take seconds.

Every score is drawn from a mixture: with probability ``q`` a "good" answer, otherwise a "bad"
one, each with a fixed distribution over the scale. Every metric the product shows (CSAT
top-two-box %, mean CSAT, NPS, mean CES) is then a straight line in ``q``, so an effect
planted as a change of ``q`` is a known change of the metric (``true_effect``), with no
approximation: that is what coverage is measured against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from insights.metrics import METRICS, RESPONSES

EPOCH = date(1970, 1, 1)
START = date(2025, 1, 6)  # a Monday: week 0 of every simulated organisation

# Score distributions of a good and a bad answer, by metric (index = score).
SCALES: dict[str, tuple[np.ndarray, np.ndarray]] = {
    # CSAT 1-5: good is 4 or 5, bad 1-3 (so top-two-box share = q exactly).
    "csat": (np.array([0, 0, 0, 0, 0.45, 0.55]), np.array([0, 0.25, 0.3, 0.45, 0, 0])),
    # NPS 0-10: good is a promoter; bad is a passive (7-8) or a detractor (0-6).
    "nps": (
        np.array([0] * 9 + [0.5, 0.5]),
        np.array([0.03, 0.03, 0.04, 0.05, 0.05, 0.1, 0.1, 0.3, 0.3, 0, 0]),
    ),
    # CES 1-7 (higher is easier): good 5-7, bad 1-4.
    "ces": (np.array([0, 0, 0, 0, 0, 0.3, 0.4, 0.3]), np.array([0, 0.1, 0.2, 0.3, 0.4, 0, 0, 0])),
}


@dataclass(frozen=True)
class Organisation:
    """What is drawn. Probabilities are on the scale of ``q``, the chance of a good answer."""

    teams: int = 40
    agents: tuple[int, int] = (8, 20)  # team sizes, drawn uniformly in this range
    weeks: int = 40
    trained_share: float = 0.5  # of teams
    training_weeks: tuple[int, int] = (12, 24)  # training days spread uniformly over these
    effect: float = 0.0  # change of q after training (0.04: +4 CSAT % points)
    fade_after_weeks: int | None = None  # the effect stops this many weeks after training
    base: float = 0.72
    team_sd: float = 0.05  # persistent team level
    team_week_sd: float = 0.025  # a team's week-to-week shock
    team_week_rho: float = 0.5  # how much of last week's shock carries over
    agent_sd: float = 0.06  # persistent agent level
    season: float = 0.03  # amplitude of the shared yearly cycle
    drift: float = 0.0005  # shared trend per week
    common_week_sd: float = 0.01  # shared week-to-week shocks (every team alike)
    responses_per_agent_week: float = 2.5


@dataclass
class Simulated:
    """One drawn organisation, as the analysis reads it."""

    metric: str
    rows: np.ndarray  # (team, Monday as days since 1970-01-01, six roll-up counts)
    trained_on: dict[int, date]
    exposure: dict[int, float]
    true_effect: float  # in the units of ``measure`` (the planted effect, while it lasts)
    measure: str
    team_sizes: dict[int, int] = field(default_factory=dict)


def slope(metric: str, csat_as: str = "top2") -> float:
    """How much the metric moves when q moves by 1. Every figure is numerator / responses with
    a numerator linear in the answers' distribution q·good + (1 - q)·bad (one response in
    all, whatever q): the slope is the numerator of good - bad."""
    good, bad = SCALES[metric]
    definition = METRICS[metric]
    counts = np.array([float(c) for c in definition.tally(good - bad)])[:, None]
    return float(definition.measure(csat_as).numerator(counts)[0])


def true_effect(org: Organisation, metric: str, csat_as: str = "top2") -> float:
    return org.effect * slope(metric, csat_as)


def simulate(
    org: Organisation, metric: str = "csat", seed: int = 0, *, csat_as: str = "top2"
) -> Simulated:
    """Draw one organisation (the same ``seed`` gives the same organisation)."""
    rng = np.random.default_rng(seed)
    good, bad = SCALES[metric]
    sizes = rng.integers(org.agents[0], org.agents[1] + 1, org.teams)
    team_of = np.repeat(np.arange(org.teams), sizes)
    weeks = np.arange(org.weeks)
    shared = (
        org.season * np.sin(2 * np.pi * weeks / 52)
        + org.drift * weeks
        + rng.normal(0, org.common_week_sd, org.weeks)
    )
    shocks = np.empty((org.teams, org.weeks))
    shocks[:, 0] = rng.normal(0, org.team_week_sd, org.teams)
    innovation = org.team_week_sd * np.sqrt(1 - org.team_week_rho**2)
    for w in range(1, org.weeks):
        shocks[:, w] = org.team_week_rho * shocks[:, w - 1] + rng.normal(0, innovation, org.teams)
    trained = rng.permutation(org.teams)[: round(org.trained_share * org.teams)]
    first, last = org.training_weeks
    trained_day = {int(t): int(rng.integers(7 * first, 7 * last)) for t in trained}
    # Effect by team and week: from the week after the training day's week (the training
    # week itself is partly before and partly after, and the analysis leaves it out).
    effect = np.zeros((org.teams, org.weeks))
    for team, day in trained_day.items():
        since = weeks - (day // 7 + 1)
        on = since >= 0
        if org.fade_after_weeks is not None:
            on &= since < org.fade_after_weeks
        effect[team, on] = org.effect
    team_level = org.base + rng.normal(0, org.team_sd, org.teams)
    agent_level = rng.normal(0, org.agent_sd, len(team_of))
    q = (
        team_level[team_of, None]
        + agent_level[:, None]
        + shared[None, :]
        + shocks[team_of]
        + effect[team_of]
    )
    q = np.clip(q, 0.01, 0.99)
    responses = rng.poisson(org.responses_per_agent_week, q.shape)
    # Each agent-week's answers: a multinomial over the scale.
    probabilities = q[..., None] * good + (1 - q[..., None]) * bad
    counts = rng.multinomial(responses, probabilities)  # agents x weeks x scale
    per_team = np.zeros((org.teams, org.weeks, len(good)), np.int64)
    np.add.at(per_team, team_of, counts)
    rows = _rollup_rows(metric, per_team)
    trained_on = {t: START + timedelta(days=d) for t, d in trained_day.items()}
    exposure = {
        t: (float(rng.uniform(0.5, 1.0)) if t in trained_day else 0.0) for t in range(org.teams)
    }
    return Simulated(
        metric,
        rows,
        trained_on,
        exposure,
        true_effect(org, metric, csat_as),
        METRICS[metric].measure(csat_as).key,
        {t: int(s) for t, s in enumerate(sizes)},
    )


def _rollup_rows(metric: str, per_team: np.ndarray) -> np.ndarray:
    """The weekly roll-up rows (as the metric's ``sql_counts`` counts them): team, Monday, the
    six counts in ``FIELDS`` order."""
    teams, weeks, _ = per_team.shape
    counts = METRICS[metric].tally(per_team)
    monday = (START - EPOCH).days + 7 * np.arange(weeks)
    team, week = np.meshgrid(np.arange(teams), np.arange(weeks), indexing="ij")
    table = np.stack([team, monday[week], *counts], axis=-1).reshape(-1, 2 + len(counts))
    return table[table[:, 2 + RESPONSES] > 0].astype(np.int64)
