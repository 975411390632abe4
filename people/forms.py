from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from core.forms import table_file_field
from people.roles import ASSIGNABLE_ROLES


class AssignRoleForm(FlaskForm):
    role = SelectField(
        "Role in the tool",
        choices=[
            SelectChoice("", "As the LMS says"),
            *(SelectChoice(role.value, role.label) for role in ASSIGNABLE_ROLES),
        ],
        default="",
    )


class ProgrammeChoiceForm(FlaskForm):
    """Join or leave the programme. ``next`` is where to go afterwards (a path of ours)."""

    next = HiddenField()


class RosterForm(FlaskForm):
    """The organisation's roster file, and how to apply it."""

    roster = table_file_field(
        "Roster file (CSV or Excel .xlsx)",
        missing="Choose the roster file: one person a row, with their team.",
        name="roster",
    )
    effective = DateField(
        "Moves between teams take effect on",
        validators=[Optional()],
        description="Leave empty for today.",
    )
    skip_bad = BooleanField("Import the good rows and list the bad ones")
