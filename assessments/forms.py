"""Forms of the assessment pages: every POST is read through one of these. The rules (a level
for every criterion, how long a reply or a reason may be, which rubric is valid) are the
services', which say what is wrong in the page's words; so these forms carry the fields and
their types, and the services decide. A quiz is shaped by its YAML, so ``QuizForm`` hands the
whole submitted form to ``core.questions``, which reads it under the seal it was shown with."""

from __future__ import annotations

import re
from typing import Any, Self

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, Field, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.fields.core import UnboundField
from wtforms.validators import AnyOf, NumberRange, Optional
from wtforms.widgets import HiddenInput

from assessments.grading import CONFIDENCE_FILTERS
from assessments.grading_queue import LEVELS as QUEUE_LEVELS
from assessments.grading_queue import QueueFilters, QueuePlace
from assessments.suggest import CRITERIA
from core.numbers import NumberFormatError, parse_number
from core.shaped_forms import form_with_fields

LEVELS = range(1, 5)  # a rubric's four levels, as its form numbers them


class ReplyForm(FlaskForm):
    reply = TextAreaField("Your reply to the customer", default="")


class DisputeForm(FlaskForm):
    reason = TextAreaField("Why you think the grade is wrong", default="")


class LevelsForm(FlaskForm):
    """A level for each criterion of a rubric version (``level_<criterion>``, a radio button
    per level). A level missing or not a number is None: the service names the criterion."""

    criteria: list[str]

    @classmethod
    def for_rubric(cls, definition: dict[str, Any]) -> Self:
        fields = {
            f"level_{criterion['id']}": IntegerField(criterion["name"], validators=[Optional()])
            for criterion in definition["criteria"]
        }
        form = form_with_fields(cls, fields)
        form.criteria = [criterion["id"] for criterion in definition["criteria"]]
        return form

    def levels(self) -> dict[str, int | None]:
        return {criterion: self[f"level_{criterion}"].data for criterion in self.criteria}


class GradeForm(LevelsForm):
    comment = TextAreaField("Comment for the learner", default="")
    # Where in the grading queue the grader came from (``QueuePlace``), in hidden fields.
    skill = HiddenField(default="", validators=[Optional(), AnyOf(CRITERIA)])
    learner = IntegerField(widget=HiddenInput(), validators=[Optional(), NumberRange(min=1)])
    level = IntegerField(widget=HiddenInput(), validators=[Optional(), AnyOf(QUEUE_LEVELS)])
    confidence = HiddenField(default="", validators=[Optional(), AnyOf(CONFIDENCE_FILTERS)])
    page = IntegerField(widget=HiddenInput(), validators=[Optional(), NumberRange(min=1)])

    @property
    def place_fields(self) -> tuple[Field, ...]:
        return (self.skill, self.learner, self.level, self.confidence, self.page)

    def queue_place(self, link_args: MultiDict[str, str] | None = None) -> QueuePlace:
        """The queue's filters and page the grader came from: from the queue's link
        (``link_args``) when the page is first shown, from the hidden fields on a save. A
        value the queue does not offer (an old link, an edited page) counts as "any", so a
        grade is never refused for it; the fields then carry on the place as it was read."""
        kept: dict[str, Any] = {}
        for place_field in self.place_fields:
            if link_args is not None:
                place_field.process(link_args)
            if place_field.data and place_field.validate(self):
                kept[place_field.name] = place_field.data
            # A value left out is no mistake of the grader's: no error to show them.
            place_field.errors, place_field.raw_data = [], None
            place_field.data = kept.get(place_field.name)
        filters = QueueFilters(
            skill=kept.get("skill", ""),
            learner=kept.get("learner", 0),
            level=kept.get("level", 0),
            confidence=kept.get("confidence", ""),
        )
        return QueuePlace(filters, page=kept.get("page", 1))


class ReviewForm(LevelsForm):
    note = TextAreaField("Note for the learner", default="")


class CalibrationForm(LevelsForm):
    """A grader's blind levels, or (``close=1``) the trainer closing the session."""

    close = HiddenField(default="")

    @property
    def closing(self) -> bool:
        return self.close.data == "1"


class ReopenForm(FlaskForm):
    grader = IntegerField("Grader", validators=[Optional()])
    reason = StringField("Why reopen", default="")


class UploadForm(FlaskForm):
    learner = IntegerField("Whose conversations", validators=[Optional()])
    channel = StringField("Channel", default="chat")
    files = MultipleFileField("Transcript files")
    pasted = TextAreaField("Or paste a transcript", default="")
    # The box posts "1"; anything else, or nothing, leaves the text unmasked.
    mask = BooleanField("Mask emails, phone and card numbers", false_values=(False, "", "0"))

    def chosen_files(self, limit: int) -> list[tuple[str, bytes]]:
        """Each uploaded file's name and first ``limit`` bytes."""
        return [(f.filename or "transcript.txt", f.read(limit)) for f in self.files.data or []]


