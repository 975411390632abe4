"""Several processes share login state through the database: a login handled by one gunicorn
process and the launch by another succeeds, over real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def start_gunicorn(port: int, env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--no-control-socket",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except (requests.ConnectionError, requests.Timeout):
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode()) from None
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


@pytest.fixture
def two_processes(app, live):
    ports = [free_port(), free_port()]
    env = {
        **os.environ,
        "APP_ENV": "testing",
        "DATABASE_URL": live.database_url,
        "SECRET_KEY": "multi-process-secret-" + "y" * 32,
        "DEV_PLATFORM_ENABLED": "1",
        "INSTANCE_PATH": str(live.instance_path),
        # Both processes stand for one public tool address behind a load balancer.
        "PUBLIC_BASE_URL": live.tool_base,
    }
    processes: list[subprocess.Popen] = []
    try:
        for port in ports:
            processes.append(start_gunicorn(port, env))
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)


def test_login_in_one_process_and_launch_in_another(lti, two_processes):
    process_a, process_b = two_processes
    browser = requests.Session()
    login_url = lti.start("learner").replace(lti.tool_base, process_a)
    check = browser.get(login_url, timeout=10)  # the cookie check page sets the state cookie
    assert check.status_code == 200 and "lti1p3-state-" in "".join(browser.cookies.keys())
    # The platform's auth endpoint (served by the test server) answers with the id_token.
    pending = lti.authorize(_as_login_answer(check))
    launch = browser.post(
        process_b + "/lms/launch", data=pending.fields, allow_redirects=False, timeout=10
    )
    assert launch.status_code == 303, launch.text
    dashboard = browser.get(process_a + launch.headers["Location"], timeout=10)
    assert "Welcome, Lena" in dashboard.text
    # And the replay, at the first process this time, is refused there too.
    replay = browser.post(
        process_a + "/lms/launch", data=pending.fields, allow_redirects=False, timeout=10
    )
    assert replay.status_code == 401


class _as_login_answer:  # a requests response, as LtiBrowser.authorize reads one
    def __init__(self, response: requests.Response) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self.text = response.text
