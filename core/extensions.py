"""Unbound extensions; ``create_app`` binds them."""

from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from core.db import db

migrate = Migrate(render_as_batch=True, compare_type=True)
csrf = CSRFProtect()

__all__ = ["csrf", "db", "migrate"]
