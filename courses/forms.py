"""Forms of the course pages that have fixed fields. Knowledge checks and exercises are
shaped by the content pack, so their fields are read and validated by ``courses.checks`` and
``courses.exercises``; those pages use ``ActionForm`` for the CSRF token."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired, FileSize
from wtforms import IntegerField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange

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
        """A form class with one mark per rubric criterion (0 to its points)."""

        class RubricForm(cls):  # type: ignore[valid-type,misc]
            pass

        for criterion in rubric:
            setattr(
                RubricForm,
                f"mark_{criterion['id']}",
                IntegerField(
                    criterion["label"],
                    validators=[
                        InputRequired("Give a mark."),
                        NumberRange(
                            0, criterion["points"], f"Between 0 and {criterion['points']}."
                        ),
                    ],
                ),
            )
        return RubricForm()
