"""Starting and stopping the service's real processes (gunicorn, ``flask …``) for the fault and
browser tests.

Each process runs in its own process group with an environment cleaned of whatever the test
runner was started with, and writes its output to a log file the failure message can quote.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import requests

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
FLASK = str(VENV_BIN / "flask")
GUNICORN = str(VENV_BIN / "gunicorn")
# Settings the service reads from the environment: never inherited from the test runner.
SCRUBBED_ENV = (
    "DATABASE_URL",
    "SECRET_KEY",
    "INSTANCE_PATH",
    "PUBLIC_BASE_URL",
    "APP_ENV",
    "DEV_PLATFORM_ENABLED",
    "PROXY_FIX_HOPS",
    "FLASK_APP",
    "LOG_FORMAT",
    "LOG_LEVEL",
)
SECRET = "fault-tests-secret-" + "f" * 32

T = TypeVar("T")


def service_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update(FLASK_APP="wsgi", SECRET_KEY=SECRET, PYTHONUNBUFFERED="1")
    env.update(values)
    return env


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return "(no output)"

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def running(self) -> bool:
        return self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole process group (gunicorn's workers included)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 15) -> None:
        if not self.running():
            return
        self.kill(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            self.process.wait(timeout=10)


def start(name: str, command: list[str], env: dict[str, str], log: Path) -> Service:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Service(name, process, log)


def run(
    command: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def wait_for(probe: Callable[[], T], what: str, timeout: float = 30, interval: float = 0.1) -> T:
    """Call ``probe`` until it returns something true; that value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def wait_until_up(
    service: Service, url: str, timeout: float = 60, verify: bool | str = True
) -> None:
    def answers() -> bool:
        if not service.running():
            raise AssertionError(
                f"{service.name} exited with {service.process.returncode}:\n{service.tail()}"
            )
        try:
            return requests.get(url, timeout=2, verify=verify).status_code == 200
        except requests.RequestException:
            return False

    wait_for(answers, f"{service.name} to answer {url}", timeout=timeout, interval=0.2)
