"""The instance folder is read-only, or its disk is full, when the service starts.

The operator's commands are run as they are in production: ``flask db upgrade`` and gunicorn
on ``wsgi:app``, with ``INSTANCE_PATH`` on the broken folder and the SQLite database kept
there (no ``DATABASE_URL``, as on a single machine). The faults are real file systems:

* read-only: a tmpfs mounted and then remounted ``ro`` (as root, where file permissions are
  not enforced), or a folder with mode 0555 (as any other user);
* full: a 64 kB tmpfs filled with a file until writing fails with ENOSPC (as root only: an
  ordinary user cannot mount one; the test is skipped otherwise).

Both commands must stop at once with a non-zero status and one line that names the folder and
says what to do, not a traceback, and leave no database file behind. gunicorn's master must
stop too (exit status 4, "App failed to load"), not restart failing workers forever.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import create_app
from core.config import ConfigurationError, Settings
from tests.conftest import free_port
from tests.processes import FLASK, GUNICORN, ROOT, service_env

STARTUP_TIMEOUT = 90
ROOT_USER = os.geteuid() == 0


def _mount(*args: str) -> bool:
    try:
        subprocess.run(["mount", *args], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[None]:
    folder.mkdir()
    if not _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)):
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        yield
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "instance"
    if not ROOT_USER:
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    with tmpfs(folder, "1m"):
        if not _mount("-o", "remount,ro", str(folder)):
            pytest.skip("cannot remount a tmpfs read-only here")
        yield folder


@pytest.fixture
def full_folder(tmp_path: Path) -> Iterator[Path]:
    if not ROOT_USER:
        pytest.skip("filling a disk needs a small file system of its own; mounting needs root")
    folder = tmp_path / "instance"
    with tmpfs(folder, "64k"):
        chunk = b"\0" * 4096
        with (folder / "filler").open("wb", buffering=0) as filler, pytest.raises(OSError) as full:
            while True:
                filler.write(chunk)
        assert full.value.errno == errno.ENOSPC
        yield folder


def start_as_an_operator(folder: Path) -> dict[str, subprocess.CompletedProcess]:
    """``flask db upgrade`` and gunicorn, side by side, on ``folder``; both must stop."""
    env = service_env(APP_ENV="development", INSTANCE_PATH=str(folder))
    commands = {
        "flask db upgrade": [FLASK, "db", "upgrade"],
        "gunicorn": [
            GUNICORN,
            "--bind",
            f"127.0.0.1:{free_port()}",
            "--workers",
            "2",
            "--no-control-socket",
            "wsgi:app",
        ],
    }
    running = {
        name: subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        for name, command in commands.items()
    }
    done = {}
    for name, process in running.items():
        try:
            output, _ = process.communicate(timeout=STARTUP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            output, _ = process.communicate()
            pytest.fail(f"{name} kept running on a broken instance folder:\n{output}")
        done[name] = subprocess.CompletedProcess(commands[name], process.returncode, output)
    return done


def assert_refused_with_one_line(
    done: dict[str, subprocess.CompletedProcess], folder: Path, problem: str
) -> None:
    for name, result in done.items():
        # gunicorn's master passes the workers' status 4 on, except when two workers exit at
        # once: then its own HaltServer is logged with a traceback and it exits 1. Either way
        # it stops, and our side of the output is the one line.
        allowed = (4, 1) if name == "gunicorn" else (4,)
        assert result.returncode in allowed, f"{name} exited {result.returncode}:\n{result.stdout}"
        ours = [line for line in result.stdout.splitlines() if "/site-packages/" not in line]
        assert not any("wsgi.py" in line or "/core/" in line or "/lms/" in line for line in ours), (
            f"{name} shows a traceback of ours:\n{result.stdout}"
        )
        if name != "gunicorn":
            assert "Traceback" not in result.stdout, f"{name}:\n{result.stdout}"
        lines = [
            line for line in result.stdout.splitlines() if "CX Quality Academy cannot start" in line
        ]
        assert lines, f"{name} said nothing clear:\n{result.stdout}"
        line = lines[0]
        assert f"The instance folder {folder}" in line and problem in line, line
        assert "INSTANCE_PATH" in line, line  # what to do
    assert "App failed to load" in done["gunicorn"].stdout
    assert not list(folder.glob("academy.sqlite3*")), "no database file is left behind"


@pytest.mark.slow
def test_read_only_instance_folder_stops_the_service_with_one_clear_line(read_only_folder):
    problem = "is on a read-only file system" if ROOT_USER else "is not writable by this user"
    assert_refused_with_one_line(start_as_an_operator(read_only_folder), read_only_folder, problem)


@pytest.mark.slow
def test_full_disk_stops_the_service_with_one_clear_line(full_folder):
    done = start_as_an_operator(full_folder)
    assert_refused_with_one_line(done, full_folder, "is on a full disk (0 kB free)")


def test_missing_instance_folder_is_named_with_the_command_that_creates_it(tmp_path):
    missing = tmp_path / "nowhere" / "instance"
    with pytest.raises(ConfigurationError, match=f"create it \\(mkdir -p {missing}\\)"):
        create_app(Settings(APP_ENV="development", INSTANCE_PATH=str(missing)))


def test_a_database_url_elsewhere_is_checked_there(tmp_path):
    missing = tmp_path / "gone"
    settings = Settings(DATABASE_URL=f"sqlite:///{missing / 'academy.sqlite3'}")
    with pytest.raises(ConfigurationError, match="set DATABASE_URL to a database in a folder"):
        create_app(settings.with_overrides(INSTANCE_PATH=str(tmp_path)))


def test_with_postgresql_the_instance_folder_is_not_needed(read_only_folder):
    """Nothing is written to the instance folder when the database is PostgreSQL, so a
    read-only one (a read-only container image) is fine."""
    settings = Settings(
        DATABASE_URL="postgresql://nobody@127.0.0.1:1/none", INSTANCE_PATH=str(read_only_folder)
    )
    assert create_app(settings).instance_path == str(read_only_folder)


def test_readiness_fails_naming_the_instance_folder_once_its_disk_is_full(tmp_path):
    """The disk under a running service fills up: reads still work, every write fails, so
    the load balancer must be told, and by the check's name."""
    from flask_migrate import stamp

    from core.db import db

    if not ROOT_USER:
        pytest.skip("filling a disk needs a small file system of its own; mounting needs root")
    folder = tmp_path / "instance"
    with tmpfs(folder, "2m"):
        app = create_app(Settings(APP_ENV="development", INSTANCE_PATH=str(folder)))
        with app.app_context():
            db.create_all()
            stamp()
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        with (folder / "filler").open("wb", buffering=0) as filler, pytest.raises(OSError):
            while True:
                filler.write(b"\0" * 4096)
        answer = client.get("/readyz")
        with app.app_context():
            db.engine.dispose()
    assert answer.status_code == 503
    assert answer.json["detail"] == (
        "instance folder not writable (read-only or full): the SQLite database cannot be written"
    )
