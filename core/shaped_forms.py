"""Forms whose fields depend on data: one level per criterion of a rubric, one mark per
criterion of an exercise. The fields are declared on a fresh subclass for each form, so the
class as written is never changed by one request for the next."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar, cast

from flask_wtf import FlaskForm
from wtforms.fields.core import UnboundField

FormT = TypeVar("FormT", bound=FlaskForm)


def form_with_fields(form_class: type[FormT], fields: Mapping[str, UnboundField]) -> FormT:
    """A ``form_class`` form, bound to the request, that also has ``fields`` (name -> a
    field as declared in a class body, e.g. ``IntegerField("Empathy")``)."""
    # type() with a FlaskForm base runs WTForms' metaclass, as a class statement would.
    shaped = type(form_class.__name__, (form_class,), dict(fields))
    return cast(FormT, shaped())