class ThresholdForm(FlaskForm):
    """The kappa below which a skill's suggestions are low confidence for this LMS (shown, not
    pre-selected). Read by core.numbers, so "0,35" is 0.35."""

    threshold = StringField("Low confidence below this agreement (kappa, 0 to 1)", default="")

    def value(self) -> float | None:
        """The number typed, or None (with the field's error) when it is not a kappa."""
        try:
            typed = parse_number((self.threshold.data or "").strip(), allow_percent=False).value
        except NumberFormatError:
            typed = None
        if typed is None or not 0 <= typed <= 1:
            self.threshold.errors = ["Type a kappa between 0 and 1, for example 0.4."]
            return None
        return float(typed)


class RubricForm(FlaskForm):
    """A rubric as the edit page posts it: its name, target and level names, each criterion
    of the version being edited (``c<i>_name``, ``c<i>_weight``, ``c<i>_l<n>``) and one extra
    criterion (``extra_*``). ``definition()`` gives what ``rubrics.save_rubric`` validates."""

    name = StringField("Name", default="")
    target_level = StringField("Target level", default="")
    extra_name = StringField("Name", default="")
    extra_weight = StringField("Weight")

    @classmethod
    def for_rubric(cls, base: dict[str, Any]) -> Self:
        fields: dict[str, UnboundField] = {}
        for n in LEVELS:
            fields[f"level_{n}"] = StringField(f"Level {n}", default="")
            fields[f"extra_l{n}"] = TextAreaField(f"Level {n}", default="")
        for i, criterion in enumerate(base["criteria"]):
            fields[f"c{i}_name"] = StringField("Name", default=criterion["name"])
            fields[f"c{i}_weight"] = StringField("Weight")
            for n in LEVELS:
                fields[f"c{i}_l{n}"] = TextAreaField(f"Level {n}", default="")
        form = form_with_fields(cls, fields)
        form.base = base
        return form

    def text(self, name: str) -> str:
        return (self[name].data or "").strip()

    def definition(self) -> dict[str, Any]:
        criteria = [
            {
                "id": criterion["id"],
                "name": self.text(f"c{i}_name"),
                "weight": typed_number(self[f"c{i}_weight"].data, float),
                "levels": {str(n): self.text(f"c{i}_l{n}") for n in LEVELS},
            }
            for i, criterion in enumerate(self.base["criteria"])
        ]
        extra_name = self.text("extra_name")
        if extra_name:
            slug = re.sub(r"[^a-z0-9]+", "_", extra_name.lower()).strip("_")[:39] or "extra"
            criteria.append(
                {
                    "id": slug if slug[0].isalpha() else f"c_{slug}",
                    "name": extra_name,
                    "weight": typed_number(self.extra_weight.data, float),
                    "levels": {str(n): self.text(f"extra_l{n}") for n in LEVELS},
                }
            )
        return {
            "name": self.text("name"),
            "target_level": typed_number(self.target_level.data or "3", int),
            "levels": {str(n): self.text(f"level_{n}") for n in LEVELS},
            "criteria": criteria,
        }

    def error(self, message: str) -> tuple[str | None, str]:
        """A refusal of ``rubrics.save_rubric`` as (the id of the control it is about, the
        message with that place in words): "criteria.2.levels.1: '' is too short" is about
        ``c2_l1``, "Patience, level 1: '' is too short". Without a place: (None, message)."""
        found = re.match(r"([\w.]+): (.*)", message, re.S)
        if not found:
            return None, message
        path, said = found.group(1).split("."), found.group(2)
        if path[0] == "name":
            return "name", f"Name: {said}"
        if path[0] == "target_level":
            return "target_level", f"Target level: {said}"
        if path[0] == "levels" and len(path) > 1:
            return f"level_{path[1]}", f"Level {path[1]}'s name: {said}"
        if path[0] == "criteria" and len(path) > 1 and path[1].isdigit():
            i, base = int(path[1]), self.base["criteria"]
            prefix, name = (f"c{i}_", base[i]["name"]) if i < len(base) else ("extra_", "")
            name = name or self.text("extra_name") or "The added criterion"
            if len(path) > 3 and path[2] == "levels":
                return f"{prefix}l{path[3]}", f"{name}, level {path[3]}: {said}"
            if len(path) > 2 and path[2] == "weight":
                return f"{prefix}weight", f"{name}, weight: {said}"
            return f"{prefix}name", f"{name}: {said}"
        return None, message


def typed_number(text: str | None, kind: type[float] | type[int]) -> float | int | str:
    """The number typed, or the text itself when it is not one: the rubric's schema then
    refuses it with a message, and the form shows what was typed. Read by core.numbers, so
    "12,5" is a weight of 12.5 and "nan", which float() took and the schema's bounds let
    through, is refused."""
    typed = (text or "").strip() or "0"
    try:
        value = parse_number(typed, allow_percent=False).value
    except NumberFormatError:
        return typed[:40]
    if kind is int:
        return int(value) if value.is_integer() else typed[:40]
    return value


class QuizForm(FlaskForm):
    """A quiz's answers, kept whole as posted (``answers``: name -> values) for
    ``core.questions`` to read under the seal the quiz was rendered with."""

    answers: dict[str, list[str]]

    def process(
        self, formdata: Any = None, obj: Any = None, data: Any = None, **kwargs: Any
    ) -> None:
        formdata = self.meta.wrap_formdata(self, formdata)
        self.answers = formdata.to_dict(flat=False) if formdata is not None else {}
        super().process(formdata, obj, data=data, **kwargs)
