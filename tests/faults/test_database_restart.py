"""The database restarts while people are launching: answers stay clean, the service comes
back by itself, and no launch is half written.

The fault is real. The test runs a PostgreSQL server of its own (``initdb`` in a temporary
folder, a free port; through ``runuser -u postgres`` when the tests run as root, since
PostgreSQL refuses to), never the shared one other test runs use; it is skipped, saying why,
when PostgreSQL's server binaries are not installed. gunicorn serves ``wsgi:app`` on it (3
workers, 2 threads each, ``APP_ENV=production``) after ``flask db upgrade``. Four threads launch
new people through the development platform over HTTP, each launch the whole LTI flow
(platform start → tool login → OIDC auth → signed id_token POSTed to ``/lms/launch``) for a
new ``sub``; a ``flask lms worker`` polls the grade outbox. In the middle, twelve launch POSTs
go out at once and ``pg_ctl stop -m fast`` follows (sessions terminated, transactions in
flight rolled back: some of those launches commit, some are cut off, some find no database),
two seconds without a database, ``pg_ctl start``.

Asserted:

* while the database is away every answer is a 503 with the service's own error page ("The
  service is briefly unavailable", ``Retry-After``): no 500, no traceback, no hang;
  ``/healthz`` stays 200 and ``/readyz`` says 503;
* launches succeed again within seconds of the restart, with no action: connections are
  checked on checkout from the pool (``core.db``);
* the worker says "database unavailable … trying again" in one log line, stays up, and
  delivers a score queued after the restart;
* nothing is half written. A launch provisions the person, team and membership and spends
  the login's nonce in one transaction, so: every person stored has a membership; every
  acknowledged launch (303) is stored; and for each launch whose POST failed, its person
  exists exactly when its nonce was spent (all or nothing). Launches that failed earlier in
  the flow stored no person.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jwt
import pytest
import requests
from flask import Flask
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError

from core import create_app
from core.config import Settings
from core.db import db
from core.errors import database_unavailable
from lms import grades, keys
from lms.devplatform import service as devplatform
from lms.models import GradeDelivery, LtiStateEntry, ResourceLink
from lms.storage import USED_NONCE_PREFIX
from people.models import Membership, Team, User
from tests.conftest import free_port
from tests.lti import form_fields
from tests.processes import (
    FLASK,
    GUNICORN,
    Service,
    run,
    service_env,
    start,
    wait_for,
    wait_until_up,
)

LAUNCHERS = 4
OUTAGE_SECONDS = 2.0
HTTP_TIMEOUT = 20  # a request that takes longer counts as a hang
REQUEST = {"allow_redirects": False, "timeout": HTTP_TIMEOUT}
IN_FLIGHT = 12  # launch POSTs sent all at once as the database stops
RECOVERY_LIMIT = 10.0  # seconds from the database's restart to the first launch that works


def postgres_bindir() -> Path | None:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name.zfill(4)
    )[::-1]
    if found := shutil.which("pg_ctl"):
        candidates.append(Path(found).resolve().parent)
    for bindir in candidates:
        if all((bindir / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


@dataclass
class PrivatePostgres:
    """A PostgreSQL server in a temporary folder, for one test only."""

    bindir: Path
    folder: Path
    port: int
    as_owner: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, tool: str, *args: str) -> None:
        command = [*self.as_owner, str(self.bindir / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{tool} failed:\n{done.stdout}{done.stderr}\n{self.log()}"

    def log(self) -> str:
        try:
            return (self.folder / "server.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.folder} -c fsync=off"
        )
        data = str(self.folder / "data")
        self.run(
            "pg_ctl",
            "-D",
            data,
            "-l",
            str(self.folder / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.folder / "data"), "-m", mode, "-w", "-t", "60", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl, postgres) are not installed")
    as_owner: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="academy-fault-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            pytest.skip("running as root, and there is no postgres user to run PostgreSQL as")
        if not shutil.which("runuser"):
            shutil.rmtree(folder)
            pytest.skip("running as root, and runuser is missing to run PostgreSQL as postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_owner = ["runuser", "-u", "postgres", "--"]
    server = PrivatePostgres(bindir, folder, free_port(), as_owner)
    try:
        server.run(
            "initdb",
            "-D",
            str(folder / "data"),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        server.start()
        yield server
    finally:
        subprocess.run(
            [
                *as_owner,
                str(bindir / "pg_ctl"),
                "-D",
                str(folder / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Attempt:
    """One person's launch: where it stopped, if it did, and what the service answered."""

    sub: str
    started: float
    step: str = "platform start"
    status: int | None = None
    page: str = ""
    retry_after: str | None = None
    error: str = ""
    nonce: str | None = None
    finished: float = 0.0
    launched: bool = False

    def __str__(self) -> str:
        what = self.error or f"HTTP {self.status} {' '.join(self.page.split())[:300]}"
        return f"{self.sub} at {self.step}: {what}"


