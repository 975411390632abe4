"""PDF rendering may read nothing but inline data and the app's own static files."""

from __future__ import annotations

import http.server
import threading

import pytest

from core.pdf import local_only_fetcher


@pytest.fixture
def listener():
    """A local HTTP server that records whether anything fetched from it."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()


def test_the_fetcher_refuses_network_and_files_but_serves_static_and_data(app, listener):
    url, hits = listener
    with app.test_request_context():
        fetcher = local_only_fetcher()
        for forbidden in (f"{url}/logo.png", "file:///etc/passwd", "static:../../../etc/passwd"):
            with pytest.raises(ValueError):
                fetcher(forbidden)
        assert fetcher("static:favicon.svg").read().startswith(b"<svg")
        assert fetcher("data:text/plain;base64,aGk=").read() == b"hi"
    assert hits == []
