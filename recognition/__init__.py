"""Recognition: badges awarded by managers and by rules, issued as verifiable Open Badges."""

from flask import Flask


def init_app(app: Flask) -> None:
    from assessments.calibration import calibration_closed
    from assessments.grading import assessment_graded
    from core.auth import EVERYONE, Role
    from core.db import db
    from core.demo import register_demo_loader
    from core.privacy import register_personal_data
    from core.views import register_dashboard_panel, register_nav_link
    from courses.services import course_completed, courses_imported
    from recognition.cli import recognition_cli
    from recognition.privacy import recognition_data
    from recognition.services import (
        AWARDERS,
        awards_of,
        ensure_builtin_badges,
        on_assessment_graded,
        on_calibration_closed,
        on_course_completed,
        on_courses_imported,
        visible_badges,
    )
    from recognition.views import bp

    app.register_blueprint(bp)
    register_personal_data(app, "recognition", recognition_data)
    app.cli.add_command(recognition_cli)
    register_nav_link(app, "Badges", "recognition.mine", EVERYONE)
    register_nav_link(app, "Wall", "recognition.team_wall", EVERYONE)
    register_dashboard_panel(app, "recognition/_panel.html", (Role.LEARNER,))
    register_dashboard_panel(app, "recognition/_manager_panel.html", AWARDERS)
    app.jinja_env.globals["recent_awards"] = lambda user_id: [
        a for a in awards_of(db.session, user_id) if a.revoked_at is None
    ][:6]

    # Module-level receivers: connecting them again (another app) changes nothing.
    course_completed.connect(on_course_completed)
    courses_imported.connect(on_courses_imported)
    assessment_graded.connect(on_assessment_graded)
    calibration_closed.connect(on_calibration_closed)

    def load_demo(app: Flask) -> str:
        ensure_builtin_badges(db.session)  # normally made already, as courses are imported
        db.session.commit()
        count = sum(1 for b in visible_badges(db.session, 0) if b.platform_id is None)
        return f"Badges: {count} built-in badges in the catalogue"

    register_demo_loader(app, load_demo)
