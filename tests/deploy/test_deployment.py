"""The deployment files in ``deploy/`` run as shipped: nginx with TLS in front of two app
processes and the worker, started by the commands in the systemd units, against a real
PostgreSQL; then the backup and restore of docs/deployment.md, command for command.

What runs:

* PostgreSQL: a throwaway role and database (``cxqa_smoke_…``) on the shared server, owned by
  that role, dropped at the end; never the ``test`` database.
* The tool: ``APP_ENV=production``, two gunicorn processes (the web unit's ``ExecStart`` with
  ``deploy/gunicorn.conf.py``) on two loopback ports, one logging text and one JSON, and the
  worker (the worker unit's ``ExecStart``). ``PUBLIC_BASE_URL`` is left unset, so the URLs the
  tool builds and checks come from the proxy's forwarded headers, port included.
* nginx: ``deploy/nginx/cx-quality-academy.conf`` with only the lines marked CHANGE replaced
  (hosts, ports, certificate), over TLS with a certificate made here.
* The LMS: the development platform in its own process (development mode: production refuses
  it), at ``http://localhost:…``; the tool is ``https://127.0.0.1:…``, another site.

Asserted: a complete LTI launch whose login and launch are served by different app
processes (each process's own per-request log line names the request id nginx gave it); a
score sent by the worker lands in the platform's gradebook; ``/readyz`` through the proxy; the
restore brings back a database the tool is ready on, with the learner and the score in it.
Skipped, saying why, only when nginx or PostgreSQL's client programs are missing (``.ci/run``
installs nginx) or no PostgreSQL answers.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core import create_app
from core.config import Settings
from core.db import db
from lms import grades
from lms.devplatform import service as devplatform
from tests.conftest import PG_URL, free_port
from tests.lti import form_fields
from tests.processes import (
    GUNICORN,
    ROOT,
    VENV_BIN,
    Service,
    run,
    service_env,
    start,
    wait_for,
    wait_until_up,
)

DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
PG_TOOLS = ("pg_dump", "pg_restore", "dropdb")
LEARNER_SUB = devplatform.PERSONAS["learner"].sub

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)"),
    pytest.mark.skipif(PG_URL is None, reason="no PostgreSQL answers on 127.0.0.1:5432"),
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in PG_TOOLS),
        reason="PostgreSQL's client programs (pg_dump, pg_restore, dropdb) are not installed",
    ),
]


# -- the files under test, with only the lines an operator changes changed -------------------
def replace_exactly(text: str, pattern: str, replacement: str, count: int) -> str:
    """Each replacement must match as often as the shipped file has it, so a changed file
    fails here instead of being tested half-replaced."""
    new, made = re.subn(pattern, replacement, text, flags=re.M)
    assert made == count, f"{pattern!r} matched {made} times in the shipped file, not {count}"
    return new


def nginx_site(app_ports: list[int], https_port: int, http_port: int, tls: Path, log: Path) -> str:
    site = (DEPLOY / "nginx" / "cx-quality-academy.conf").read_text()
    servers = "".join(
        f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;\n" for port in app_ports
    )
    site = replace_exactly(site, r"^    server 10\.0\.0\.\d+:8000 .*\n", "", 2)
    site = replace_exactly(site, r"^(upstream cx_quality_academy \{\n)", rf"\g<1>{servers}", 1)
    site = replace_exactly(site, r"^    listen \[::\]:\d+.*\n", "", 2)
    site = replace_exactly(site, r"listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl", 1)
    site = replace_exactly(site, r"listen 80;", f"listen 127.0.0.1:{http_port};", 1)
    site = replace_exactly(site, r"ssl_certificate .*;", f"ssl_certificate {tls}.pem;", 1)
    site = replace_exactly(site, r"ssl_certificate_key .*;", f"ssl_certificate_key {tls}.key;", 1)
    return replace_exactly(site, r"access_log /var/log/nginx/\S+", f"access_log {log}", 1)


def unit_command(unit: str, config: Path) -> list[str]:
    """The unit's ExecStart, with the installed paths pointing at this checkout's."""
    text = (DEPLOY / "systemd" / unit).read_text()
    command = shlex.split(re.search(r"^ExecStart=(.*)$", text, re.M)[1])
    paths = {
        "/opt/cx-quality-academy/venv/bin/": f"{VENV_BIN}/",
        "/etc/cx-quality-academy/gunicorn.conf.py": str(config),
    }
    for installed, here in paths.items():
        command = [part.replace(installed, here) for part in command]
    return command


def self_signed(base: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    Path(f"{base}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    Path(f"{base}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


# -- the deployment ---------------------------------------------------------------------------
class Deployment:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        suffix = f"{uuid.uuid4().hex[:10]}"
        self.role = self.database = f"cxqa_smoke_{suffix}"
        self.app_ports = [free_port(), free_port()]
        self.https_port, self.http_port = free_port(), free_port()
        self.platform_port = free_port()
        self.tool_base = f"https://127.0.0.1:{self.https_port}"
        self.platform_base = f"http://localhost:{self.platform_port}"
        self.database_url = f"postgresql://{self.role}@127.0.0.1:5432/{self.database}"
        self.env = service_env(
            APP_ENV="production",
            DATABASE_URL=self.database_url,
            PROXY_FIX_HOPS="1",
            INSTANCE_PATH=str(tmp),
            GUNICORN_WORKERS="2",
        )
        self.services: dict[str, Service] = {}
        self.http = requests.Session()
        # Not from the environment: a CA bundle set there would win over the session's.
        self.http.trust_env = False
        self.http.verify = f"{tmp / 'tls'}.pem"

    # processes
    def start_app(self) -> None:
        web = unit_command("cx-quality-academy-web.service", DEPLOY / "gunicorn.conf.py")
        for index, (port, log_format) in enumerate(
            zip(self.app_ports, ("text", "json"), strict=True)
        ):
            name = f"app{index + 1}"
            env = {**self.env, "GUNICORN_BIND": f"127.0.0.1:{port}", "LOG_FORMAT": log_format}
            self.services[name] = start(name, web, env, self.tmp / f"{name}-{time.time()}.log")
        worker = unit_command("cx-quality-academy-worker.service", DEPLOY / "gunicorn.conf.py")
        self.services["worker"] = start("worker", worker, self.env, self.tmp / "worker.log")
        for index, port in enumerate(self.app_ports):
            service = self.services[f"app{index + 1}"]
            wait_until_up(service, f"http://127.0.0.1:{port}/healthz")

    def stop_app(self) -> None:
        for name in ("app1", "app2", "worker"):
            self.services.pop(name).stop()

    def served_by(self, request_id: str) -> str:
        """Which app process logged the request: its own per-request line has the id."""
        found = [
            name
            for name in ("app1", "app2")
            if any(
                request_id in line and ("academy.access" in line)
                for line in self.services[name].output().splitlines()
            )
        ]
        assert len(found) == 1, f"request {request_id} logged by {found or 'no app process'}"
        return found[0]

    def psql(self, query: str, *params: object) -> list[tuple]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    here = Deployment(tmp_path)
    admin = psycopg.connect(PG_URL, autocommit=True)
    admin.execute(f'CREATE ROLE "{here.role}" LOGIN')
    admin.execute(f'CREATE DATABASE "{here.database}" OWNER "{here.role}"')
    try:
        self_signed(tmp_path / "tls")
        # The operator's first steps (docs/deployment.md): migrate, make the tool's key.
        for command in (["db", "upgrade"], ["lms", "keys", "ensure"]):
            done = run([str(VENV_BIN / "flask"), "--app", "core.wsgi", *command], here.env)
            assert done.returncode == 0, done.stderr
        # The LMS: the development platform, registered with the tool's public address.
        platform_settings = Settings(
            APP_ENV="development",
            SECRET_KEY="the-platform-" + "p" * 32,
            DATABASE_URL=here.database_url,
            INSTANCE_PATH=str(tmp_path),
            DEV_PLATFORM_ENABLED=True,
            PUBLIC_BASE_URL=here.platform_base,
        )
        registrar = create_app(platform_settings)
        with registrar.app_context():
            devplatform.register(db.session, here.platform_base, here.tool_base)
            db.session.commit()
        here.registrar = registrar  # type: ignore[attr-defined]
        platform_env = service_env(
            APP_ENV="development",
            DATABASE_URL=here.database_url,
            INSTANCE_PATH=str(tmp_path),
            DEV_PLATFORM_ENABLED="1",
            PUBLIC_BASE_URL=here.platform_base,
            # The LMS fetches the tool's key set over HTTPS: it trusts this test's certificate
            # as it would the tool's real one.
            REQUESTS_CA_BUNDLE=f"{tmp_path / 'tls'}.pem",
        )
        here.services["platform"] = start(
            "platform",
            [GUNICORN, "--bind", f"127.0.0.1:{here.platform_port}", "--workers", "1", "wsgi:app"],
            platform_env,
            tmp_path / "platform.log",
        )
        here.start_app()
        site = nginx_site(
            here.app_ports,
            here.https_port,
            here.http_port,
            tmp_path / "tls",
            tmp_path / "nginx-access.log",
        )
        (tmp_path / "site.conf").write_text(site)
        temp = tmp_path / "nginx-temp"
        temp.mkdir()
        # The main file a Debian nginx.conf would be, reduced to what the site needs; one
        # worker process so its round robin over the two app processes is strict.
        (tmp_path / "nginx.conf").write_text(
            f"worker_processes 1;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/nginx.err;\n"
            "events {}\nhttp {\n"
            f"  client_body_temp_path {temp}/body;\n  proxy_temp_path {temp}/proxy;\n"
            f"  fastcgi_temp_path {temp}/fastcgi;\n  uwsgi_temp_path {temp}/uwsgi;\n"
            f"  scgi_temp_path {temp}/scgi;\n  include {tmp_path}/site.conf;\n}}\n"
        )
        nginx = [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
        checked = subprocess.run([*nginx, "-t"], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr
        here.services["nginx"] = start(
            "nginx", [*nginx, "-g", "daemon off;"], here.env, tmp_path / "nginx.out"
        )
        wait_until_up(here.services["platform"], f"{here.platform_base}/healthz")
        wait_until_up(here.services["nginx"], f"{here.tool_base}/healthz", verify=here.http.verify)
        yield here
    finally:
        for service in here.services.values():
            service.stop()
        registrar = getattr(here, "registrar", None)
        if registrar is not None:
            with registrar.app_context():
                db.session.remove()
                db.engine.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{here.database}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{here.role}"')
        admin.close()


def _answers(http: requests.Session, url: str) -> bool:
    try:
        return http.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


# -- the test ---------------------------------------------------------------------------------
def test_nginx_two_app_hosts_and_the_worker_serve_a_launch_and_survive_a_restore(deployment):
    d = deployment
    http = d.http

    # A launch: platform start -> tool login (via nginx) -> platform auth -> launch (via nginx).
    start = http.get(f"{d.platform_base}/dev-platform/start/learner", allow_redirects=False)
    assert start.status_code == 302, start.text[:500]
    login_url = start.headers["Location"]
    assert login_url.startswith(d.tool_base + "/lms/login?")
    login = http.get(login_url, headers={"Sec-Fetch-Dest": "document"}, allow_redirects=False)
    assert login.status_code == 302, login.text[:1000]
    login_host = d.served_by(login.headers["X-Request-Id"])
    auth = http.get(login.headers["Location"], allow_redirects=False)
    assert auth.status_code == 200, auth.text[:500]
    action, fields = form_fields(auth.text)
    assert action == d.tool_base + "/lms/launch"
    # nginx's round robin is strict with one worker process: step it until the next request
    # goes to the other app process.
    for _ in range(3):
        probe = http.get(f"{d.tool_base}/healthz")
        if d.served_by(probe.headers["X-Request-Id"]) == login_host:
            break
    launch = http.post(action, data=fields, allow_redirects=False)
    assert launch.status_code == 303, launch.text[:1000]
    launch_host = d.served_by(launch.headers["X-Request-Id"])
    assert launch_host != login_host, "the login and the launch were served by one process"
    page = http.get(d.tool_base + launch.headers["Location"])
    assert page.status_code == 200

    # Each process's line per request, in its format, with the LMS and user ids.
    user_id, platform_id = d.psql("SELECT id, platform_id FROM users WHERE sub = %s", LEARNER_SUB)[
        0
    ]
    lines = {name: d.services[name].output() for name in ("app1", "app2")}
    json_lines = [json.loads(line) for line in lines["app2"].splitlines() if line.startswith("{")]
    assert any(
        e.get("logger") == "academy.access" and e.get("path") == "/healthz" for e in json_lines
    )
    launched_line = next(
        line
        for line in lines[launch_host].splitlines()
        if launch.headers["X-Request-Id"] in line and "academy.access" in line
    )
    assert "/lms/launch" in launched_line and "303" in launched_line
    assert str(user_id) in launched_line and str(platform_id) in launched_line
    assert "id_token" not in "".join(lines.values())

    # A score through the worker to the platform's gradebook.
    with d.registrar.app_context():
        link_id = db.session.execute(db.text("SELECT id FROM lti_resource_links")).scalar_one()
        grades.enqueue_score(
            db.session,
            user_id=user_id,
            resource_link_id=link_id,
            score_given=8.0,
            score_maximum=10.0,
        )
        db.session.commit()
        db.session.remove()

    def score_arrived() -> list[tuple]:
        return d.psql(
            "SELECT score_given, score_maximum FROM dev_platform_scores WHERE user_id = %s",
            LEARNER_SUB,
        )

    try:
        wait_for(score_arrived, "the worker to deliver the score", timeout=30)
    except AssertionError:
        outbox = d.psql(
            "SELECT status, attempts, last_status, last_error FROM lti_grade_deliveries"
        )
        platform = [
            line
            for line in d.services["platform"].output().splitlines()
            if "academy.access" in line
        ]
        pytest.fail(
            f"no score; outbox {outbox}\nworker:\n{d.services['worker'].tail()}\n"
            f"platform:\n" + "\n".join(platform[-10:])
        )
    assert score_arrived() == [(8.0, 10.0)]
    ready = http.get(f"{d.tool_base}/readyz")
    assert (ready.status_code, ready.json()["status"]) == (200, "ready")

    # Backup and restore, as docs/deployment.md says: dump, stop, drop, restore (the restore
    # creates the database with its owner), start.
    as_admin = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
    dump = d.tmp / "academy.dump"
    done = subprocess.run(
        ["pg_dump", *as_admin, "-Fc", "-f", str(dump), d.database],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    d.stop_app()
    d.services.pop("platform").stop()  # the LMS shares this database in the test
    with d.registrar.app_context():
        db.engine.dispose()
    for command in (
        ["dropdb", *as_admin, d.database],
        ["pg_restore", *as_admin, "--create", "--exit-on-error", "-d", "postgres", str(dump)],
    ):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{command[0]}: {done.stderr}"
    owner = (
        psycopg.connect(PG_URL, autocommit=True)
        .execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (d.database,)
        )
        .fetchone()
    )
    assert owner == (d.role,)
    d.start_app()
    ready = wait_for(lambda: _answers(http, f"{d.tool_base}/readyz"), "readyz after restore")
    assert ready
    assert d.psql("SELECT id FROM users WHERE sub = %s", LEARNER_SUB) == [(user_id,)]
    assert score_arrived() == [(8.0, 10.0)]
    again = http.get(d.tool_base + launch.headers["Location"])  # the same session, restored data
    assert again.status_code == 200
    assert urlsplit(again.url).netloc == f"127.0.0.1:{d.https_port}"
