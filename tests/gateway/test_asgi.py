"""gateway/asgi.py and gateway/serve.py: the request layer around LiteLLM's app, on a real uvicorn server.

The inner app here is a small ASGI app that records what reached it; the layer is the real one,
served by uvicorn on 127.0.0.1 and called with httpx, so framing, Content-Length, chunked uploads
and connection handling are the server's own.
"""

from __future__ import annotations

import gzip
import inspect
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from gateway import asgi, serve
from gateway.limits import MIB, RequestLimits

LIMIT_MB = 1
INTERNAL = [
    (b"x-litellm-model-name", b"us.amazon.nova-pro-v1:0"),
    (b"x-litellm-version", b"1.108.7"),
    (b"x-litellm-model-api-base", b"https://bedrock-runtime.us-east-1.amazonaws.com"),
    (b"x-litellm-model-id", b"abc"),
    (b"x-litellm-response-cost", b"0.0001"),
    (b"llm_provider-x-amzn-requestid", b"r-1"),
]
KEPT = [
    (b"x-litellm-call-id", b"call-1"),
    (b"x-litellm-cache-key", b"litellm.cache:team-x:h"),
    (b"x-ratelimit-remaining-requests", b"9"),
    (b"content-type", b"application/json"),
]


class Inner:
    """Echoes the body length it received; answers with internal and kept headers, plain or streamed."""

    def __init__(self) -> None:
        self.bodies: list[int] = []
        self.started = False

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.started = True
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(len(body))
        status = 400 if scope["path"] == "/error" else 200
        await send({"type": "http.response.start", "status": status, "headers": INTERNAL + KEPT})
        if scope["path"] == "/stream":
            for part in (b"data: 1\n\n", b"data: [DONE]\n\n"):
                await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": json.dumps({"got": len(body)}).encode()})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(request) -> Iterator[tuple[str, Inner, list]]:
    """The layer around Inner on uvicorn; the param is the RequestLimits to run with."""
    limits = getattr(request, "param", RequestLimits(max_request_body_mb=LIMIT_MB))
    inner, installed = Inner(), []
    app = asgi.GatewayASGI(inner, limits, on_startup=installed.append)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", inner, installed
    finally:
        server.should_exit = True
        thread.join(10)


def _assert_openai_413(response: httpx.Response) -> None:
    assert response.status_code == 413
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "request_too_large"
    assert f"{LIMIT_MB} MiB ({LIMIT_MB * MIB} bytes)" in error["message"]


# ---------------------------------------------------------------- body limit
def test_a_body_over_the_limit_with_content_length_gets_413_and_never_reaches_the_app(served):
    url, inner, _ = served
    began = time.monotonic()
    response = httpx.post(f"{url}/v1/chat/completions", content=b"x" * (LIMIT_MB * MIB + 1), timeout=10)
    elapsed = time.monotonic() - began
    _assert_openai_413(response)
    assert response.headers["connection"] == "close"
    assert inner.bodies == []
    assert elapsed < 2.0  # a clear margin: reading and parsing would not show here, a hang would


