"""Skill assessments: rubric scoring of agents' conversations (uploaded transcripts and
scenarios taken by learners), suggestions with evidence, grading, results."""

from flask import Flask


def init_app(app: Flask) -> None:
    from assessments import review_views  # noqa: F401 - its pages join the blueprint
    from assessments.privacy import assessments_data, remove_old_transcripts
    from assessments.targets import ScenarioTargets
    from assessments.views import bp
    from core.privacy import register_personal_data, register_retention
    from core.views import register_nav_link
    from lms.targets import register_target_source

    app.register_blueprint(bp)
    register_personal_data(app, "assessments", assessments_data)
    register_retention(app, "transcripts", remove_old_transcripts)
    register_target_source(app, ScenarioTargets())
    everyone = ("learner", "manager", "trainer", "administrator")
    register_nav_link(app, "Assessments", "assessments.index", everyone)