@dataclass
class Prepared:
    attempt: Attempt
    http: requests.Session
    action: str = ""
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class Launcher:
    """A browser between the development platform (``localhost``) and the tool (``127.0.0.1``),
    both served by gunicorn; the platform's id_token is re-signed for a new person."""

    tool_base: str
    platform_base: str
    kid: str
    key: object
    attempts: list[Attempt] = field(default_factory=list)

    def launch(self, sub: str) -> Attempt:
        return self.post(self.prepare(sub))

    def prepare(self, sub: str) -> Prepared:
        """Every hop up to the id_token the platform would POST to the tool."""
        prepared = Prepared(Attempt(sub, time.monotonic()), requests.Session())
        try:
            self._until_token(prepared)
        except requests.RequestException as error:
            prepared.attempt.error = f"{type(error).__name__}: {error}"
        return prepared

    def post(self, prepared: Prepared) -> Attempt:
        """POST the id_token to the tool (when the hops before it worked)."""
        attempt = prepared.attempt
        if prepared.fields and not attempt.error:
            attempt.step = "tool launch"
            try:
                answer = prepared.http.post(prepared.action, data=prepared.fields, **REQUEST)
                attempt.launched = self._answered(attempt, "tool launch", answer, 303)
            except requests.RequestException as error:
                attempt.error = f"{type(error).__name__}: {error}"
        attempt.finished = time.monotonic()
        self.attempts.append(attempt)
        return attempt

    def _answered(self, attempt: Attempt, step: str, response: requests.Response, ok: int) -> bool:
        attempt.step, attempt.status = step, response.status_code
        if response.status_code == ok:
            return True
        attempt.page, attempt.retry_after = response.text, response.headers.get("Retry-After")
        return False

    def _until_token(self, prepared: Prepared) -> None:
        attempt, http = prepared.attempt, prepared.http
        attempt.step = "platform start"
        answer = http.get(f"{self.platform_base}/dev-platform/start/learner", **REQUEST)
        if not self._answered(attempt, "platform start", answer, 302):
            return
        attempt.step = "tool login"
        # A top-level window: the tool skips its cookie-check page.
        top_level = {"Sec-Fetch-Dest": "document"}
        answer = http.get(answer.headers["Location"], headers=top_level, **REQUEST)
        if not self._answered(attempt, "tool login", answer, 302):
            return
        attempt.step = "platform auth"
        answer = http.get(answer.headers["Location"], **REQUEST)
        if not self._answered(attempt, "platform auth", answer, 200):
            return
        action, fields = form_fields(answer.text)
        claims = jwt.decode(fields["id_token"], options={"verify_signature": False})
        name = attempt.sub.replace("-", " ").title()
        claims.update(
            sub=attempt.sub,
            name=name,
            given_name=name,
            family_name="Agent",
            email=f"{attempt.sub}@example.test",
        )
        attempt.nonce = claims["nonce"]
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        prepared.action, prepared.fields = action, {**fields, "id_token": token}


def keep_launching(launcher: Launcher, number: int, stop: threading.Event) -> None:
    count = 0
    while not stop.is_set():
        count += 1
        if not launcher.launch(f"agent-{number}-{count}").launched:
            time.sleep(0.1)  # as a person would, before trying again


def clean_refusal(attempt: Attempt) -> bool:
    return (
        attempt.status == 503
        and "The service is briefly unavailable" in attempt.page
        and "Error 503" in attempt.page
        and "Traceback" not in attempt.page
        and attempt.retry_after == "5"
    )


@dataclass
class Running:
    gunicorn: Service
    worker: Service
    launcher: Launcher
    app: Flask  # in the test process, on the same database: to look at what was stored


