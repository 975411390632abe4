"""gunicorn entry point for ``bench/launch.py --what-if``: the product's app with the prototype
fixes named in ``BENCH_WHATIF`` applied (see ``whatif.py``). NOT the product."""

import os

import whatif

from wsgi import app

whatif.apply(app, whatif.parse(os.environ.get("BENCH_WHATIF", "")))

__all__ = ["app"]
