"""Forms shared by every package."""

from flask_wtf import FlaskForm


class ActionForm(FlaskForm):
    """A button that changes something: carries only the CSRF token."""
