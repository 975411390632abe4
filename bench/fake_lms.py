"""The LMS every bench plays: the development platform's side of a launch, and a gradebook.

``register_platform`` (in the bench's own process) registers the development platform and
reads its signing key from ``signing_keys`` once; the ``PlatformSide`` it returns is the
platform at launch time: it builds the login initiation and signs the id_token (RS256), and
``auth_request`` reads the tool's cookie check page as the browser follows it.

The gradebook (``start_fake_lms`` runs it as its own process, ``lms_call`` asks it) is a
minimal, fast fake LMS for the benches that deliver grades: an OAuth2 token endpoint and AGS
score endpoints that record every score they receive.

One asyncio process with a hand-written HTTP/1.1 loop (keep-alive, Content-Length bodies):
far cheaper per request than the tool's side, so it is not what a grade benchmark measures.

    POST /token                                   -> 200 {"access_token": …, "expires_in": 3600}
    POST /lineitems/<id>/lineitem/scores?type_id=1 -> 204, the score recorded
                                                    (401 for a token this LMS never issued)
    GET  /stats                                   -> 200 {"scores": [[lineitem, userId,
                                                    timestamp, scoreGiven, received_at], …],
                                                    "tokens": n, "rejected": n, "errors": n}
    POST /reset                                   -> 204, records cleared (tokens stay valid)
    GET  /health                                  -> 200

Run: ``python bench/fake_lms.py --port 8765 [--delay 0.5]`` (``--delay``: a slow gradebook,
each score answered that many seconds after it was recorded).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import http.client
import json
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from common import ROOT, BenchError, spawn, tail

# The cookie check page's link onwards to the platform's auth URL (state and nonce in it).
ONWARD_LINK = re.compile(rb'id="continue-here" href="([^"]+)"')
START_TIMEOUT = 30.0
SCORES_PATH = re.compile(r"^/lineitems/([^/]+)/lineitem/scores$")
REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


# -- the platform's side of a launch ----------------------------------------------------------
@dataclass
class PlatformSide:
    """What the bench needs to act as the development platform."""

    issuer: str
    client_id: str
    deployment_id: str
    launch_url: str
    kid: str
    private_key: Any  # an RSAPrivateKey, parsed once
    claims: dict[str, Any]  # the development platform's learner claims, without nonce/times
    # What the browser says about where the login page will show: "iframe" (an LMS frame,
    # the tool shows its cookie check) or "document" (a new window, no cookie check).
    fetch_dest: str = "iframe"

    def login_query(self, login_hint: str) -> str:
        """The query of the platform's login initiation (``/lms/login?…``) for one person."""
        return urlencode(
            {
                "iss": self.issuer,
                "login_hint": login_hint,
                "target_link_uri": self.launch_url,
                "lti_message_hint": secrets.token_urlsafe(16),
                "client_id": self.client_id,
                "lti_deployment_id": self.deployment_id,
            }
        )

    def person_claims(
        self, sub: str, given_name: str, family_name: str, email: str
    ) -> dict[str, Any]:
        """The development platform's learner claims for another person."""
        return {
            **self.claims,
            "sub": sub,
            "name": f"{given_name} {family_name}",
            "given_name": given_name,
            "family_name": family_name,
            "email": email,
        }

    def id_token(self, claims: dict[str, Any], nonce: str) -> str:
        """``claims`` with the login's nonce and fresh times, signed with the platform's key."""
        now = int(time.time())
        timed = {**claims, "nonce": nonce, "iat": now, "exp": now + 60}
        return jwt.encode(timed, self.private_key, algorithm="RS256", headers={"kid": self.kid})


def auth_request(cookie_check_page: bytes) -> dict[str, list[str]] | None:
    """The query of the platform auth URL the tool's cookie check page goes on to (state,
    nonce, …); None when the page has no link onwards."""
    found = ONWARD_LINK.search(cookie_check_page)
    if found is None:
        return None
    return parse_qs(urlsplit(html.unescape(found.group(1).decode())).query)


