"""People: users per LMS platform, teams, memberships and product roles."""

from flask import Flask


def init_app(app: Flask) -> None:
    from core.auth import STAFF
    from core.privacy import register_personal_data
    from core.views import register_dashboard_panel, register_footer_link
    from people.cli import people_cli
    from people.privacy import people_data
    from people.views import bp

    app.register_blueprint(bp)
    app.cli.add_command(people_cli)
    register_personal_data(app, "people", people_data)
    register_footer_link(app, "Your data", "people.my_data")
    register_dashboard_panel(app, "people/_organisation_panel.html", STAFF)
