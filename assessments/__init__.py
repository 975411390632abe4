"""Skill assessments: rubric scoring of agents' conversations (uploaded transcripts and
scenarios taken by learners), suggestions with evidence, grading, results."""

from flask import Flask


def init_app(app: Flask) -> None:
    from assessments import review_views  # noqa: F401 - its pages join the blueprint
    from assessments.batch import SCORE_JOB, score_job
    from assessments.cli import assessments_cli
    from assessments.grading import assessment_graded
    from assessments.privacy import assessments_data, remove_old_transcripts
    from assessments.targets import ScenarioTargets
    from assessments.tenant_models import RETRAIN_JOB, queue_retrain_when_due, retrain_job
    from assessments.views import bp
    from core.auth import EVERYONE
    from core.jobs import register_job_handler
    from core.privacy import register_personal_data, register_retention
    from core.views import register_nav_link
    from lms.targets import register_target_source

    app.register_blueprint(bp)
    app.cli.add_command(assessments_cli)
    register_job_handler(app, RETRAIN_JOB, retrain_job)
    register_job_handler(app, SCORE_JOB, score_job)
    assessment_graded.connect(queue_retrain_when_due)
    register_personal_data(app, "assessments", assessments_data)
    register_retention(app, "transcripts", remove_old_transcripts)
    register_target_source(app, ScenarioTargets())
    register_nav_link(app, "Assessments", "assessments.index", EVERYONE)
