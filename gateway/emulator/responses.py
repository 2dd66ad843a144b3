"""HTTP and wire format: Bedrock Runtime's rest-json routes and the emulator's control API.

A small stdlib server on purpose: a benchmark pushes thousands of requests
through it, so each request does little besides the signature check and the
backend call, connections are kept alive (HTTP/1.1), Nagle is off, and a
response goes out in one write. A stream goes out one write per event, each
when the latency model says its tokens were generated.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import socket
import sys
import threading
import time
import traceback
import uuid
from collections import defaultdict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from gateway.emulator import models as ops
from gateway.emulator.catalog import MODELS
from gateway.emulator.eventstream import encode_event
from gateway.emulator.exceptions import AwsError, InternalServerException, UnknownOperationException
from gateway.emulator.models import BedrockBackend
from gateway.emulator.sigv4 import SigV4Verifier
from gateway.emulator.urls import CONTROL_PREFIX, GUARDRAIL_ROUTE, MODEL_ROUTE, OPERATION_BY_SUFFIX

_STREAMING = {ops.CONVERSE_STREAM, ops.INVOKE_STREAM}
EVENTSTREAM = "application/vnd.amazon.eventstream"
_MAX_BODY = 25 * 1024 * 1024


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Threaded server that remembers its open connections so `stop` can end keep-alive clients."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(
        self, address: tuple[str, int], backend: BedrockBackend, verifier: SigV4Verifier, *, quiet=True
    ):
        self.backend = backend
        self.verifier = verifier
        self.quiet = quiet
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, EmulatorHandler)

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class EmulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bedrock-emulator"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300  # an idle keep-alive connection is dropped after this many seconds
    server: EmulatorHTTPServer

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def log_message(self, format, *args):
        if not self.server.quiet:
            super().log_message(format, *args)

    # ------------------------------------------------------------ dispatch
    def _dispatch(self) -> None:
        self._request_id = str(uuid.uuid4())
        received = time.time()
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True
            self._send(400, {"Content-Type": "application/json"}, json.dumps({"message": str(exc)}).encode())
            return
        path = self.path.partition("?")[0]
        if path.startswith(CONTROL_PREFIX):
            self._control(path[len(CONTROL_PREFIX) :], body)
            return
        operation, target = "Unknown", path
        try:
            model_route = MODEL_ROUTE.match(path) if self.command == "POST" else None
            guardrail_route = GUARDRAIL_ROUTE.match(path) if self.command == "POST" else None
            if model_route:
                operation, target = OPERATION_BY_SUFFIX[model_route["op"]], unquote(model_route["model"])
            elif guardrail_route:
                operation, target = ops.APPLY_GUARDRAIL, "guardrail"
            self.server.verifier.verify(self.command, self.path, self._header_lists(), body)
            if model_route:
                write = self._model(operation, target, body)
            elif guardrail_route:
                prepared = self.server.backend.prepare_guardrail(
                    unquote(guardrail_route["id"]), unquote(guardrail_route["version"]), body
                )
                self._wait(prepared.delay_s)
                response = prepared.render(0)
                write = lambda: self._send_json(200, response)  # noqa: E731
            else:
                raise UnknownOperationException()
            status, error = 200, None
        except AwsError as aws_error:
            status, error = aws_error.status, aws_error
        except Exception:  # an emulator bug must still answer as AWS would, and say why on stderr
            traceback.print_exc(file=sys.stderr)
            error = InternalServerException()
            status = error.status
        if error is not None:
            write = functools.partial(self._send, error.status, error.headers(), error.body())
        # Count the call before answering, so a client that reads /_emulator/stats right after sees it.
        self.server.backend.record(operation, target, status, error, received)
        write()

    def _model(self, operation: str, model_id: str, body: bytes) -> Callable[[], None]:
        """Run the call and return the function that writes its response."""
        started = time.monotonic()
        backend = self.server.backend
        prepared = backend.prepare(operation, model_id, body)
        self._wait(prepared.delay_s)
        latency_ms = int((time.monotonic() - started) * 1000)
        if operation in _STREAMING:  # the metadata's latency: first token plus the planned generation
            latency_ms += int(prepared.usage[1] * prepared.per_token_s * 1000)
        result = prepared.render(latency_ms)
        if operation in _STREAMING:
            gaps, first = [], True
            for event in result:
                tokens = ops.event_tokens(event)
                gaps.append(0.0 if first else backend.latency.chunk_gap(tokens, prepared.per_token_s))
                first = first and tokens == 0  # the first token's time is the TTFT already waited
        if operation == ops.CONVERSE_STREAM:
            frames = [encode_event(name, event) for name, event in result]
            return lambda: self._send_stream(frames, gaps=gaps)
        if operation == ops.INVOKE_STREAM:
            frames = [
                encode_event("chunk", {"bytes": base64.b64encode(_compact(c)).decode()}) for c in result
            ]
            return lambda: self._send_stream(
                frames, {"X-Amzn-Bedrock-Content-Type": "application/json"}, gaps=gaps
            )
        if operation == ops.INVOKE:
            input_tokens, output_tokens = prepared.usage
            headers = {
                "X-Amzn-Bedrock-Input-Token-Count": str(input_tokens),
                "X-Amzn-Bedrock-Output-Token-Count": str(output_tokens),
                "X-Amzn-Bedrock-Invocation-Latency": str(latency_ms),
            }
            return lambda: self._send_json(200, result, headers)
        return lambda: self._send_json(200, result)

    # ------------------------------------------------------------ control API
    def _control(self, name: str, body: bytes) -> None:
        backend = self.server.backend
        if self.client_address[0] not in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
            self._send_json(403, {"error": "the control API answers only on the loopback interface"})
            return
        try:
            request = json.loads(body) if body else {}
            if not isinstance(request, dict):
                raise ValueError("the request body must be a JSON object")
            routes = {
                ("GET", "health"): lambda: {
                    "status": "ok",
                    "region": self.server.verifier.region,
                    "models": sorted(MODELS),
                    "guardrail": backend.guardrail.definition.name,
                    "guardrail_digest": backend.guardrail.definition.digest(),
                    "latency": backend.latency.profile,
                },
                ("POST", "reset"): lambda: (backend.reset(), {"status": "reset"})[1],
                ("GET", "faults"): backend.faults.snapshot,
                ("POST", "faults"): lambda: backend.faults.configure(request),
                ("DELETE", "faults"): lambda: (backend.faults.clear(), backend.faults.snapshot())[1],
                ("GET", "stats"): backend.stats,
            }
            handler = routes.get((self.command, name))
            if handler is None:
                self._send_json(404, {"error": f"no control route {self.command} {CONTROL_PREFIX}{name}"})
                return
            self._send_json(200, handler())
        except ValueError as exc:
            self._send_json(400, {"error": str(exc)})

    # ------------------------------------------------------------ wire helpers
    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > _MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        parts, total = [], 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > _MAX_BODY:
                raise ValueError("request body too large")
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _header_lists(self) -> dict[str, list[str]]:
        headers: defaultdict[str, list[str]] = defaultdict(list)
        for name, value in self.headers.items():
            headers[name.lower()].append(value)
        return headers

    @staticmethod
    def _wait(delay_s: float) -> None:
        if delay_s > 0:
            time.sleep(delay_s)

    def _send_json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, {"Content-Type": "application/json", **(headers or {})}, _compact(payload))

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        head += [
            f"x-amzn-RequestId: {self._request_id}",
            f"Content-Length: {len(body)}",
            f"Date: {self.date_time_string()}",
        ]
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        self.log_request(status, len(body))

    def _send_stream(
        self, frames: list[bytes], headers: dict[str, str] | None = None, *, gaps: list[float]
    ) -> None:
        """Chunked transfer, one HTTP chunk per event, as Bedrock streams; `gaps[i]` s before frame i.

        Gaps add up on one clock (each frame is due at the sum of the gaps before it), so a
        late wake-up on a busy machine does not stretch the whole stream.
        """
        head = [
            "HTTP/1.1 200 OK",
            f"Content-Type: {EVENTSTREAM}",
            "Transfer-Encoding: chunked",
            f"x-amzn-RequestId: {self._request_id}",
            f"Date: {self.date_time_string()}",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode())
        due = time.monotonic()
        for frame, gap in zip(frames, gaps, strict=True):
            if gap > 0:
                due += gap
                self._wait(due - time.monotonic())
            self.wfile.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")
        self.log_request(200)


def _compact(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
