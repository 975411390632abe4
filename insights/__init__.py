"""Insights: survey results (CSAT, NPS, CES) and whether training moved them. The statistics
are in ``insights.stats``, the import and per-team daily roll-ups in ``insights.importer``,
the training-impact analysis in ``insights.analysis``."""

from flask import Flask


def init_app(app: Flask) -> None:
    from core.db import db
    from core.jobs import register_job_handler
    from core.views import register_dashboard_panel, register_nav_link
    from insights.analysis import team_trend
    from insights.cli import insights_cli
    from insights.jobs import IMPORT_JOB, REPORT_JOB, run_import, run_report
    from insights.views import bp
    from lms.registry import platform_removing

    app.register_blueprint(bp)
    register_job_handler(app, IMPORT_JOB, run_import)
    register_job_handler(app, REPORT_JOB, run_report)
    platform_removing.connect(forget_platform)
    app.cli.add_command(insights_cli)
    register_nav_link(app, "Impact", "insights.index", ("trainer", "administrator"))
    register_dashboard_panel(app, "insights/_manager_panel.html", ("manager",))
    app.jinja_env.globals["team_trend"] = lambda platform_id, team_id: team_trend(
        db.session, platform_id, team_id
    )


def forget_platform(session: object, platform_id: int) -> None:
    """Survey rows have no foreign keys (bulk imports would pay for them row by row): they go
    with their platform here."""
    from sqlalchemy import delete

    from insights.models import SurveyResponse

    session.execute(delete(SurveyResponse).where(SurveyResponse.platform_id == platform_id))  # type: ignore[attr-defined]
