"""A minimal, fast fake LMS for ``bench/grades.py``: an OAuth2 token endpoint and AGS score
endpoints that record every score they receive.

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
import json
import re
import secrets
import signal
import sys
import time

SCORES_PATH = re.compile(r"^/lineitems/([^/]+)/lineitem/scores$")
REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


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
