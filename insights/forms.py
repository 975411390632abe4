"""The survey import page's form: the file, the metric, which column holds what, how dates are
written and in which time zone, and whether to import without the bad rows."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf

from insights.importer import Mapping
from insights.metrics import METRICS

DATE_FORMATS = [
    SelectChoice("auto", "Work it out from the file"),
    SelectChoice("day-first", "Day first: 25/12/2026"),
    SelectChoice("month-first", "Month first: 12/25/2026"),
    SelectChoice("iso", "ISO: 2026-12-25"),
]
# A column's name as typed, rendered without ``type`` (text is the default): WTForms sorts
# attributes, and "type" would part ``name=… value=…``, which the page has always written
# side by side.
COLUMN = {"type": False}


def _stripped(value: str | None) -> str:
    return (value or "").strip()


def _column(label: str, default: str = "") -> StringField:
    return StringField(label, default=default, filters=[_stripped], render_kw=COLUMN)


class SurveyImportForm(FlaskForm):
    """An empty or missing file is the page's to say (a flash, as before); the metric is
    checked here, the date format, the time zone and the columns by the importer, whose
    messages name the file's own columns and values."""

    file = FileField("CSV file (or Excel .xlsx)", render_kw={"accept": ".csv,.xlsx"})
    metric = SelectField(
        "Metric",
        default="csat",
        choices=[SelectChoice(m.key, f"{m.name} ({m.low}-{m.high})") for m in METRICS.values()],
        validators=[AnyOf(list(METRICS), f"The metric must be one of {', '.join(METRICS)}.")],
        validate_choice=False,  # AnyOf says it in the importer's words
    )
    team_column = _column("Team column", "team")
    date_column = _column("Date column", "date")
    score_column = _column("Score column", "score")
    id_column = _column("Response id column (optional)")
    agent_column = _column("Agent column (optional: email or LMS id)")
    channel_column = _column("Channel column (optional)")
    # The select offers the common shapes; a strptime pattern (as ``flask insights import
    # --date-format`` takes) is read too, and the importer refuses what it cannot use.
    date_format = SelectField(
        "How dates are written", choices=DATE_FORMATS, default="auto", validate_choice=False
    )
    timezone = _column("Time zone of dates without one", "UTC")
    skip_bad = BooleanField("Import the good rows and list the bad ones")

    def mapping(self) -> Mapping:
        return Mapping(
            team=self.team_column.data,
            date=self.date_column.data,
            score=self.score_column.data,
            agent=self.agent_column.data,
            channel=self.channel_column.data,
            source_id=self.id_column.data,
            date_format=_stripped(self.date_format.data) or "auto",
        )
