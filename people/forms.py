from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField
from wtforms.fields.choices import SelectChoice

from core.auth import Role


class AssignRoleForm(FlaskForm):
    role = SelectField(
        "Role in the tool",
        choices=[SelectChoice("", "As the LMS says"), SelectChoice(Role.MANAGER.value, "Manager")],
        default="",
    )


class ProgrammeChoiceForm(FlaskForm):
    """Join or leave the programme. ``next`` is where to go afterwards (a path of ours)."""

    next = HiddenField()