@pytest.fixture
def service(private_postgres: PrivatePostgres, tmp_path: Path) -> Iterator[Running]:
    """gunicorn on the private database, migrated by ``flask db upgrade``, with the tool's
    key and the development platform registered."""
    port = free_port()
    tool_base, platform_base = f"http://127.0.0.1:{port}", f"http://localhost:{port}"
    # Development, not production: production refuses the development platform these
    # launches go through, and the two differ otherwise only in HSTS and `flask doctor`.
    env = service_env(
        APP_ENV="development",
        DATABASE_URL=private_postgres.url,
        INSTANCE_PATH=str(tmp_path),
        PUBLIC_BASE_URL=tool_base,
        DEV_PLATFORM_ENABLED="1",
    )
    command = [GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "3", "--threads", "2"]
    command += ["--preload", "--graceful-timeout", "2", "--no-control-socket", "wsgi:app"]
    gunicorn = start("gunicorn", command, env, tmp_path / "gunicorn.log")
    worker: Service | None = None
    app = create_app(
        Settings(
            APP_ENV="testing",
            SECRET_KEY=env["SECRET_KEY"],
            DATABASE_URL=private_postgres.url,
            INSTANCE_PATH=str(tmp_path),
            DEV_PLATFORM_ENABLED=True,
            PUBLIC_BASE_URL=tool_base,
        )
    )
    try:
        upgraded = run([FLASK, "db", "upgrade"], env)
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
        worker_command = [FLASK, "lms", "worker", "--poll", "0.2"]
        worker = start("worker", worker_command, env, tmp_path / "worker.log")
        with app.app_context():
            keys.active_key(db.session)
            devplatform.register(db.session, platform_base, tool_base)
            db.session.commit()
            signing = keys.active_key(db.session, keys.DEV_PLATFORM)
            private_key = keys.load_private_key(signing.kid, signing.private_pem)
            launcher = Launcher(tool_base, platform_base, signing.kid, private_key)
            db.session.remove()
        wait_until_up(gunicorn, tool_base + "/healthz")
        yield Running(gunicorn, worker, launcher, app)
    finally:
        gunicorn.stop()
        if worker is not None:
            worker.stop()
        with app.app_context():
            db.engine.dispose()


def send_score(service: Running, sub: str, score: float) -> None:
    """Queue a score for ``sub`` and wait for the worker to deliver it (to the development
    platform's gradebook, served by the same gunicorn)."""
    with service.app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.sub == sub))
        link_id = db.session.scalar(select(ResourceLink.id))
        delivery = grades.enqueue_score(
            db.session,
            user_id=user_id,
            resource_link_id=link_id,
            score_given=score,
            score_maximum=10,
        )
        db.session.commit()
        delivery_id = delivery.id
        db.session.remove()

    def sent() -> bool:
        assert service.worker.running(), f"the worker died:\n{service.worker.tail()}"
        with service.app.app_context():
            status = db.session.get(GradeDelivery, delivery_id).status
            db.session.remove()
        return status == "sent"

    wait_for(sent, f"the worker to send {sub}'s score")


