"""Insights: survey results (CSAT, NPS, CES) and whether training moved them. The statistics
are in ``insights.stats``, the import and per-team daily roll-ups in ``insights.importer``,
the training-impact analysis in ``insights.analysis``."""

from flask import Flask


def init_app(app: Flask) -> None:
    from core.views import register_nav_link
    from insights.cli import insights_cli
    from insights.views import bp

    app.register_blueprint(bp)
    app.cli.add_command(insights_cli)
    register_nav_link(app, "Impact", "insights.index", ("trainer", "administrator"))
