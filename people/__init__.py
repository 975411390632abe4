"""People: users per LMS platform, teams, memberships and product roles."""

from flask import Flask


def init_app(app: Flask) -> None:
    from people.views import bp

    app.register_blueprint(bp)
