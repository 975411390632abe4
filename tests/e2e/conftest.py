"""Real servers and a real Chromium for the end-to-end tests.

Two services are started once per session, each as its own process group on a free port and
a fresh SQLite instance folder:

* ``demo_server``: ``scripts/run-demo``, exactly as a newcomer starts the service (plain HTTP,
  the development platform and the tool on the same host).
* ``https_server``: gunicorn with two workers over HTTPS (a self-signed certificate for
  ``localhost`` and ``127.0.0.1``), with the same demo data as ``scripts/run-demo``
  (``flask demo load``). The development platform is registered at ``https://localhost:PORT``
  and the tool at ``https://127.0.0.1:PORT``: different sites, as an LMS and a tool are in real
  life, so the tool in the LMS iframe runs in a third-party context. No grade worker runs
  beside it: a test that needs one runs ``https_server.flask("lms", "worker", "--once")``.

Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright (no ``playwright install``).
Every test here is skipped with a clear reason when it is absent.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import secrets
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import SCRUBBED_ENV as PROCESS_SCRUBBED_ENV
from tests.processes import Service, start

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
CHROMIUM = Path("/usr/bin/chromium")
RESULTS = ROOT / "test-results" / "e2e"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 900}
E2E_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A browser test that fails is run once more, and only those. Chromium puts a frame that
    changes site into another process, and Playwright has now and then lost sight of such a
    frame: in CI runs the server's log showed a page served into the frame while Playwright
    still reported the frame's previous page, or none. A behaviour that is really broken
    fails both times; a rerun shows as "R" in the output and in the summary, so it stays
    visible."""
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.flaky(reruns=1))


# How long a click or an expectation waits. Generous because CI shares two cores between two
# test processes, their servers and Chromium: a wait that runs out is a failure, so this
# bounds a hang rather than timing anything (a passing step never waits for it).
ACTION_TIMEOUT_MS = 30_000
# Environment the servers must not inherit from whoever runs the tests.
SCRUBBED_ENV = (*PROCESS_SCRUBBED_ENV, "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
# Bounds on setting up, not measurements: on a busy shared machine, with two test processes
# each starting their servers at once (scripts/test), a migration or the demo data's load
# takes minutes where an idle machine takes seconds.
DEMO_START_TIMEOUT = 300  # run-demo may have to (re)install the venv first
HTTPS_START_TIMEOUT = 120
SETUP_COMMAND_TIMEOUT = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update(values)
    return env


def wait_until_up(
    server: Service, url: str, timeout: float, context: ssl.SSLContext | None = None
) -> None:
    deadline = time.monotonic() + timeout
    last_error: object = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.process.returncode} before answering "
                f"{url}:\n{server.tail()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as error:
            last_error = error
        time.sleep(0.2)
    server.stop(timeout=10)
    raise RuntimeError(
        f"{server.name} did not answer {url} within {timeout}s ({last_error}):\n{server.tail()}"
    )


def run_checked(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SETUP_COMMAND_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


# -- Chromium ------------------------------------------------------------------------------


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is not installed (apt-get install -y chromium); "
            "the end-to-end tests drive Debian's Chromium, never a downloaded one"
        )


