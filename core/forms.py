"""Forms shared by every package."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import Field
from wtforms.validators import StopValidation
from wtforms.widgets import TextInput

from core.numbers import NumberFormatError, format_plain, parse_number


class ActionForm(FlaskForm):
    """A button that changes something: carries only the CSRF token."""


def table_file_field(label: str, *, missing: str, name: str = "file") -> FileField:
    """A file upload ``core.tabular.open_table`` reads: CSV (any text) or an Excel workbook.
    ``missing`` says what to choose; ``name`` what the file is, in the refusal of another type.
    """
    return FileField(
        label,
        validators=[
            FileRequired(missing),
            FileAllowed(["csv", "txt", "xlsx"], f"Upload the {name} as CSV or Excel (.xlsx)."),
        ],
    )


class LocaleNumberField(Field):
    """A number typed as people write it ("1,5", "12 000", "-3"), read by
    ``core.numbers.parse_number``. What cannot be read becomes the field's error, the
    parser's sentence saying how to write it, shown next to the field like any other error
    (``_forms.html``'s ``field`` macro or the ``field.errors`` loop).

    WTForms' IntegerField and DecimalField read only Python's shapes: "1,5" and "12 000" are
    "Not a valid decimal value", and DecimalField takes "1e3" and "NaN". ``data`` is a float,
    an int with ``whole=True``, or None when left empty (pair with Optional or InputRequired).
    """

    widget = TextInput()

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        decimal_mark: str | None = None,
        allow_percent: bool = False,
        whole: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("render_kw", {"inputmode": "numeric" if whole else "decimal"})
        super().__init__(label, validators, **kwargs)
        self.decimal_mark, self.allow_percent, self.whole = decimal_mark, allow_percent, whole
        self.reading = ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        self.data = None
        try:
            parsed = parse_number(
                str(valuelist[0]), decimal_mark=self.decimal_mark, allow_percent=self.allow_percent
            )
        except NumberFormatError as refused:
            raise ValueError(str(refused)) from None
        if self.whole and not parsed.value.is_integer():
            raise ValueError(f"Enter a whole number ({parsed.reading}).")
        self.data = int(parsed.value) if self.whole else parsed.value
        self.reading = parsed.reading

    def pre_validate(self, form: Any) -> None:
        # The parser's message says all there is to say; NumberRange would add a second,
        # misleading one ("must be between 0 and 100") about a value that was never read.
        if self.process_errors:
            raise StopValidation()

    def _value(self) -> str:
        if self.raw_data:  # as typed, so a refused value can be corrected in place
            return str(self.raw_data[0])
        return "" if self.data is None else format_plain(self.data)
