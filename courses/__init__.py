"""Courses: the opt-in CX quality curriculum (content packs, enrolment, progress, completion).

Not installed yet: the curriculum arrives with its own issue. The package exists so the
dependency layout (core <- people <- lms <- courses) is fixed from the start.
"""
