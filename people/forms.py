from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField

from core.auth import Role


class AssignRoleForm(FlaskForm):
    role = SelectField(
        "Role in the tool",
        choices=[("", "As the LMS says"), (Role.MANAGER.value, "Manager")],
        default="",
    )
