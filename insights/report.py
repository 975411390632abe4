"""The training-impact report: what the page, the PDF and the CSV exports show, built from one
query (metric, window, courses, trained share, and optional ROI inputs)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.numbers import NumberFormatError, format_plain, parse_number
from courses.models import Course
from courses.services import catalogue
from insights.agents import (
    AgentComparison,
    agents_key,
    data_stamp,
    imported_responses,
    kept_comparison,
)
from insights.analysis import (
    MIN_AGENT_RESPONSES,
    Impact,
    TeamSummary,
    first_completions,
    impact,
    load_panel,
    measure_of,
    outside_trainings,
    team_summaries,
    training_dates,
)
from insights.metrics import CSAT, METRICS, Measure, Metric
from insights.stats import ROI, fit_line, phillips_roi
from people.models import Team, User

WINDOWS = (14, 28, 56)
SHARES = (0, 25, 50, 75, 100)  # 0: the day its first person completed
RAMPS = (0, 7, 14, 28)  # days after training left out of the after-window
CSAT_AS = {"top2": CSAT.measure("top2").label, "mean": CSAT.measure("mean").label}
AMOUNTS = ("cost", "value_per_point")  # the ROI inputs a trainer types


@dataclass(frozen=True)
class ReportQuery:
    metric: str = "csat"
    window: int = 28
    courses: tuple[str, ...] = ()  # none chosen: every course counts
    share: int = 50
    csat_as: str = "top2"  # CSAT as the top-two-box % or the mean score (``CSAT_AS``)
    ramp: int = 0  # days after training left out of the after-window
    cost: float | None = None  # what the training cost
    value_per_point: float | None = None  # what one point of the metric is worth
    agents: bool = False  # also compare agents (reads the survey rows, not the roll-ups)
    # The ROI amounts as typed, how each was read and why one was refused: the page shows them
    # next to their fields, so "1,5" is seen to be 1.5 and "1e309" is not dropped in silence.
    typed: Mapping[str, str] = field(default_factory=dict, compare=False)
    readings: Mapping[str, str] = field(default_factory=dict, compare=False)
    problems: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> ReportQuery:
        """From a query string (a ``MultiDict`` for the chosen courses, or any mapping);
        anything out of range falls back to the default."""
        get = args.get
        metric = get("metric") if get("metric") in METRICS else "csat"
        window = _number(get("window"), int)
        share = _number(get("share"), int)
        ramp = _number(get("ramp"), int)
        chosen = tuple(args.getlist("course")) if hasattr(args, "getlist") else ()
        typed: dict[str, str] = {}
        readings: dict[str, str] = {}
        problems: dict[str, str] = {}
        amounts: dict[str, float] = {}
        for name in AMOUNTS:
            raw = get(name)
            if raw is None or not str(raw).strip():
                continue
            typed[name] = str(raw)
            try:
                parsed = parse_number(str(raw), allow_percent=False)
            except NumberFormatError as refused:
                problems[name] = str(refused)
                continue
            if parsed.value <= 0:
                problems[name] = f"Enter an amount above zero ({parsed.reading})."
                continue
            amounts[name], readings[name] = parsed.value, parsed.reading
        return cls(
            metric=metric,
            window=window if window in WINDOWS else 28,
            courses=chosen,
            share=share if share in SHARES else 50,
            csat_as=get("csat_as") if get("csat_as") in CSAT_AS else "top2",
            ramp=ramp if ramp in RAMPS else 0,
            cost=amounts.get("cost"),
            value_per_point=amounts.get("value_per_point"),
            agents=get("agents") in ("1", "on", "true"),
            typed=typed,
            readings=readings,
            problems=problems,
        )

    def as_args(self) -> dict[str, object]:
        args: dict[str, object] = {
            "metric": self.metric,
            "window": self.window,
            "share": self.share,
            "course": list(self.courses),
        }
        if self.csat_as != "top2":
            args["csat_as"] = self.csat_as
        if self.ramp:
            args["ramp"] = self.ramp
        # Written out in full: %g gave "1.23457e+06", losing digits and, as an exponent,
        # refused when the link or the PDF job reads it back.
        if self.cost:
            args["cost"] = format_plain(self.cost)
        if self.value_per_point:
            args["value_per_point"] = format_plain(self.value_per_point)
        if self.agents:
            args["agents"] = "1"
        return args


def _number(raw: object, kind: type) -> float | int | None:
    """A value chosen from a select (window, share); a typed amount goes through parse_number."""
    try:
        return kind(str(raw).strip()) if raw not in (None, "") else None
    except ValueError:
        return None


@dataclass
class Report:
    query: ReportQuery
    courses: list[Course]
    chosen: list[str]
    result: Impact
    agents: Impact | None
    summaries: list[TeamSummary]
    names: dict[int, str]  # team names
    line: tuple[float, float] | None
    roi: ROI | None
    agent_names: dict[int, str] = field(default_factory=dict)
    generated: datetime = field(default_factory=utcnow)
    # Asked for agents on data too large to compare while the page waits, with none kept:
    # the worker is to compare them (``insights.agents``); ``agents_key`` names the query.
    agents_waiting: bool = False
    agents_key: dict[str, object] = field(default_factory=dict)
    agents_job_id: int | None = None
    # Outside trainings brought in from files, (key, name): they may count as training too.
    outside: list[tuple[str, str]] = field(default_factory=list)

    @property
    def metric(self) -> Metric:
        return METRICS[self.query.metric]

    @property
    def shown(self) -> Measure:
        """The figure shown: CSAT as the top-two-box % or the mean score, NPS, mean CES."""
        return self.metric.measure(self.query.csat_as)

    @property
    def measure(self) -> str:
        """csat (top-two-box %), csat_mean, nps or ces."""
        return measure_of(self.query.metric, self.query.csat_as)

    @property
    def unit(self) -> str:
        return self.shown.unit

    @property
    def agent_minimum(self) -> int:
        return MIN_AGENT_RESPONSES

    @property
    def teams_with_data(self) -> int:
        return len(self.summaries)


def build_report(
    session: Session,
    platform_id: int,
    query: ReportQuery,
    *,
    agents: bool | None = None,
    deployment_id: int | None = None,
    inline_up_to: int | None = None,
) -> Report:
    """The report for ``query``; the agents' comparison when the query (or ``agents``) asks.
    People see only their own deployment's teams (``deployment_id``). Agents: the comparison a
    worker kept for these data if there is one; else computed here, except that with
    ``inline_up_to`` (the page) agents on more imported responses than that are left to the
    worker and the report says it is ``agents_waiting``."""
    agents = query.agents if agents is None else agents
    courses = catalogue(session, platform_id)
    outside = outside_trainings(session, platform_id)
    chosen = _chosen(courses, outside, query)
    panel = load_panel(session, platform_id, query.metric, deployment_id=deployment_id)
    dates, exposure = training_dates(session, panel.units, chosen, query.share / 100)
    result = impact(
        query.metric,
        panel,
        dates,
        exposure,
        window_days=query.window,
        csat_as=query.csat_as,
        ramp_days=query.ramp,
    )
    names = dict(session.execute(select(Team.id, Team.title).where(Team.id.in_(panel.units))).all())
    points = [(p.exposure, p.change) for p in result.exposure_points]
    line = (
        fit_line(*zip(*points, strict=True)) if len(points) >= 2 and len(set(points)) > 1 else None
    )
    roi = None
    if result.did and query.cost and query.value_per_point:
        roi = phillips_roi(result.did, query.value_per_point, query.cost)
    compared, waiting = AgentComparison(None), False
    key = agents_key(query.as_args(), chosen, deployment_id)
    if agents:
        # A comparison the worker kept for these data is the same one, already computed.
        stamp = data_stamp(session, platform_id, query.metric, chosen, deployment_id)
        kept = kept_comparison(session, platform_id, key, stamp)
        if kept is not None:
            compared = kept
        elif inline_up_to is not None and (
            imported_responses(session, platform_id, query.metric) > inline_up_to
        ):
            waiting = True
        else:
            compared = compare_agents(session, platform_id, query, chosen, deployment_id)
    return Report(
        query,
        courses,
        chosen,
        result,
        compared.result,
        team_summaries(panel),
        names,
        line,
        roi,
        compared.names,
        outside=outside,
        agents_waiting=waiting,
        agents_key=key,
    )


def chosen_courses(session: Session, platform_id: int, query: ReportQuery) -> list[str]:
    """The courses and outside trainings that count as training: those the query names that
    exist, or else all of them."""
    return _chosen(catalogue(session, platform_id), outside_trainings(session, platform_id), query)


def _chosen(courses: list[Course], outside: list[tuple[str, str]], query: ReportQuery) -> list[str]:
    known = {course.slug for course in courses} | {key for key, _ in outside}
    chosen = [c for c in query.courses if c in known]
    return chosen or [c.slug for c in courses] + [key for key, _ in outside]


def compare_agents(
    session: Session,
    platform_id: int,
    query: ReportQuery,
    chosen: list[str],
    deployment_id: int | None = None,
) -> AgentComparison:
    """Each agent who completed one of ``chosen`` against agents who had not by then, from
    the survey rows that name agents (every row is read: seconds at millions of rows)."""
    agent_panel = load_panel(
        session, platform_id, query.metric, agents=True, deployment_id=deployment_id
    )
    if not agent_panel.units:
        return AgentComparison(None)
    completed = first_completions(session, chosen)
    result = impact(
        query.metric,
        agent_panel,
        {a: completed[a] for a in agent_panel.units if a in completed},
        {},
        window_days=query.window,
        minimum=MIN_AGENT_RESPONSES,
        correlate=False,
        unit="agent",
        csat_as=query.csat_as,
        ramp_days=query.ramp,
    )
    names = dict(
        session.execute(
            select(User.id, User.name).where(User.id.in_([t.team_id for t in result.teams]))
        ).all()
    )
    return AgentComparison(result, names)


def _f(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def impact_summary(report: Report) -> dict[str, object]:
    """The headline numbers, as ``flask insights impact --json`` prints them and the summary
    CSV lists them. The estimate and its interval are null when the data are too few, with
    the reason in ``refused``."""
    query, result, did = report.query, report.result, report.result.did
    durability = result.durability
    weeks = [
        {"week": w.week, "effect": w.effect, "ci_low": w.low, "ci_high": w.high, "teams": w.teams}
        for w in result.weeks
    ]
    return {
        "metric": query.metric,
        "measure": report.measure,
        "unit": report.unit,
        "window_days": query.window,
        "share": query.share,
        "ramp_up_days": query.ramp,
        "courses": report.chosen,
        "estimate": did.effect if did else None,
        "ci_low": did.low if did else None,
        "ci_high": did.high if did else None,
        "se": did.se if did else None,
        "df": did.df if did else None,
        "interval_method": "delete-one-team jackknife (CV3), t(G-1)",
        "trained_change": did.trained_change if did else None,
        "comparison_change": did.comparison_change if did else None,
        "trained_teams": did.trained if did else len(result.teams),
        "comparison_teams": did.comparison if did else result.comparison_teams,
        "pre_trend_p": result.pre_trend.p_value if result.pre_trend else None,
        "pre_trend_parallel": result.pre_trend.parallel if result.pre_trend else None,
        "durability": durability.verdict,
        "durability_reason": durability.reason,
        "refused": None if did else (result.missing[0] if result.missing else "No data."),
        "missing": list(result.missing),
        "weeks": weeks,
    }


CsvTable = tuple[list[str], list[list[object]]]  # header, rows
Column = tuple[str, Callable[[Any], object]]  # heading, the cell of one item


def _table(columns: Sequence[Column], items: Iterable[object]) -> CsvTable:
    return [heading for heading, _ in columns], [[cell(i) for _, cell in columns] for i in items]


# A trained team's (or agent's) windows before and after training, in both tables of them.
BEFORE_AND_AFTER: list[Column] = [
    ("responses before", lambda t: t.before_n),
    ("before", lambda t: _f(t.before)),
    ("responses after", lambda t: t.after_n),
    ("after", lambda t: _f(t.after)),
    ("change", lambda t: _f(t.change)),
]


def report_tables(report: Report) -> dict[str, CsvTable]:
    """Every table of the report, as CSV-ready header and rows."""
    names, agent_names = report.names, report.agent_names
    mean_like = report.shown.mean_like

    def team(item: Any) -> object:
        return names.get(item.team_id, item.team_id)

    def figure(s: TeamSummary) -> str:
        return _f(s.value.value if s.value else (s.mean if mean_like else None))

    breakdown: list[Column] = [
        (heading, lambda s, i=i: _f((s.shares or (None, None, None))[i], 4))
        for i, heading in enumerate(("promoters", "passives", "detractors"))
    ]
    summary = [(k, v) for k, v in impact_summary(report).items() if k not in ("weeks", "missing")]
    tables = {
        "summary": _table(
            [("measure", lambda kv: kv[0]), ("value", lambda kv: "" if kv[1] is None else kv[1])],
            summary,
        ),
        "teams": _table(
            [
                ("team", team),
                ("responses", lambda s: s.responses),
                ("mean score", lambda s: _f(s.mean, 3)),
                (report.measure, figure),
                ("95% low", lambda s: _f(s.value.low if s.value else None)),
                ("95% high", lambda s: _f(s.value.high if s.value else None)),
                *breakdown,
            ],
            report.summaries,
        ),
        "changes": _table(
            [
                ("team", team),
                ("trained on", lambda t: t.trained_on),
                ("share trained", lambda t: _f(t.exposure, 3)),
                *BEFORE_AND_AFTER,
                ("comparison teams", lambda t: t.comparison_teams),
                ("comparison before", lambda t: _f(t.comparison_before)),
                ("comparison after", lambda t: _f(t.comparison_after)),
            ],
            report.result.teams,
        ),
        "weeks": _table(
            [
                ("weeks from training", lambda w: w.week),
                ("effect", lambda w: _f(w.effect)),
                ("95% low", lambda w: _f(w.low)),
                ("95% high", lambda w: _f(w.high)),
                ("teams", lambda w: w.teams),
            ],
            report.result.weeks,
        ),
        "exposure": _table(
            [
                ("team", team),
                ("share trained", lambda p: _f(p.exposure, 3)),
                ("change", lambda p: _f(p.change)),
            ],
            report.result.exposure_points,
        ),
    }
    if report.agents is not None:
        tables["agents"] = _table(
            [
                ("agent", lambda t: agent_names.get(t.team_id, t.team_id)),
                ("completed on", lambda t: t.trained_on),
                *BEFORE_AND_AFTER,
                ("comparison change", lambda t: _f(t.comparison_after - t.comparison_before)),
            ],
            report.agents.teams,
        )
    return tables
