"""Readiness polling: returns as soon as ready, fails fast on a dead service, fails clearly on timeout."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from gateway.devstack.ports import LOOPBACK
from gateway.devstack.readiness import NotReady, Pending, http_ok, tcp_open, wait_until


def test_returns_once_the_probe_succeeds():
    calls = iter([False, False, True])
    took = wait_until(lambda: next(calls), timeout=5, what="svc", interval=0.01)
    assert took < 1


def test_times_out_naming_the_service_and_the_last_probe_error():
    def probe():
        raise ConnectionRefusedError("nobody home")

    with pytest.raises(
        NotReady, match=r"svc not ready after 0 s.*ConnectionRefusedError: nobody home"
    ) as err:
        wait_until(probe, timeout=0.2, what="svc", interval=0.05)
    assert err.value.service == "svc"


def test_fails_at_once_when_the_service_died():
    began = time.monotonic()
    with pytest.raises(NotReady, match="svc exited before it was ready"):
        wait_until(lambda: False, timeout=30, what="svc", alive=lambda: False, interval=0.01)
    assert time.monotonic() - began < 1


@pytest.fixture
def http_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/ok" else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_http_probe_is_true_only_for_a_2xx(http_server):
    assert http_ok(f"http://{LOOPBACK}:{http_server}/ok")() is True
    assert http_ok(f"http://{LOOPBACK}:{http_server}/starting")() is False


def test_tcp_probe_sees_a_listening_port_and_raises_on_a_closed_one(http_server):
    assert tcp_open(LOOPBACK, http_server)() is True
    with pytest.raises(OSError):
        tcp_open(LOOPBACK, 1)()


def test_a_slow_start_reports_progress_while_waiting():
    reports = []
    calls = iter([False] * 8 + [True])
    wait_until(
        lambda: next(calls),
        timeout=5,
        what="svc",
        interval=0.02,
        progress=reports.append,
        progress_every=0.05,
    )
    assert reports and all(elapsed >= 0.05 for elapsed in reports)


def test_a_pending_service_is_handed_over_once_its_health_url_answers(http_server):
    service = object()
    pending = Pending(service, "svc", f"http://{LOOPBACK}:{http_server}/ok", lambda: True, timeout=5)
    assert pending.wait() is service


def test_a_pending_service_that_died_fails_at_once_by_name(http_server):
    pending = Pending(object(), "svc", f"http://{LOOPBACK}:{http_server}/starting", lambda: False, timeout=30)
    with pytest.raises(NotReady, match="svc exited before it was ready"):  # not "not ready after 30 s"
        pending.wait()
