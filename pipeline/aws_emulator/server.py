"""moto's server in this process, with the project's extensions, on 127.0.0.1 and a free port.

In-process (moto's ThreadedMotoServer) rather than `moto_server` in a subprocess:
the extensions patch moto's classes, and only this process's moto sees them.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from moto.server import ThreadedMotoServer

from . import extensions

HOST = "127.0.0.1"


# Process settings moto reads per request: the account to impersonate, managed
# IAM policies (the task execution role attaches AmazonECSTaskExecutionRolePolicy).
def _moto_settings(account_id: str | None) -> dict[str, str]:
    settings = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    if account_id:
        settings["MOTO_ACCOUNT_ID"] = account_id
    return settings


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class EmulatorServer:
    """A started moto server; `endpoint` is what every AWS client and provider endpoint points at."""

    def __init__(self, *, account_id: str | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.endpoint = f"http://{HOST}:{self.port}"
        self._settings = _moto_settings(account_id)
        self._saved_env: dict[str, str | None] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._server = ThreadedMotoServer(ip_address=HOST, port=self.port, verbose=False)

    def start(self) -> EmulatorServer:
        extensions.install()
        # werkzeug logs every request at INFO: thousands of lines during an apply.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        for key, value in self._settings.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        self._server.start()
        self.reset()
        return self

    def reset(self) -> None:
        """Forget every resource in every moto backend, extensions included."""
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=30).raise_for_status()

    def stop(self) -> None:
        self._server.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def client(self, service: str, region: str = "us-east-1") -> Any:
        """A boto3 client bound to this server, with throwaway credentials (one per service and region)."""
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self._new_client(service, region)
        return self._clients[key]

    def _new_client(self, service: str, region: str) -> Any:
        import boto3

        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto accepts any credentials
        )


@contextmanager
def running(*, account_id: str | None = None) -> Iterator[EmulatorServer]:
    """Start, yield, and always stop (also on failure or Ctrl-C)."""
    server = EmulatorServer(account_id=account_id)
    server.start()
    try:
        yield server
    finally:
        server.stop()
