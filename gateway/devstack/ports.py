"""Free loopback ports, so parallel stacks and other engineers' services never collide."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK, *, exclude: set[int] | frozenset[int] = frozenset()) -> int:
    """A port nothing listens on right now; `exclude` keeps ports handed out earlier in this run distinct.

    The kernel picks it (bind to port 0). There is a window between this call
    and the service binding it; readiness checks catch the rare lost race.
    """
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in exclude:
            return port
    raise RuntimeError("could not find a free port")


class PortAllocator:
    """Hands out distinct free ports for one stack."""

    def __init__(self, host: str = LOOPBACK) -> None:
        self.host = host
        self.given: set[int] = set()

    def __call__(self) -> int:
        port = free_port(self.host, exclude=self.given)
        self.given.add(port)
        return port
