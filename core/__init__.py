"""Shared kernel: the application factory, settings, extensions, guards, base templates."""

from __future__ import annotations

import gc
import importlib
import logging
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from core import extensions
from core.config import Settings, check_sqlite_folder
from core.db import hold_loaded_rows_per_request
from core.errors import register_error_handlers
from core.observability import configure_logging, init_request_ids
from core.security import init_security

# Next to this package both in a checkout and once installed (the wheel ships ``migrations``).
MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from ``settings`` (default: the environment). No side effects."""
    settings = settings or Settings.from_env()
    settings.check()
    app = Flask(
        __name__,
        instance_path=settings.INSTANCE_PATH or None,
        instance_relative_config=False,
    )
    configure(app, settings)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    return app


# Python's default of 700 runs a young-generation collection for about every request that
# loads ORM rows; at 10,000 the same garbage goes in a twentieth as many passes, for a few
# hundred kilobytes more memory at most.
YOUNG_GENERATION_THRESHOLD = 10_000


def settle_for_serving() -> None:
    """Tune the garbage collector for a long-running server process, once the app is built.

    Start-up leaves some 200,000 objects (modules, SQLAlchemy mappers, templates) that live as
    long as the process; every full collection walked them all, a pause of 130-180 ms in the
    middle of some request on this kind of machine. Freezing moves them out of the collector's
    sight (and keeps forked workers from touching their pages). Over the mixed load's requests
    in one process (``bench/profile_pages.py``) collections took about 0.8 ms per request
    before, 0.1 ms after."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, 10, 10)


def configure(app: Flask, settings: Settings) -> None:
    app.config.from_mapping(settings.as_flask_config(app.instance_path))
    check_sqlite_folder(app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path)
    app.extensions["settings"] = settings
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    # WeasyPrint and fontTools log every rendering step at INFO; keep their warnings only.
    for noisy in ("weasyprint", "fontTools"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.root.level))
    if settings.PROXY_FIX_HOPS:
        hops = settings.PROXY_FIX_HOPS
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )


def register_extensions(app: Flask) -> None:
    # Imported as a module: binding the name ``db`` here would shadow the ``core.db`` module.
    extensions.db.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=MIGRATIONS_DIR)
    extensions.csrf.init_app(app)
    init_security(app)
    init_request_ids(app)
    hold_loaded_rows_per_request(app)


def register_blueprints(app: Flask) -> None:
    """Core's own pages, then each installed package's ``init_app`` (blueprints, hooks, CLI).

    Packages are named in settings rather than imported here, so the kernel depends on none
    of them (the dependency direction is checked by import-linter).
    """
    from core import jobs, ratelimit  # noqa: F401 - the kernel's own tables
    from core.views import bp as core_bp

    app.register_blueprint(core_bp)
    for name in app.config["INSTALLED_PACKAGES"]:
        importlib.import_module(name).init_app(app)


def register_commands(app: Flask) -> None:
    from core.cli import demo_cli, retention_cli
    from core.doctor import doctor_command

    app.cli.add_command(demo_cli)
    app.cli.add_command(retention_cli)
    app.cli.add_command(doctor_command)