def register_platform(env: dict[str, str], base_url: str, fetch_dest: str) -> PlatformSide:
    """Register the development platform (in this process, with the server's settings) and
    load its signing key from the ``signing_keys`` table once."""
    from core import create_app
    from core.config import Settings
    from core.db import db
    from lms import keys
    from lms.devplatform import service as devplatform

    app = create_app(Settings.from_env(env))
    with app.app_context():
        setup = devplatform.register(db.session, base_url, base_url)
        db.session.commit()
        signing = keys.active_key(db.session, keys.DEV_PLATFORM)
        db.session.commit()
        private_key = keys.load_private_key(signing.kid, signing.private_pem)
        claims = devplatform.launch_claims(setup, devplatform.PERSONAS["learner"], nonce="")
        side = PlatformSide(
            issuer=devplatform.issuer_for(setup.platform_base_url),
            client_id=devplatform.CLIENT_ID,
            deployment_id=devplatform.DEPLOYMENT_ID,
            launch_url=setup.tool_base_url + "/lms/launch",
            kid=signing.kid,
            private_key=private_key,
            claims=claims,
            fetch_dest=fetch_dest,
        )
        db.session.remove()
        db.engine.dispose()
    return side


# -- the gradebook ----------------------------------------------------------------------------
class FakeLms:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay  # seconds before a score is answered (a slow gradebook)
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.rejected = 0
        self.errors = 0
        self.scores: list[tuple[str, str, str, float, float]] = []

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes):
        path, _, _query = target.partition("?")
        if method == "POST":
            match = SCORES_PATH.match(path)
            if match:
                return self.score(match.group(1), headers, body)
            if path == "/token":
                return self.token()
            if path == "/reset":
                self.scores.clear()
                self.token_requests = self.rejected = self.errors = 0
                return 204, b"", "text/plain"
        elif method == "GET":
            if path == "/stats":
                stats = {
                    "scores": self.scores,
                    "tokens": self.token_requests,
                    "rejected": self.rejected,
                    "errors": self.errors,
                }
                return 200, json.dumps(stats).encode(), "application/json"
            if path == "/health":
                return 200, b"ok", "text/plain"
        return 404, b"not found", "text/plain"

    def token(self):
        self.token_requests += 1
        token = "bench-" + secrets.token_hex(16)
        self.tokens.add(token)
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        return 200, json.dumps(answer).encode(), "application/json"

    def score(self, lineitem: str, headers: dict[str, str], body: bytes):
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            self.rejected += 1
            return 401, b"unknown token", "text/plain"
        try:
            data = json.loads(body)
            entry = (
                lineitem,
                str(data["userId"]),
                str(data["timestamp"]),
                float(data["scoreGiven"]),
                time.time(),
            )
        except (ValueError, KeyError, TypeError):
            self.errors += 1
            return 400, b"bad score", "text/plain"
        self.scores.append(entry)
        return 204, b"", "text/plain"

    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                body = await reader.readexactly(length) if length else b""
                status, payload, content_type = self.handle(method, target, headers, body)
                if self.delay and status == 204:
                    await asyncio.sleep(self.delay)
                close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
                response = (
                    f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
                    f"Content-Type: {content_type}\r\n"
                    f"Content-Length: {len(payload) if status != 204 else 0}\r\n"
                    f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
                ).encode()
                writer.write(response + (payload if status != 204 else b""))
                await writer.drain()
                if close:
                    return
        except (ConnectionError, ValueError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()


def lms_call(port: int, method: str, path: str, timeout: float = 30.0) -> tuple[int, bytes]:
    """One request to the fake gradebook on ``port``: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=b"" if method == "POST" else None)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def start_fake_lms(
    port: int, env: dict[str, str], workdir: Path, delay: float, cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    """The fake gradebook as its own process (its own group: stop it with
    ``stop_process_group``), answering on ``port``; ``delay`` as ``--delay``."""
    log_path = workdir / "fake_lms.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--port", str(port)]
    process = spawn([*command, "--delay", str(delay)], env, log_path, cwd)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(
                f"the fake LMS exited with {process.returncode}:\n{tail(log_path, 20)}"
            )
        with contextlib.suppress(OSError):
            if lms_call(port, "GET", "/health", timeout=2)[0] == 200:
                return process
        time.sleep(0.1)
    raise BenchError(f"the fake LMS did not answer within {START_TIMEOUT:.0f} s")


async def main(port: int, delay: float) -> None:
    lms = FakeLms(delay)
    server = await asyncio.start_server(
        lms.serve_connection, "127.0.0.1", port, backlog=512, limit=1 << 20
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per score answer")
    options = parser.parse_args()
    asyncio.run(main(options.port, options.delay))
    sys.exit(0)
