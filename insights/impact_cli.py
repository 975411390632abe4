"""``flask insights impact``: the training-impact report of the page, in a terminal or as JSON,
so it can be scripted (the same ``build_report`` as the page, the CSVs and the PDF)."""

from __future__ import annotations

import json
import math

import click
from flask.cli import with_appcontext

from core.db import db
from courses.services import catalogue
from insights.metrics import METRICS
from insights.report import (
    CSAT_AS,
    Report,
    ReportQuery,
    build_report,
    impact_summary,
    report_tables,
)
from lms.models import Platform


@click.command("impact")
@click.option("--platform-id", type=int, required=True, help="The LMS the teams belong to.")
@click.option(
    "--deployment-id",
    type=int,
    default=None,
    help="Only this deployment's teams (an LMS may serve several).",
)
@click.option("--metric", type=click.Choice(sorted(METRICS)), required=True)
@click.option(
    "--window-days",
    type=click.IntRange(7, 364),
    default=28,
    show_default=True,
    help="Days before and after each team's training date.",
)
@click.option(
    "--courses",
    multiple=True,
    metavar="SLUG[,SLUG…]",
    help="Courses that count as training (repeat or separate with commas); "
    "default: every course of this LMS.",
)
@click.option(
    "--share",
    type=click.Choice(["first", "25", "50", "75", "100"]),
    default="50",
    show_default=True,
    help="A team counts as trained when its first person, or this % of its people, completed.",
)
@click.option(
    "--ramp-up-days",
    type=click.IntRange(0, 182),
    default=0,
    show_default=True,
    help="Days after training left out of the after-window.",
)
@click.option(
    "--csat-as",
    type=click.Choice(sorted(CSAT_AS)),
    default="top2",
    show_default=True,
    help="CSAT as the top-two-box % or the mean score.",
)
@click.option("--agents", is_flag=True, help="Also compare agents (reads every survey row).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with the headline numbers.")
@with_appcontext
def impact_command(
    platform_id: int,
    deployment_id: int | None,
    metric: str,
    window_days: int,
    courses: tuple[str, ...],
    share: str,
    ramp_up_days: int,
    csat_as: str,
    agents: bool,
    as_json: bool,
) -> None:
    """Did training move CSAT, NPS or CES? The stacked difference in differences with its 95%
    interval, the pre-trend check and whether the effect lasted, as on the Training impact
    page. Too few data: the estimate is not given and the reason is printed (in JSON: the
    estimate and interval are null and ``refused`` says why)."""
    if db.session.get(Platform, platform_id) is None:
        raise click.ClickException(f"No platform {platform_id}; see `flask lms platform list`.")
    chosen = tuple(c.strip() for value in courses for c in value.split(",") if c.strip())
    known = {c.slug for c in catalogue(db.session, platform_id)}
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise click.ClickException(
            f"No course {', '.join(unknown)} on platform {platform_id}; its courses: "
            f"{', '.join(sorted(known)) or 'none'}."
        )
    query = ReportQuery(
        metric=metric,
        window=window_days,
        courses=chosen,
        share=0 if share == "first" else int(share),
        csat_as=csat_as,
        ramp=ramp_up_days,
        agents=agents,
    )
    report = build_report(db.session, platform_id, query, deployment_id=deployment_id)
    db.session.rollback()  # read only
    if as_json:
        click.echo(json.dumps(_finite(impact_summary(report)), default=str))
    else:
        click.echo(render_text(report))


def _finite(value: object) -> object:
    """JSON has no NaN: a number that could not be computed is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def render_text(report: Report) -> str:
    """The page's sentences and tables, as plain text."""
    query, result, did = report.query, report.result, report.result.did
    trained_when = (
        "its first person completed"
        if query.share == 0
        else f"{query.share}% of its people completed"
    )
    courses = ", ".join(c.title for c in report.courses if c.slug in report.chosen)
    lines = [
        f"Training impact on {report.metric.name}"
        + (f" ({report.shown.label})" if report.metric.as_mean else ""),
        f"Window: {query.window} days before and after each team's training date"
        + (f", leaving out the {query.ramp} days after it" if query.ramp else "")
        + f". A team counts as trained when {trained_when} one of: {courses or 'none'}.",
        "",
    ]
    if not report.teams_with_data:
        lines.append(f"No {report.metric.name} results yet.")
        return "\n".join(lines)
    if did:
        lines += [
            f"Trained teams changed by {did.trained_change:+.2f} and comparison teams by "
            f"{did.comparison_change:+.2f} {report.unit}: a difference of {did.effect:+.2f} "
            f"(95% CI {did.low:+.2f} to {did.high:+.2f}).",
            f"n = {did.trained} trained team(s), compared with {did.comparison} team(s) not "
            f"trained by the end of each window (interval: each team left out in turn, "
            f"t with {did.df:.0f} degrees of freedom).",
        ]
    lines += result.missing
    if result.pre_trend:
        p = result.pre_trend
        lines.append(
            f"Pre-trend check ({p.teams} teams): "
            + (
                f"the groups moved alike before training (p = {p.p_value:.3f})."
                if p.parallel
                else f"WARNING: the groups were already drifting apart ({p.difference:+.2f} "
                f"{report.unit} a week, p = {p.p_value:.3f})."
            )
        )
    lines.append(f"Did it last? {result.durability.verdict}: {result.durability.reason}")
    for name, title in (("weeks", "Week by week"), ("changes", "Each trained team")):
        header, rows = report_tables(report)[name]
        if rows:
            lines += ["", f"{title}:", "\t".join(header)]
            lines += ["\t".join("" if v is None else str(v) for v in row) for row in rows]
    return "\n".join(lines)
