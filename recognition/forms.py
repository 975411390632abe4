"""Forms of the recognition pages."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from core.forms import LocaleNumberField
from recognition.rules import RULE_KINDS, SKILL_LABELS
from recognition.services import MESSAGE_LIMIT, REASON_LIMIT


def _id_or_none(value: str | int | None) -> int | None:
    return None if value is None or value == "" else int(value)


class AwardForm(FlaskForm):
    # The service checks the person (own team, not oneself) and the badge, with clearer words
    # than a generic "not a valid choice".
    # The placeholders ("Choose a person…") have an empty value, so the browser's own check of
    # ``required`` fires, and an empty choice reads as None rather than failing to convert.
    recipient = SelectField(
        "Who",
        coerce=_id_or_none,
        validate_choice=False,
        validators=[InputRequired("Choose a person.")],
    )
    badge = SelectField(
        "Badge",
        coerce=_id_or_none,
        validate_choice=False,
        validators=[InputRequired("Choose a badge.")],
    )
    message = TextAreaField(
        "Your message",
        validators=[
            DataRequired("Write a message saying what they did."),
            Length(max=MESSAGE_LIMIT, message=f"Keep it under {MESSAGE_LIMIT} characters."),
        ],
    )
    # One per form shown: a double click or a resent form awards once.
    request_id = HiddenField()


class RevokeForm(FlaskForm):
    reason = TextAreaField(
        "Why is it withdrawn?",
        validators=[
            DataRequired("Say why the award is withdrawn."),
            Length(max=REASON_LIMIT, message=f"Keep it under {REASON_LIMIT} characters."),
        ],
    )
    # Off by default: the reason may be about a mistake or the person's conduct.
    publish_reason = BooleanField("Show this reason to anyone who checks the badge")


RULE_LABELS = {
    "": "No rule: only managers award it",
    "course_completed": "A course is completed",
    "courses_completed": "A number of courses are completed",
    "score_at_least": "A course score reaches a value",
    "skill_level": "A skill level is reached a number of times",
    "recognitions_received": "A number of recognitions are received",
    "calibration_within": "Calibration is close to the consensus a number of times",
}
assert set(RULE_LABELS) - {""} == set(RULE_KINDS)


class BadgeForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Give the badge a name."), Length(3, 120)])
    description = TextAreaField(
        "What it means", validators=[DataRequired("Say what the badge means."), Length(max=1000)]
    )
    criteria = TextAreaField(
        "How it is earned",
        validators=[DataRequired("Say how the badge is earned."), Length(max=1000)],
    )
    image = FileField(
        "Image (SVG or PNG, at most 256 kB)", validators=[FileRequired("Add an image.")]
    )
    manager_awardable = BooleanField("Managers can award it with a message")
    rule_type = SelectField(
        "Awarded automatically when", choices=[SelectChoice(k, v) for k, v in RULE_LABELS.items()]
    )
    course = SelectField(
        "Course", validators=[Optional()], choices=[SelectChoice("*", "Any course")]
    )
    # Typed thresholds go through core.numbers: "72,5" is 72.5 and "1e3" is refused in words.
    count = LocaleNumberField("How many", [Optional(), NumberRange(1, 1000)], whole=True)
    score = LocaleNumberField("Score (%)", [Optional(), NumberRange(0, 100)], allow_percent=True)
    skill = SelectField(
        "Skill",
        choices=[SelectChoice(k, v) for k, v in SKILL_LABELS.items()],
        validators=[Optional()],
    )
    level = LocaleNumberField("Level (1 to 4)", [Optional(), NumberRange(1, 4)], whole=True)
    times = LocaleNumberField("Times", [Optional(), NumberRange(1, 50)], whole=True)
    consecutive = BooleanField("In a row")
    deviation = LocaleNumberField("Within (levels)", [Optional(), NumberRange(0, 3)])

    def rule(self) -> dict[str, Any] | None:
        """The rule the form describes (validated by ``recognition.rules.validate_rule``)."""
        kind = self.rule_type.data
        if not kind:
            return None
        values: dict[str, Any] = {
            "course": self.course.data,
            "count": self.count.data,
            "score": float(self.score.data) if self.score.data is not None else None,
            "skill": self.skill.data,
            "level": self.level.data,
            "times": self.times.data,
            "consecutive": bool(self.consecutive.data),
            "deviation": float(self.deviation.data) if self.deviation.data is not None else None,
        }
        wanted = RULE_KINDS[kind].schema["properties"]
        return {"type": kind} | {k: v for k, v in values.items() if k in wanted and v is not None}
