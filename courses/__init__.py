"""Courses: the opt-in CX quality curriculum (content packs, enrolment, progress, completion,
certificates, the trainer's cohort view and review queue)."""

from flask import Flask


def init_app(app: Flask) -> None:
    from core.auth import EVERYONE, STAFF, Role
    from core.db import db
    from core.demo import register_demo_loader
    from core.privacy import register_personal_data
    from core.teaching import register_teaching
    from core.views import register_dashboard_panel, register_nav_link
    from courses.cli import content_root, courses_cli, import_content, pack_directories
    from courses.privacy import courses_data
    from courses.services import my_courses
    from courses.targets import SKILL_MODULES, SKILLS_COURSE, CourseTargets, module_target
    from courses.views import bp
    from lms.targets import register_target_source

    app.register_blueprint(bp)
    register_personal_data(app, "courses", courses_data)
    app.cli.add_command(courses_cli)
    register_target_source(app, CourseTargets())
    for skill, module in SKILL_MODULES.items():
        register_teaching(app, skill, module_target(SKILLS_COURSE, module))
    register_nav_link(app, "Courses", "courses.index", EVERYONE)
    register_nav_link(app, "Cohort", "courses.cohort", STAFF)
    register_nav_link(app, "Reviews", "courses.reviews", STAFF)
    register_dashboard_panel(app, "courses/_my_courses_panel.html", (Role.LEARNER,))
    app.jinja_env.globals["my_courses"] = lambda user_id, platform_id: my_courses(
        db.session, user_id, platform_id
    )

    def load_demo(app: Flask) -> str:
        lines = import_content(pack_directories(content_root()), "demo data")
        return "Courses: " + "; ".join(lines)

    register_demo_loader(app, load_demo)
