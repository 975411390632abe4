"""The survey metrics, each one object: its scale, which answers it counts (top-two-box, NPS's
promoters, passives and detractors, CES's "easy"), how a team's figure and its interval are
computed from the roll-up counts, how it is labelled, and the SQL that counts a group of
survey rows, derived from the same score ranges as the Python. Adding a metric is one more
``Metric`` in ``METRICS``.

A pure module (NumPy; SQLAlchemy only when ``sql_counts`` is called): the importer, the
analysis, the simulator and the pages all read the metric from here.

The roll-ups keep six counts per team and period, in ``FIELDS`` order; arrays of counts keep
them on one axis, indexed by the constants below (never by bare numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from insights.stats import Interval, csat_percent, nps

FIELDS = ("responses", "score_sum", "top_two_box", "promoters", "passives", "detractors")
RESPONSES, SCORE_SUM, TOP_TWO_BOX, PROMOTERS, PASSIVES, DETRACTORS = range(len(FIELDS))
UNCOUNTED = len(FIELDS)  # where the importer's tally puts a score no class of its metric counts


@dataclass(frozen=True)
class Measure:
    """One way a metric's figure is computed and shown: ``numerator(sums) / responses``, where
    ``sums`` holds the counts on its second-to-last axis (``sums[..., field, :]``)."""

    key: str  # csat, csat_mean, nps, ces: names CSV files and the JSON summary
    label: str  # what the figure is, e.g. "top-two-box % (4s and 5s)"
    unit: str  # what a difference of one is, e.g. "CSAT % points"
    numerator: Callable[[np.ndarray], np.ndarray]
    # A team's figure with its 95% interval from its counts, for the per-team table; None
    # for a mean score (the table shows the mean instead).
    interval: Callable[[Sequence[int]], Interval | None] | None = None
    heading: str = ""  # the per-team table's column for the interval

    @property
    def mean_like(self) -> bool:
        return self.interval is None

    def value(self, counts: Sequence[int]) -> float:
        """The figure of one set of counts (in ``FIELDS`` order)."""
        sums = np.asarray(counts, np.int64)[:, None]
        return float(self.numerator(sums)[0] / sums[RESPONSES, 0])


def _share(field: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda sums: 100.0 * sums[..., field, :]


def _net(plus: int, minus: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda sums: 100.0 * (sums[..., plus, :] - sums[..., minus, :])


def _mean(sums: np.ndarray) -> np.ndarray:
    return sums[..., SCORE_SUM, :].astype(float)


@dataclass(frozen=True)
class Metric:
    key: str  # as stored in the survey rows and roll-ups, and in URLs
    name: str  # as shown: "CSAT"
    low: int
    high: int
    good: range  # what counts as a good answer
    # The roll-up fields the metric counts, each with the scores it counts. The ranges do
    # not overlap: a score adds to at most one of them (the importer's tally relies on it).
    classes: Mapping[int, range]
    shown: Measure  # the figure by default
    as_mean: Measure | None = None  # the figure when shown as the mean score, if it may be
    breakdown: tuple[int, ...] = ()  # fields shown per team as shares of the responses
    breakdown_heading: str = ""

    @property
    def scores(self) -> range:
        return range(self.low, self.high + 1)

    @property
    def scale(self) -> str:
        """What a score must be, for the importer's messages."""
        return f"{self.name} scores are whole numbers {self.low}-{self.high}"

    def measure(self, shown_as: str = "top2") -> Measure:
        """The figure: ``shown_as="mean"`` asks for the mean score where the metric offers it."""
        return self.as_mean if shown_as == "mean" and self.as_mean is not None else self.shown

    def counts(self, field: int) -> bool:
        return field in self.classes

    def slots(self) -> dict[int, int]:
        """Per score, the one field it adds to (``UNCOUNTED`` when none)."""
        slot = dict.fromkeys(self.scores, UNCOUNTED)
        for field, scores in self.classes.items():
            for score in scores:
                slot[score] = field
        return slot

    def tally(self, per_score: np.ndarray) -> list[np.ndarray]:
        """The six counts from counts per score (the last axis: index = score, from 0)."""
        scores = np.arange(per_score.shape[-1])
        zero = np.zeros(per_score.shape[:-1], per_score.dtype)
        return [
            per_score.sum(axis=-1),
            per_score @ scores,
            *(
                per_score[..., self.classes[f].start : self.classes[f].stop].sum(axis=-1)
                if f in self.classes
                else zero
                for f in range(TOP_TWO_BOX, len(FIELDS))
            ),
        ]

    def sql_counts(self, score: Any) -> list:
        """The six counts of a group of survey rows, as SQL over the ``score`` column."""
        from sqlalchemy import case, func, literal

        def within(scores: range) -> Any:
            first, last = scores.start, scores.stop - 1
            if last >= self.high:
                return score >= first
            if first <= self.low:
                return score <= last
            return score.between(first, last)

        return [
            func.count(),
            func.sum(score),
            *(
                func.sum(case((within(self.classes[f]), 1), else_=0))
                if f in self.classes
                else literal(0)
                for f in range(TOP_TWO_BOX, len(FIELDS))
            ),
        ]


CSAT_TOP_TWO = range(4, 6)
NPS_PROMOTERS, NPS_PASSIVES, NPS_DETRACTORS = range(9, 11), range(7, 9), range(0, 7)
CES_EASY = range(5, 8)  # 7-point scale, higher is easier

CSAT = Metric(
    "csat",
    "CSAT",
    1,
    5,
    good=CSAT_TOP_TWO,
    classes={TOP_TWO_BOX: CSAT_TOP_TWO},
    shown=Measure(
        "csat",
        "top-two-box % (4s and 5s)",
        "CSAT % points",
        _share(TOP_TWO_BOX),
        interval=lambda c: csat_percent(c[TOP_TWO_BOX], c[RESPONSES]),
        heading="CSAT % (95% CI)",
    ),
    as_mean=Measure("csat_mean", "mean score (1-5)", "CSAT points (mean score, 1-5)", _mean),
)
NPS = Metric(
    "nps",
    "NPS",
    0,
    10,
    good=NPS_PROMOTERS,
    classes={PROMOTERS: NPS_PROMOTERS, PASSIVES: NPS_PASSIVES, DETRACTORS: NPS_DETRACTORS},
    shown=Measure(
        "nps",
        "promoters % minus detractors %",
        "NPS points",
        _net(PROMOTERS, DETRACTORS),
        interval=lambda c: nps(c[PROMOTERS], c[DETRACTORS], c[RESPONSES]),
        heading="NPS (95% CI)",
    ),
    breakdown=(PROMOTERS, PASSIVES, DETRACTORS),
    breakdown_heading="Promoters / passives / detractors",
)
# CES counts nothing in the roll-ups (its figure is the mean score): "easy" is what a good
# answer is (the simulator draws good answers from it), not a stored count.
CES = Metric(
    "ces",
    "CES",
    1,
    7,
    good=CES_EASY,
    classes={},
    shown=Measure("ces", "mean score (1-7)", "CES points", _mean),
)

METRICS: dict[str, Metric] = {m.key: m for m in (CSAT, NPS, CES)}
