"""Forms of the course pages that have fixed fields. Knowledge checks and exercises are
shaped by the content pack, so their fields are read and validated by ``courses.checks`` and
``courses.exercises``; those pages use ``ActionForm`` for the CSRF token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired, FileSize
from wtforms import BooleanField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from core.forms import LocaleNumberField, table_file_field
from core.shaped_forms import form_with_fields
from courses.checks import CheckPolicy, Reveal
from courses.pack import MAX_PACK_BYTES


class PackUploadForm(FlaskForm):
    pack = FileField(
        "Content pack (.zip)",
        validators=[
            FileRequired("Choose a .zip file holding a course.yaml."),
            FileAllowed(["zip"], "Upload the pack as a .zip file."),
            FileSize(MAX_PACK_BYTES, message="The zip is larger than 20 MB."),
        ],
    )


class GradeForm(FlaskForm):
    comment = TextAreaField(
        "Feedback for the learner",
        validators=[Length(max=4000, message="Keep the feedback under 4000 characters.")],
    )

    @classmethod
    def for_rubric(cls, rubric: list[dict[str, Any]]) -> GradeForm:
        """The form with one mark per rubric criterion (0 to its points)."""
        # Read by core.numbers like every typed number: "3,0" is 3, "2,5" is refused as not
        # whole (IntegerField said "Not a valid integer value." to both).
        marks = {
            f"mark_{criterion['id']}": LocaleNumberField(
                criterion["label"],
                validators=[
                    InputRequired("Give a mark."),
                    NumberRange(0, criterion["points"], f"Between 0 and {criterion['points']}."),
                ],
                whole=True,
            )
            for criterion in rubric
        }
        return form_with_fields(cls, marks)


MAX_ATTEMPTS = 20
MAX_WAIT_MINUTES = 30 * 24 * 60  # a month: longer reads as "never", which the limit alone says


class CheckPolicyForm(FlaskForm):
    """A trainer's choice for one course's knowledge checks, for their own LMS."""

    reveal = RadioField(
        "When a failed check shows the right answers",
        choices=[SelectChoice(r.value, r.label) for r in Reveal],
        default=Reveal.AFTER_PASSING.value,
        validators=[InputRequired("Choose when the answers are shown.")],
    )
    # Read by core.numbers like every typed number ("1 440" is 1440; "1,5" is not whole).
    max_attempts = LocaleNumberField(
        "Attempts in a row",
        validators=[
            Optional(),
            NumberRange(1, MAX_ATTEMPTS, f"Between 1 and {MAX_ATTEMPTS}, or empty for no limit."),
        ],
        whole=True,
    )
    wait_minutes = LocaleNumberField(
        "Waiting time before more attempts (minutes)",
        validators=[
            Optional(),
            NumberRange(1, MAX_WAIT_MINUTES, f"Between 1 and {MAX_WAIT_MINUTES} minutes."),
        ],
        whole=True,
    )

    def validate_wait_minutes(self, field: LocaleNumberField) -> None:
        if field.data and not self.max_attempts.data:
            raise ValidationError("Set a number of attempts: the wait comes after they are used.")

    @classmethod
    def of(cls, policy: CheckPolicy) -> CheckPolicyForm:
        wait = int(policy.wait.total_seconds() // 60) if policy.wait else None
        return cls(reveal=policy.reveal.value, max_attempts=policy.max_attempts, wait_minutes=wait)

    def policy(self) -> CheckPolicy:
        minutes = self.wait_minutes.data
        return CheckPolicy(
            reveal=Reveal(self.reveal.data),
            max_attempts=self.max_attempts.data or None,
            wait=timedelta(minutes=minutes) if minutes else None,
        )


class CompletionsForm(FlaskForm):
    """A file of training done before or outside the tool."""

    completions = table_file_field(
        "Completions file (CSV or Excel .xlsx)", missing="Choose the file: one completion a row."
    )
    date_format = SelectField(
        "How dates are written",
        choices=[
            SelectChoice("auto", "Work it out from the file"),
            SelectChoice("day-first", "Day first: 25/12/2026"),
            SelectChoice("month-first", "Month first: 12/25/2026"),
            SelectChoice("iso", "ISO: 2026-12-25"),
        ],
        default="auto",
    )
    skip_bad = BooleanField("Bring in the good rows and list the bad ones")
