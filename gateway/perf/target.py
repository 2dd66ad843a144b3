"""Where a perf tool sends its traffic: a deployed gateway (`--url/--key`) or a local stack it owns.

Every tool takes the same two options and falls back to the same variables, so a
run against AWS and a run against `nox -s serve`'s stack differ by arguments only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

# Checked in this order; the second is the reference design's name.
KEY_VARIABLES = ("GATEWAY_API_KEY", "LITELLM_API_KEY")


@dataclass(frozen=True)
class GatewayTarget:
    """A gateway to call; `stack` is the LocalStack when this tool started one (else None)."""

    url: str
    key: str
    stack: Any = None

    @property
    def local(self) -> bool:
        return self.stack is not None


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="a deployed gateway (default: start a local stack and stop it after)")
    parser.add_argument(
        "--key",
        help=f"its key (default: ${KEY_VARIABLES[0]} or ${KEY_VARIABLES[1]}; argv is visible to all users)",
    )


def key_from(args_key: str | None, environ: dict[str, str] | os._Environ = os.environ) -> str | None:
    if args_key:
        return args_key
    for name in KEY_VARIABLES:
        if environ.get(name):
            return environ[name]
    return None


def strip_separator(argv: list[str]) -> list[str]:
    """nox passes `-- --url …` through verbatim; a leading `--` is not an argument of ours."""
    return argv[1:] if argv[:1] == ["--"] else argv


@contextlib.contextmanager
def gateway_target(
    url: str | None, key: str | None, *, variant: str = "full", log: Callable[[str], None] = print
) -> Iterator[GatewayTarget]:
    """Yield the deployed gateway, or a fresh local stack that is stopped however the block ends."""
    if url:
        resolved = key_from(key)
        if not resolved:
            raise SystemExit(f"--url needs --key or ${KEY_VARIABLES[0]}")
        yield GatewayTarget(url=url.rstrip("/"), key=resolved)
        return
    from gateway.devstack import LocalStack  # imported late: a deployed run needs none of it

    log(f"starting a local stack (variant {variant}); pass --url/--key to target a deployed gateway")
    with LocalStack(variant=variant, log=log) as stack:
        # The proxy itself, not the local front: in AWS the load balancer's work is not on the task's CPU.
        yield GatewayTarget(url=stack.proxy_url, key=stack.master_key, stack=stack)
