"""Waiting for a service to become usable, without hanging when it died."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import httpx

T = TypeVar("T")


class NotReady(Exception):
    """A service did not become ready; the message says which and why."""

    def __init__(self, service: str, message: str) -> None:
        super().__init__(message)
        self.service = service


def wait_until(
    probe: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.25,
    alive: Callable[[], bool] | None = None,
    progress: Callable[[float], None] | None = None,
    progress_every: float = 20.0,
) -> float:
    """Poll `probe` until it returns True; return the seconds it took.

    `alive` is checked between polls so a crashed service fails at once
    instead of after the whole timeout. A probe that raises counts as not ready.
    `progress(elapsed)` is called every `progress_every` seconds of waiting, so
    a slow start never looks like a hang.
    """
    start = time.monotonic()
    deadline = start + timeout
    next_progress = start + progress_every
    last_error = ""
    while True:
        try:
            if probe():
                return time.monotonic() - start
        except Exception as err:
            last_error = f" (last probe error: {type(err).__name__}: {err})"
        if alive is not None and not alive():
            raise NotReady(what, f"{what} exited before it was ready{last_error}")
        if time.monotonic() >= deadline:
            raise NotReady(what, f"{what} not ready after {timeout:.0f} s{last_error}")
        if progress is not None and time.monotonic() >= next_progress:
            progress(time.monotonic() - start)
            next_progress += progress_every
        time.sleep(interval)


def tcp_open(host: str, port: int) -> Callable[[], bool]:
    """Probe: something accepts TCP connections on host:port."""

    def probe() -> bool:
        with socket.create_connection((host, port), timeout=1):
            return True

    return probe


def http_ok(url: str, *, headers: dict[str, str] | None = None) -> Callable[[], bool]:
    """Probe: GET `url` answers 2xx."""

    def probe() -> bool:
        response = httpx.get(url, headers=headers, timeout=3, trust_env=False)
        return response.is_success

    return probe


@dataclass(frozen=True)
class Pending(Generic[T]):
    """A service that was started and may still be booting: start several, then wait for each.

    `.wait()` returns the service once `health_url` answers 2xx, and fails at once
    if the process behind `alive` died.
    """

    service: T
    what: str
    health_url: str
    alive: Callable[[], bool]
    timeout: float

    def wait(self, progress: Callable[[float], None] | None = None) -> T:
        wait_until(
            http_ok(self.health_url),
            timeout=self.timeout,
            what=self.what,
            alive=self.alive,
            interval=0.5,
            progress=progress,
        )
        return self.service
