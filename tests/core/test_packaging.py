"""The installed package runs from any directory: ``pip install .`` ships the WSGI entry
(``core.wsgi``), the migrations, templates and content, and an operator's ``flask`` commands
work outside the checkout.

The package is installed into a new virtual environment with ``--no-deps``; its dependencies
come from the test runner's environment through a path file (no download of them, and no
editable install: the checkout is not on the new environment's path)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.processes import ROOT, service_env


@pytest.mark.slow
def test_pip_install_runs_the_commands_from_another_directory(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--quiet",
            "--no-deps",
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = service_env(INSTANCE_PATH=str(tmp_path / "instance"))
    env.pop("PYTHONPATH", None)
    (tmp_path / "instance").mkdir()

    def flask(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [python, "-m", "flask", "--app", "core.wsgi", *args],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    where = subprocess.run(
        [python, "-c", "import core; print(core.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(purelib), where  # the installed copy, not the checkout

    helped = flask("doctor", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "Check this deployment's configuration" in helped.stdout

    upgraded = flask("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "Running upgrade" in upgraded.stderr
    checked = flask("doctor")
    assert "[ok  ] The database schema is up to date." in checked.stdout, checked.stdout
    shipped = subprocess.run(
        [
            python,
            "-c",
            "import courses, pathlib; "
            "print(len(list(pathlib.Path(courses.__file__).parent.glob('content/*/course.yaml'))))",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert int(shipped) == len(list((ROOT / "courses" / "content").glob("*/course.yaml")))
