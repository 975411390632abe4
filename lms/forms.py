"""The administration page's forms: an LMS registration and its deployments. The checks
themselves are ``lms.registry``'s, the same as the CLI's; these only read the fields."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional


def lines(text: str | None) -> list[str]:
    """One value per line (or separated by spaces), blanks dropped."""
    return [part for part in (text or "").split() if part]


class PlatformForm(FlaskForm):
    """What may change in a registration: its name and URLs (``--name``, ``--auth-login-url``…)."""

    name = StringField("Name shown to administrators", [Optional(), Length(max=255)])
    auth_login_url = StringField("Platform login URL (--auth-login-url)", [InputRequired()])
    auth_token_url = StringField("Access token URL (--auth-token-url)", [InputRequired()])
    key_set_url = StringField("Platform keyset URL (--key-set-url)", [InputRequired()])
    auth_audience = StringField(
        "Token audience, when not the token URL (--auth-audience)", [Optional()]
    )
    frame_origins = TextAreaField(
        "Other sites that show the tool in a frame, one per line (--frame-origin)", [Optional()]
    )


class NewPlatformForm(PlatformForm):
    """Another LMS: its issuer, the client id it gave the tool and its deployment ids."""

    issuer = StringField("Issuer (--issuer)", [InputRequired(), Length(max=255)])
    client_id = StringField("Client id (--client-id)", [InputRequired(), Length(max=255)])
    deployment_ids = TextAreaField(
        "Deployment ids, one per line (--deployment-id)", [InputRequired()]
    )


class DeploymentForm(FlaskForm):
    name = StringField("Name", [Optional(), Length(max=255)])
    trust_role_parameter = BooleanField("Honour role=manager from any launch of it")


class NewDeploymentForm(DeploymentForm):
    deployment_id = StringField(
        "Deployment id (--deployment-id)", [InputRequired(), Length(max=255)]
    )


class RemoveForm(FlaskForm):
    """Removing deletes everything recorded under it: the person types what they remove."""

    confirm = StringField("Type it to confirm", [InputRequired()])