@pytest.fixture(scope="session")
def playwright_driver():  # type: ignore[no-untyped-def]
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver):  # type: ignore[no-untyped-def]
    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def chromium_profile(playwright_driver, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Open Chromium on a fresh profile that allows or blocks third-party cookies.

    Playwright's ``browser.new_context()`` is an incognito-like profile, which (like Chrome's
    Incognito) always blocks third-party cookies; Debian's Chromium also blocks them by default
    in a regular profile (cookies are refused with blocked reason "UserPreferences"). So both
    cases set the profile preference explicitly, as a person does in chrome://settings/cookies:
    ``profile.cookie_controls_mode`` 0 = allow third-party cookies, 1 = block them.

    Blocking third-party cookies leaves partitioned ones (CHIPS) alone. A browser that keeps
    no cookie at all inside a frame (Safari, or a site rule) is ``no_cookies_in=(tool origin,
    LMS origin)``: a site exception blocking the tool's cookies, partitioned ones included,
    where the LMS's page embeds it, and only there.
    """
    opened = []

    def open_profile(  # type: ignore[no-untyped-def]
        *, third_party_cookies: bool, no_cookies_in: tuple[str, str] | None = None
    ):
        user_data = tmp_path / f"chromium-profile-{len(opened)}"
        (user_data / "Default").mkdir(parents=True)
        mode = 0 if third_party_cookies else 1
        profile: dict[str, object] = {"cookie_controls_mode": mode}
        if no_cookies_in is not None:
            blocked = {",".join(no_cookies_in): {"setting": 2}}  # 2 = block
            profile["content_settings"] = {"exceptions": {"cookies": blocked}}
        (user_data / "Default" / "Preferences").write_text(json.dumps({"profile": profile}))
        context = playwright_driver.chromium.launch_persistent_context(
            str(user_data),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            ignore_https_errors=True,
            viewport=VIEWPORT,
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        opened.append(context)
        return context

    yield open_profile
    for context in opened:
        context.close()


@pytest.fixture(scope="session")
def results_dir() -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    return RESULTS


# -- the demo, as a newcomer starts it -----------------------------------------------------


@dataclass
class DemoService:
    base_url: str
    server: Service


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoService]:
    _require_chromium()
    instance = tmp_path_factory.mktemp("demo-instance")
    port = free_port()
    # The journeys start from a blank demo course (Lena has not joined yet, nothing is graded):
    # without the demo organisation, which scripts/run-demo otherwise loads.
    env = clean_env(
        HOST="127.0.0.1", PORT=str(port), INSTANCE_PATH=str(instance), DEMO_ORGANISATION="0"
    )
    server = start(
        "scripts/run-demo", [str(ROOT / "scripts" / "run-demo")], env, instance / "server.log"
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(server, base_url + "/healthz", DEMO_START_TIMEOUT)
        yield DemoService(base_url, server)
    finally:
        server.stop(timeout=10)


# -- LMS and tool on different sites over HTTPS --------------------------------------------


def write_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1; also its own trust anchor."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


REGISTER_DEV_PLATFORM = """
import sys
from core import create_app
from core.db import db
from lms.devplatform.service import register
app = create_app()
with app.app_context():
    register(db.session, sys.argv[1], sys.argv[2])
    db.session.commit()
"""


@dataclass
class CrossSiteService:
    port: int
    server: Service
    env: dict[str, str]

    @property
    def platform_base(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def tool_base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def flask(self, *args: str) -> None:
        """Run ``flask ARGS`` on the server's database and settings (e.g. the worker)."""
        run_checked([str(VENV_BIN / "flask"), *args], self.env, f"flask {' '.join(args)}")

    def python(self, script: str, *args: str) -> None:
        """Run a Python script with the server's settings (setting up data, as an operator)."""
        run_checked([str(VENV_BIN / "python"), "-c", script, *args], self.env, "a setup script")


@pytest.fixture(scope="session")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrossSiteService]:
    _require_chromium()
    instance = tmp_path_factory.mktemp("https-instance")
    cert, key = write_self_signed_cert(instance)
    port = free_port()
    service = CrossSiteService(port, None, {})  # type: ignore[arg-type]
    service.env = env = clean_env(
        FLASK_APP="wsgi",
        APP_ENV="development",
        DEV_PLATFORM_ENABLED="1",
        INSTANCE_PATH=str(instance),
        DATABASE_URL=f"sqlite:///{instance / 'academy.sqlite3'}",
        PUBLIC_BASE_URL=service.tool_base,
        SECRET_KEY=secrets.token_hex(32),
        # The tool fetches the development platform's JWKS from itself, over HTTPS.
        REQUESTS_CA_BUNDLE=str(cert),
    )
    run_checked([str(VENV_BIN / "flask"), "db", "upgrade"], env, "flask db upgrade")
    run_checked([str(VENV_BIN / "flask"), "lms", "keys", "ensure"], env, "flask lms keys ensure")
    # The demo's courses and badges, as scripts/run-demo loads them; without the development
    # platform's loader, which would register it on the tool's site (it is registered below).
    run_checked(
        [str(VENV_BIN / "flask"), "demo", "load"],
        {**env, "DEV_PLATFORM_ENABLED": "0"},
        "flask demo load",
    )
    run_checked(
        [
            str(VENV_BIN / "python"),
            "-c",
            REGISTER_DEV_PLATFORM,
            service.platform_base,
            service.tool_base,
        ],
        env,
        "registering the development platform",
    )
    command = [
        str(VENV_BIN / "gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--certfile",
        str(cert),
        "--keyfile",
        str(key),
        "--access-logfile",
        "-",
        # Else every gunicorn shares ~/.gunicorn/gunicorn.ctl with parallel runs.
        "--no-control-socket",
        "wsgi:app",
    ]
    server = start("gunicorn (HTTPS)", command, env, instance / "server.log")
    service.server = server
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        wait_until_up(server, service.tool_base + "/healthz", HTTPS_START_TIMEOUT, trust)
        yield service
    finally:
        server.stop(timeout=10)
