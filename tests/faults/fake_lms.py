"""An LMS's OAuth2 token endpoint and AGS score endpoint over real HTTP, with switchable faults.

The tool's worker talks to it exactly as to Moodle: ``POST /token`` (client credentials) and
``POST /lineitems/<id>/lineitem/scores`` with the bearer token it was given. The faults are
real ones at the socket: the server not listening at all (connection refused), 503 answers
from the token or the score endpoint, and a score POST held open without an answer.

Like Moodle, the gradebook keeps one score per line item and user and answers 409 to a score
whose timestamp is not later than the one it holds; every POST is recorded with the answer
it got (``None`` when none was sent), so a test can tell a duplicate from a resend.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.conftest import free_port

SCORES = re.compile(r"^/lineitems/([^/?]+)/lineitem/scores(\?.*)?$")
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
HOLD_LIMIT = 60.0  # a held request gives up after this long


@dataclass(frozen=True)
class ScorePost:
    lineitem: str
    user_id: str
    timestamp: str
    score_given: float
    answer: int | None  # the HTTP status sent back; None when the LMS never answered


class FakeLms:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.token_status = 200  # what the token endpoint answers
        self.score_status = 200  # 200: normal gradebook; anything else is answered as is
        self.hold: str | None = None  # hold the next score POST: "store" it first, or "drop" it
        self.holding = threading.Event()  # a score POST is being held
        self.release = threading.Event()  # let the held POST go on
        self.lock = threading.Lock()
        self.tokens: set[str] = set()
        self.token_answers: list[int] = []
        self.posts: list[ScorePost] = []
        self.gradebook: dict[tuple[str, str], tuple[str, float]] = {}
        self._server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def listening(self) -> bool:
        return self._server is not None

    def up(self) -> FakeLms:
        """Start listening (before this, connections to the port are refused)."""
        lms = self

        class Handler(LmsHandler):
            owner = lms

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
        """Stop listening: connections are refused again. Held requests are let go."""
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def posts_for(self, user_id: str) -> list[ScorePost]:
        with self.lock:
            return [post for post in self.posts if post.user_id == user_id]

    def stored(self) -> dict[str, tuple[str, float]]:
        """The gradebook by user: (timestamp, score)."""
        with self.lock:
            return {user: value for (_, user), value in self.gradebook.items()}

    # -- endpoints ---------------------------------------------------------------------------
    def token(self) -> tuple[int, dict[str, object]]:
        with self.lock:
            status = self.token_status
            self.token_answers.append(status)
            if status != 200:
                return status, {"error": "temporarily_unavailable"}
            token = secrets.token_hex(16)
            self.tokens.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600}

    def accept(self, lineitem: str, score: dict[str, object]) -> int:
        """Moodle's rule: a score not newer than the one held is refused with 409."""
        key = (lineitem, str(score["userId"]))
        timestamp = str(score["timestamp"])
        held = self.gradebook.get(key)
        if held is not None and datetime.fromisoformat(timestamp) <= datetime.fromisoformat(
            held[0]
        ):
            return 409
        self.gradebook[key] = (timestamp, float(score["scoreGiven"]))  # type: ignore[arg-type]
        return 204


class LmsHandler(BaseHTTPRequestHandler):
    owner: FakeLms

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        pass

    def answer(self, status: int, body: dict[str, object] | None = None) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        try:
            self.send_response(status)
            if payload:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client is gone (a killed worker)
            self.close_connection = True

    def do_POST(self) -> None:  # the http.server API names it
        lms = self.owner
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?")[0] == "/token":
            self.answer(*lms.token())
            return
        match = SCORES.match(self.path)
        if match is None:
            self.answer(404, {"error": "not found"})
            return
        lineitem = match.group(1)
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in lms.tokens:
            self.answer(401, {"error": "unknown token"})
            return
        if self.headers.get("Content-Type") != SCORE_TYPE:
            self.answer(415, {"error": "not a score"})
            return
        score = json.loads(body)
        post = ScorePost(
            lineitem, str(score["userId"]), str(score["timestamp"]), score["scoreGiven"], None
        )
        with lms.lock:
            hold, lms.hold = lms.hold, None
            if hold is None:
                status = (
                    lms.score_status if lms.score_status != 200 else lms.accept(lineitem, score)
                )
            elif hold == "store":
                lms.accept(lineitem, score)  # stored, but the answer will never arrive
            lms.posts.append(post if hold else replace(post, answer=status))
        if hold is not None:
            lms.holding.set()
            lms.release.wait(HOLD_LIMIT)
            self.close_connection = True  # no answer: the caller was killed meanwhile
            return
        if status == 204:
            self.answer(204)
        else:
            self.answer(status, {"error": f"HTTP {status} from the fake LMS"})