@pytest.mark.slow
def test_database_restart_mid_load(private_postgres, service):
    gunicorn, launcher = service.gunicorn, service.launcher
    warm = launcher.launch("warm-up")
    assert warm.launched, f"{warm}\n{gunicorn.tail()}"
    send_score(service, "warm-up", 8.0)  # the worker is at work before the outage

    stop = threading.Event()
    threads = [
        threading.Thread(target=keep_launching, args=(launcher, n, stop), daemon=True)
        for n in range(LAUNCHERS)
    ]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: sum(a.launched for a in launcher.attempts) >= 8, "launches to run")
        # A burst of launch POSTs as the database stops: some commit before, some are cut
        # off inside their transaction, some find no database.
        prepared = [launcher.prepare(f"in-flight-{n}") for n in range(IN_FLIGHT)]
        assert all(p.fields for p in prepared), [str(p.attempt) for p in prepared]
        threads += [
            threading.Thread(target=launcher.post, args=(p,), daemon=True) for p in prepared
        ]
        for thread in threads[LAUNCHERS:]:
            thread.start()

        down_at = time.monotonic()
        private_postgres.stop("fast")
        probe = requests.get(
            f"{launcher.platform_base}/dev-platform/start/learner",
            allow_redirects=False,
            timeout=HTTP_TIMEOUT,
        )
        assert probe.status_code == 503 and "briefly unavailable" in probe.text, probe.text
        assert requests.get(launcher.tool_base + "/healthz", timeout=HTTP_TIMEOUT).ok
        assert requests.get(launcher.tool_base + "/readyz", timeout=HTTP_TIMEOUT).status_code == 503
        wait_for(
            lambda: sum(a.status == 503 and a.finished > down_at for a in launcher.attempts) >= 3,
            "launches to meet the outage",
        )
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))

        private_postgres.start()
        up_at = time.monotonic()
        wait_for(
            lambda: sum(a.launched and a.started > up_at for a in launcher.attempts) >= 8,
            "launches to work again after the restart",
        )
        assert requests.get(launcher.tool_base + "/readyz", timeout=HTTP_TIMEOUT).ok
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=HTTP_TIMEOUT * 5)
    assert gunicorn.running(), gunicorn.tail()
    # The grade worker met the outage while polling, waited, and sends scores again.
    newcomer = next(a.sub for a in launcher.attempts if a.launched and a.started > up_at)
    send_score(service, newcomer, 9.0)
    worker_log = service.worker.output()
    assert "database unavailable (OperationalError); trying again" in worker_log, worker_log
    assert "Traceback" not in worker_log, worker_log

    attempts = launcher.attempts
    failed = [a for a in attempts if not a.launched]
    assert failed, "the load met the outage"
    unclean = [a for a in failed if not clean_refusal(a)]
    assert not unclean, "\n".join(map(str, unclean[:5])) + "\n" + gunicorn.tail()
    recovered = min(a.finished for a in attempts if a.launched and a.started > up_at) - up_at
    steps = Counter(a.step for a in failed)
    burst = Counter(
        "launched" if a.launched else "refused" for a in attempts if a.sub.startswith("in-flight")
    )
    print(
        f"{len(attempts)} launches, {len(failed)} refused with 503 by step {dict(steps)}; "
        f"burst {dict(burst)}; first launch {recovered:.2f} s after the restart"
    )
    assert recovered < RECOVERY_LIMIT, f"the first launch after the restart took {recovered:.1f} s"

    with service.app.app_context():
        users = {sub: user_id for sub, user_id in db.session.execute(select(User.sub, User.id))}
        members = {
            user_id: count
            for user_id, count in db.session.execute(
                select(Membership.user_id, func.count()).group_by(Membership.user_id)
            )
        }
        spent_nonces = set(
            db.session.scalars(
                select(LtiStateEntry.key).where(LtiStateEntry.key.startswith(USED_NONCE_PREFIX))
            )
        )
        teams = db.session.scalar(select(func.count()).select_from(Team))
        db.session.remove()
    assert teams == 1
    assert {members.get(user_id) for user_id in users.values()} == {1}, "a person without team"
    for attempt in attempts:
        stored = attempt.sub in users
        if attempt.launched:
            assert stored, f"acknowledged launch lost: {attempt}"
        elif attempt.step == "tool launch":  # the POST itself failed: all or nothing
            spent = USED_NONCE_PREFIX + attempt.nonce in spent_nonces
            assert stored == spent, (
                f"half-written launch (stored={stored}, spent={spent}): {attempt}"
            )
        else:
            assert not stored, f"a launch that never reached the tool stored someone: {attempt}"
    assert set(users) <= {a.sub for a in attempts}


def test_an_unreachable_database_is_a_503_in_the_error_page_style(tmp_path):
    """Without PostgreSQL's binaries too: a database nobody listens for (connection refused)
    gives the same clean page, with the security headers still set."""
    app = create_app(
        Settings(
            APP_ENV="development",  # production refuses the development platform
            SECRET_KEY="s" * 40,
            DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/none",
            INSTANCE_PATH=str(tmp_path),
            DEV_PLATFORM_ENABLED=True,
        )
    )
    client = app.test_client()
    page = client.get("/dev-platform/start/learner")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert "The service is briefly unavailable" in page.text and "Traceback" not in page.text
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503
    with app.app_context():
        db.engine.dispose()


def test_a_mistake_in_sql_is_not_taken_for_an_outage():
    """SQLite reports a missing table as OperationalError too: that stays a 500 with its
    traceback in the log, while a database it cannot open is a 503."""
    with pytest.raises(OperationalError) as mistake, create_engine("sqlite://").connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    assert not database_unavailable(mistake.value)
    with pytest.raises(OperationalError) as unreachable:
        create_engine("sqlite:////no/such/folder/academy.sqlite3").connect()
    assert database_unavailable(unreachable.value)
