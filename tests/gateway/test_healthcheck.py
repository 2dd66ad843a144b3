"""gateway/healthcheck.py: the image's curl-free liveness probe."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gateway import healthcheck


class _Liveliness(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health/liveliness" else 404)
        self.end_headers()
        self.wfile.write(b'"I\'m alive!"')

    def log_message(self, *args):
        pass


@pytest.fixture
def liveliness_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Liveliness)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_healthcheck_passes_when_liveliness_answers_200(liveliness_server):
    assert healthcheck.check(healthcheck.url({"PORT": str(liveliness_server)})) is True


def test_healthcheck_fails_when_nothing_listens():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    assert healthcheck.check(healthcheck.url({"PORT": str(closed)}), timeout=1) is False


def test_healthcheck_defaults_to_the_proxy_port():
    assert healthcheck.url({}) == "http://127.0.0.1:4000/health/liveliness"
