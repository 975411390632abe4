"""LTI 1.3: platform registry, keys, OIDC login, launch, and the development platform."""

from flask import Flask


def init_app(app: Flask) -> None:
    from core.security import register_frame_ancestor_source
    from core.views import register_dashboard_panel, register_home_link, register_nav_link
    from lms.cli import lms_cli
    from lms.roster import roster_status
    from lms.services import platform_origins
    from lms.views import bp

    app.register_blueprint(bp)
    app.cli.add_command(lms_cli)
    register_frame_ancestor_source(app, platform_origins)
    register_home_link(app, "Values to register this tool in Moodle or Canvas", "lms.setup")
    staff = ("trainer", "administrator")
    register_nav_link(app, "Grade deliveries", "lms.grade_deliveries", staff)
    register_dashboard_panel(app, "lms/_roster_panel.html", staff)
    app.jinja_env.globals["roster_status"] = roster_status
