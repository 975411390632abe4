"""The checkout's entry point, kept for ``FLASK_APP=wsgi`` and ``gunicorn wsgi:app`` run from
this folder (``scripts/run-demo``, the tests). An installed package uses ``core.wsgi``."""

from core.wsgi import app

__all__ = ["app"]
