"""Insights: survey results (CSAT, NPS, CES) and whether training moved them. Each metric is
one object in ``insights.metrics``; the statistics are in ``insights.stats``, the import rules
and per-team roll-ups in ``insights.importer`` (stored in bulk by ``insights.bulk``), the
training-impact analysis in ``insights.effects`` (pure) and ``insights.analysis``, and what
the pages call in ``insights.services``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import cast

from flask import Flask
from sqlalchemy.orm import Session


def init_app(app: Flask) -> None:
    from core.auth import STAFF, Role
    from core.db import db
    from core.jobs import register_job_handler
    from core.privacy import register_personal_data, register_retention
    from core.views import register_dashboard_panel, register_nav_link
    from insights.agents import AGENTS_JOB
    from insights.analysis import team_trend
    from insights.cli import insights_cli
    from insights.impact_cli import impact_command
    from insights.jobs import IMPORT_JOB, REPORT_JOB, run_agents, run_import, run_report
    from insights.views import bp
    from lms.registry import platform_removing
    from people.privacy import person_erasing

    app.register_blueprint(bp)
    register_job_handler(app, IMPORT_JOB, run_import)
    register_job_handler(app, REPORT_JOB, run_report)
    register_job_handler(app, AGENTS_JOB, run_agents)
    platform_removing.connect(forget_platform)
    person_erasing.connect(forget_agent)
    register_personal_data(app, "survey_results_naming_you", survey_rows_of)
    register_retention(app, "survey rows", remove_old_survey_rows)
    insights_cli.add_command(impact_command)
    app.cli.add_command(insights_cli)
    register_nav_link(app, "Impact", "insights.index", STAFF)
    register_dashboard_panel(app, "insights/_manager_panel.html", (Role.MANAGER,))
    app.jinja_env.globals["team_trend"] = lambda platform_id, team_id: team_trend(
        db.session, platform_id, team_id
    )
    if app.config.get("DEV_PLATFORM_ENABLED") and app.config.get("DEMO_ORGANISATION", True):
        # The demo organisation lives in the development platform's LMS; last of the demo
        # loaders (insights comes last), so the courses and badges it uses are there.
        from core.demo import register_demo_loader
        from insights.demo import load_demo

        register_demo_loader(app, load_demo)


def forget_platform(session: Session, platform_id: int) -> None:
    """Survey rows have no foreign keys (bulk imports would pay for them row by row): they go
    with their platform here."""
    from sqlalchemy import delete

    from insights.models import SurveyResponse

    session.execute(delete(SurveyResponse).where(SurveyResponse.platform_id == platform_id))


def forget_agent(session: Session, user_id: int) -> None:
    """A person erased: survey rows keep counting for their team, without naming them."""
    from sqlalchemy import select, update

    from insights.models import SurveyResponse
    from people.models import User

    session.execute(
        update(SurveyResponse).where(SurveyResponse.agent_id == user_id).values(agent_id=None)
    )
    # Their LMS's kept comparisons name them; the next request compares again.
    platform_id = session.scalar(select(User.platform_id).where(User.id == user_id))
    if platform_id is not None:
        forget_kept_comparisons(session, [platform_id])


def forget_kept_comparisons(session: Session, platform_ids: Collection[int]) -> None:
    """Drop the agents' comparisons the worker kept (``insights.agents``) for these LMSes:
    after rows were removed or an agent erased, they no longer match the data. Another LMS's
    stay."""
    from sqlalchemy import delete

    from core.jobs import Job
    from insights.agents import AGENTS_JOB

    session.execute(
        delete(Job).where(
            Job.kind == AGENTS_JOB, Job.status == "done", Job.platform_id.in_(platform_ids)
        )
    )


def survey_rows_of(session: Session, user_id: int) -> list[dict[str, object]]:
    from core.privacy import rows_of
    from insights.models import SurveyResponse

    return rows_of(session, SurveyResponse, SurveyResponse.agent_id == user_id)


def remove_old_survey_rows(session: Session, now: datetime) -> str:
    """Single responses (which may name an agent) go after ``SURVEY_RETENTION_DAYS``; the
    per-team daily and weekly counts stay, so the analysis keeps its history."""
    from datetime import timedelta

    from flask import current_app
    from sqlalchemy import CursorResult, delete, select

    from insights.models import SurveyResponse

    days = current_app.config["SURVEY_RETENTION_DAYS"]
    if days <= 0:
        return "kept (SURVEY_RETENTION_DAYS is 0)"
    cutoff = (now - timedelta(days=days)).date()
    old = SurveyResponse.day < cutoff
    platform_ids = list(session.scalars(select(SurveyResponse.platform_id).where(old).distinct()))
    removed = session.execute(
        delete(SurveyResponse).where(old).execution_options(preserve_rowcount=True)
    )
    gone = cast(CursorResult, removed).rowcount
    if gone:
        forget_kept_comparisons(session, platform_ids)
    return f"removed {gone} survey response(s) from before {cutoff:%Y-%m-%d}; team counts kept"
