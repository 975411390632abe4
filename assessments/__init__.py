"""Assessments: quizzes, rubric scoring of agent conversations, calibration between graders.

Not installed yet: it arrives with its own issue. The package exists so the dependency layout
(core <- people <- lms <- assessments) is fixed from the start.
"""
