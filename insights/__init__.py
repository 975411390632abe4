"""Insights: survey results (CSAT, NPS, CES) and whether training moved them. The statistics
are in ``insights.stats``, the import and per-team daily roll-ups in ``insights.importer``."""

from flask import Flask


def init_app(app: Flask) -> None:
    from insights.cli import insights_cli

    app.cli.add_command(insights_cli)
