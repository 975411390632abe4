"""Which page teaches a skill. A package that teaches (courses) registers, for a skill id such
as "empathy", the LMS launch target (``lms.targets``) of the page that teaches it; a package
that finds a skill wanting (the practice suggestions of assessments) asks here, knowing
neither the package, nor the course, nor the module."""

from __future__ import annotations

from flask import Flask, current_app


def register_teaching(app: Flask, skill: str, target: str) -> None:
    """``target`` (a launch target's name) teaches ``skill``; a later registration wins."""
    app.extensions.setdefault("teaching", {})[skill] = target


def teaching_targets() -> dict[str, str]:
    """Skill -> the launch target that teaches it, in the order they were registered."""
    return dict(current_app.extensions.get("teaching", {}))
