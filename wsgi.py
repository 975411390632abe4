"""The service as gunicorn (``wsgi:app``) and the ``flask`` command (``FLASK_APP=wsgi``) start it.

Settings that cannot run the service stop it with one line saying what to change, not a
traceback; exit status 4 is gunicorn's "App failed to load", so its master stops instead of
starting workers again and again."""

import sys

from core import create_app
from core.config import ConfigurationError

try:
    app = create_app()
except ConfigurationError as error:
    print(f"CX Quality Academy cannot start: {error}", file=sys.stderr)
    raise SystemExit(4) from None