def test_a_413_is_written_before_the_rest_of_the_upload_is_read(served):
    """Status, headers and the whole JSON arrive while the client still holds most of its body."""
    url, _, _ = served
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        declared = 8 * MIB
        sock.sendall(
            f"POST /v1/embeddings HTTP/1.1\r\nhost: x\r\ncontent-length: {declared}\r\n\r\n".encode()
            + b"x" * 1024
        )
        answer = b""
        while b"request_too_large" not in answer:
            chunk = sock.recv(65536)
            assert chunk, f"closed before the 413 arrived: {answer!r}"
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_chunked_body_over_the_limit_gets_413(served):
    url, inner, _ = served

    def chunks() -> Iterator[bytes]:
        for _ in range(LIMIT_MB * 4 + 2):
            yield b"x" * (MIB // 4)

    response = httpx.post(f"{url}/v1/chat/completions", content=chunks(), timeout=10)
    assert "content-length" not in response.request.headers
    _assert_openai_413(response)
    assert inner.bodies == []


def _raw(url: str, head: str, body: bytes) -> bytes:
    """One request written byte for byte (clients refuse to send the framing these tests need)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def test_a_body_framed_by_both_content_length_and_chunks_is_refused_before_the_app(served):
    url, inner, _ = served
    chunk = b"x" * (LIMIT_MB * MIB + 10)
    body = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n"
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
        "content-length: 10\r\ntransfer-encoding: chunked\r\n\r\n"
    )

    answer = _raw(url, head, body)

    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"invalid_framing" in answer
    assert inner.bodies == []


def test_a_compressed_body_is_refused_with_415(served):
    url, inner, _ = served
    payload = gzip.compress(b"{}" * 1000)
    response = httpx.post(
        f"{url}/v1/chat/completions", content=payload, headers={"content-encoding": "gzip"}, timeout=10
    )

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_content_encoding"
    assert inner.bodies == []


def test_bodies_within_the_limit_reach_the_app_whole_with_or_without_content_length(served):
    url, inner, _ = served
    body = b"y" * (LIMIT_MB * MIB)
    assert httpx.post(f"{url}/a", content=body, timeout=10).json() == {"got": len(body)}
    chunked = httpx.post(f"{url}/b", content=iter([body[: MIB // 2], body[MIB // 2 :]]), timeout=10)
    assert chunked.json() == {"got": len(body)}
    assert httpx.get(f"{url}/c", timeout=10).json() == {"got": 0}
    assert inner.bodies == [len(body), len(body), 0]


# ---------------------------------------------------------------- response headers
@pytest.mark.parametrize("path", ["/plain", "/stream", "/error"])
def test_internal_headers_are_dropped_from_plain_streamed_and_error_answers(served, path):
    url, _, _ = served
    response = httpx.post(f"{url}{path}", content=b"{}", timeout=10)
    names = {name.encode() for name in response.headers}
    assert not names & {name for name, _ in INTERNAL}
    assert {name for name, _ in KEPT} <= names


@pytest.mark.parametrize(
    "served", [RequestLimits(max_request_body_mb=LIMIT_MB, expose_internal_headers=True)], indirect=True
)
def test_the_environment_setting_lets_internal_headers_through(served):
    url, _, _ = served
    names = {name.encode() for name in httpx.post(f"{url}/plain", content=b"{}", timeout=10).headers}
    assert {name for name, _ in INTERNAL} <= names


def test_the_header_rule_drops_every_litellm_and_provider_header_except_request_id_and_cache_key():
    assert asgi.is_internal(b"x-litellm-some-future-header")
    assert asgi.is_internal(b"llm_provider-anything")
    assert not asgi.is_internal(b"x-litellm-call-id")
    assert not asgi.is_internal(b"x-litellm-cache-key")
    assert not asgi.is_internal(b"x-ratelimit-limit-requests")
    assert not asgi.is_internal(b"retry-after")


# ---------------------------------------------------------------- start-up
def test_the_policies_are_installed_once_the_inner_app_has_started(served):
    _, inner, installed = served
    assert inner.started
    assert installed == [RequestLimits(max_request_body_mb=LIMIT_MB)]


def test_a_failing_install_stops_the_server_instead_of_serving_without_the_policies():
    def broken(_limits: RequestLimits) -> None:
        raise RuntimeError("no cache policy")

    app = asgi.GatewayASGI(Inner(), RequestLimits(), on_startup=broken)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="critical"))
    with pytest.raises(SystemExit):
        server.run()
    assert not server.started


# ---------------------------------------------------------------- gateway/serve.py
class FakeHelpers:
    @staticmethod
    def get_default_unvicorn_init_args(host: str, port: int, **_: object) -> dict:
        return {"app": serve.LITELLM_APP, "host": host, "port": port}


def test_serve_points_litellms_cli_at_the_gateway_layer_and_keeps_its_other_arguments():
    helpers = type("Helpers", (FakeHelpers,), {})
    serve.patch_cli(helpers)
    assert helpers.get_default_unvicorn_init_args("127.0.0.1", 4000) == {
        "app": "gateway.asgi:app",
        "host": "127.0.0.1",
        "port": 4000,
    }


def test_serve_refuses_a_litellm_whose_cli_serves_another_app():
    helpers = type("Helpers", (), {"get_default_unvicorn_init_args": staticmethod(lambda: {"app": "x:y"})})
    serve.patch_cli(helpers)
    with pytest.raises(RuntimeError, match=r"gateway/serve\.py must be updated"):
        helpers.get_default_unvicorn_init_args()


def test_litellms_cli_still_builds_its_uvicorn_arguments_where_serve_patches_them():
    """A LiteLLM upgrade that stops calling the helper would silently serve without the layer."""
    from litellm.proxy import proxy_cli

    source = inspect.getsource(proxy_cli.run_server.callback)
    assert "ProxyInitializationHelpers.get_default_unvicorn_init_args(" in source
    assert "uvicorn.run(" in source
    args = proxy_cli.ProxyInitializationHelpers.get_default_unvicorn_init_args(host="127.0.0.1", port=1)
    assert args["app"] == serve.LITELLM_APP
