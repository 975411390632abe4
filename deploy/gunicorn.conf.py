"""gunicorn settings for CX Quality Academy, used by deploy/systemd/cx-quality-academy-web.service:

    gunicorn --config /etc/cx-quality-academy/gunicorn.conf.py core.wsgi:app

Timeouts agree with deploy/nginx/cx-quality-academy.conf (nginx waits 35 s, gunicorn's
worker timeout is 30 s). ``GUNICORN_BIND`` and ``GUNICORN_WORKERS`` override the address and the
number of workers (the smoke test runs two app processes on loopback ports)."""

import multiprocessing
import os
from typing import Any

# The proxy connects here; the port must be reachable from the proxy only (the app trusts
# X-Forwarded-* from whoever connects, PROXY_FIX_HOPS).
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# 2 x cores + 1 sync workers: the measured sizing in docs/benchmarks.md.
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count() + 1))
# Build the app once in the master: a setting that cannot run stops it with one line (exit 4)
# instead of every worker failing, and forked workers share the start-up memory.
preload_app = True
# A worker silent for 30 s is restarted; nginx's proxy_read_timeout is 35 s.
timeout = 30
# On SIGTERM (systemctl stop/restart), requests in flight get this long to finish.
graceful_timeout = 20
# Heartbeat files in memory: a slow or full disk must not make workers look dead.
worker_tmp_dir = "/dev/shm"  # noqa: S108 - heartbeat files only, no data
# The app writes one line per request itself (LOG_FORMAT text or json, with the request id
# and the LMS user); gunicorn's own access log would repeat it without them.
accesslog = None
errorlog = "-"


def post_fork(server: Any, worker: Any) -> None:
    """Each worker leads a session of its own, as each PostgreSQL backend does.

    Linux (autogroup, on by default in common distributions' kernels) shares the cores between
    sessions first, then between the processes of a session: in the master's session the
    workers together got one session's share, the same as the job worker or a single
    PostgreSQL backend. Under the mixed load at 100 requests/s on 2 cores they waited for a
    core in turn and every kind of request stalled alike; in sessions of their own they get
    a share each. Nothing else changes: the master signals its workers one by one, a worker
    whose master is gone stops, and systemd stops the whole service by its cgroup."""
    os.setsid()
