"""The metric registry: the importer's tally, the SQL roll-up and the simulator's counts come
from the same score ranges, and each metric's figure is what the page has always shown."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select

from insights.effects import Counts, value
from insights.importer import _TeamDays
from insights.metrics import FIELDS, METRICS, RESPONSES, SCORE_SUM


@pytest.mark.parametrize("key", sorted(METRICS))
def test_the_tally_the_sql_and_the_array_counts_agree_for_every_score(key):
    metric = METRICS[key]
    scores = [s for s in metric.scores for _ in range(1 + s % 3)]
    days = _TeamDays(metric)
    for score in scores:
        days.add(1, "2026-11-02", score)
    [(_, _, *tallied)] = list(days.days())

    rows = Table("rows", MetaData(), Column("score", Integer))
    engine = create_engine("sqlite://")
    rows.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(rows), [{"score": s} for s in scores])
        counted = list(connection.execute(select(*metric.sql_counts(rows.c.score))).one())

    per_score = np.bincount(scores, minlength=metric.high + 1)
    arrays = [int(a) for a in metric.tally(per_score)]
    assert tallied == counted == arrays
    assert len(tallied) == len(FIELDS)
    assert tallied[RESPONSES] == len(scores) and tallied[SCORE_SUM] == sum(scores)
    for field, ranged in metric.classes.items():
        assert tallied[field] == sum(1 for s in scores if s in ranged)


def test_each_metric_counts_and_shows_what_it_always_did():
    csat, nps, ces = METRICS["csat"], METRICS["nps"], METRICS["ces"]
    assert [s for s in csat.scores if csat.slots()[s] != len(FIELDS)] == [4, 5]
    assert csat.scale == "CSAT scores are whole numbers 1-5"
    assert (nps.low, nps.high, ces.low, ces.high) == (0, 10, 1, 7)
    counts = Counts(responses=10, score_sum=37, top_two_box=6, promoters=5, detractors=2)
    assert value("csat", counts) == 60.0 and value("csat", counts, "mean") == 3.7
    assert value("nps", counts) == 30.0 and value("ces", counts) == 3.7
    units = [csat.measure().unit, csat.measure("mean").unit, nps.measure().unit]
    assert units == ["CSAT % points", "CSAT points (mean score, 1-5)", "NPS points"]
    assert nps.measure("mean") is nps.shown  # only CSAT may be shown as its mean
    assert ces.shown.mean_like and not ces.classes and list(ces.good) == [5, 6, 7]


@pytest.mark.parametrize("key", sorted(METRICS))
def test_the_simulators_good_answers_are_what_the_metric_counts_as_good(key):
    from insights.simulate import SCALES

    good, bad = SCALES[key]
    metric = METRICS[key]
    assert set(np.flatnonzero(good)) <= set(metric.good)
    assert not set(np.flatnonzero(bad)) & set(metric.good)
    assert set(np.flatnonzero(good + bad)) <= set(metric.scores)
