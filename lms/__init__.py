"""LTI 1.3: platform registry, keys, OIDC login, launch, and the development platform."""

from flask import Flask


def init_app(app: Flask) -> None:
    from core.auth import STAFF, Role
    from core.doctor import register_doctor_check
    from core.security import register_frame_ancestor_source
    from core.views import register_dashboard_panel, register_home_link, register_nav_link
    from lms import admin_views  # noqa: F401 - its pages join the blueprint
    from lms.cli import lms_cli
    from lms.doctor import lms_checks
    from lms.roster import roster_status
    from lms.services import platform_origins
    from lms.targets import DEEP_LINKING_TARGET, LaunchTarget, register_target
    from lms.views import bp, waiting_score_count, waiting_scores

    app.register_blueprint(bp)
    app.cli.add_command(lms_cli)
    register_doctor_check(app, lms_checks)
    register_frame_ancestor_source(app, platform_origins)
    register_home_link(app, "Values to register this tool in Moodle or Canvas", "lms.setup")
    register_nav_link(app, "Grade deliveries", "lms.grade_deliveries", STAFF)
    register_dashboard_panel(app, "lms/_roster_panel.html", STAFF)
    register_dashboard_panel(app, "lms/_waiting_scores_panel.html", (Role.LEARNER, *STAFF))
    app.jinja_env.globals["roster_status"] = roster_status
    app.jinja_env.globals["waiting_scores"] = waiting_scores
    app.jinja_env.globals["waiting_score_count"] = waiting_score_count
    for target in (
        LaunchTarget(DEEP_LINKING_TARGET, "lms.deep_link_picker", "Content selection"),
        LaunchTarget(
            "home",
            "people.dashboard",
            "CX Quality Academy",
            "Each person's own page: the programme for learners, the team for "
            "managers, the course overview for trainers.",
            kind="Programme",
        ),
        LaunchTarget(
            "grade-deliveries",
            "lms.grade_deliveries",
            "Grade deliveries",
            "For trainers: scores on their way to this course's gradebook.",
            kind="Trainer tools",
        ),
    ):
        register_target(app, target)
