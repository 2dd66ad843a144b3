"""Run the emulator in a background thread: used by the CLI and by test fixtures alike."""

from __future__ import annotations

import threading

from gateway.emulator.faults import FaultInjector
from gateway.emulator.guardrail import GuardrailEngine, load_definition
from gateway.emulator.latency import INSTANT, LatencyModel
from gateway.emulator.models import BedrockBackend
from gateway.emulator.responses import EmulatorHTTPServer
from gateway.emulator.sigv4 import Credentials, SigV4Verifier


class RunningEmulator:
    """A started emulator; `stop()` closes the listener and every open connection, then joins."""

    def __init__(self, server: EmulatorHTTPServer) -> None:
        self.server = server
        self.backend = server.backend
        host, port = server.server_address[:2]
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=server.serve_forever, name="bedrock-emulator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


def start_emulator(
    credentials: Credentials,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    region: str = "us-east-1",
    latency_ms: int = 0,
    latency: str | LatencyModel = INSTANT,
    quiet: bool = True,
) -> RunningEmulator:
    """Build the backend from the project's guardrail definition and serve it; port 0 picks a free port.

    `latency`: a profile name (latency.PROFILES) or a model; `latency_ms` is added on top.
    """
    model = latency if isinstance(latency, LatencyModel) else LatencyModel(latency)
    backend = BedrockBackend(
        GuardrailEngine(load_definition()), FaultInjector(default_latency_ms=latency_ms), model
    )
    verifier = SigV4Verifier(credentials, region)
    return RunningEmulator(EmulatorHTTPServer((host, port), backend, verifier, quiet=quiet))
