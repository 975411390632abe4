"""The service as gunicorn (``core.wsgi:app``) and the ``flask`` command
(``FLASK_APP=core.wsgi``) start it, from any directory once the package is installed.

Settings that cannot run the service stop it with one line saying what to change, not a
traceback; exit status 4 is gunicorn's "App failed to load", so its master stops instead of
starting workers again and again. Once built, the process's garbage collector is tuned for
serving (``core.settle_for_serving``)."""

import sys

from core import create_app, settle_for_serving
from core.config import ConfigurationError

try:
    app = create_app()
except ConfigurationError as error:
    print(f"CX Quality Academy cannot start: {error}", file=sys.stderr)
    raise SystemExit(4) from None
settle_for_serving()
