"""What smoke and the perf tools run against: a deployed gateway (`--url/--key`) or a local stack they own.

Every tool takes the same two options and falls back to the same variables, so a
run against AWS and a run against a local stack differ by arguments only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gateway.emulator.latency import INSTANT, add_latency_argument

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


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """What a local stack is started with: the environment file, the config variant, where it writes."""
    parser.add_argument(
        "--environment",
        default="dev",
        help="environments/<name>/config.yaml supplies the model catalogue (default: dev)",
    )
    parser.add_argument(
        "--variant",
        choices=("full", "bare"),
        default="full",
        help="gateway config: full (default) or bare (no guardrail, cache, callbacks, limits)",
    )
    parser.add_argument("--work-dir", type=Path, help="data and logs (default: .work/devstack/<timestamp>)")
    add_latency_argument(parser, default=INSTANT)


def run_stack_command(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a CLI command that may start a local stack: a failed start exits 2, Ctrl-C 130, both said."""
    from gateway.devstack.stack import StackError
    from gateway.devstack.system import MissingRequirement

    try:
        return command(args)
    except (StackError, MissingRequirement) as err:
        print(f"\nlocal stack failed: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: every service was stopped", file=sys.stderr)
        return 130


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
    url: str | None,
    key: str | None,
    *,
    variant: str = "full",
    environment: str = "dev",
    work_dir: Path | None = None,
    entry: Literal["proxy", "front"] = "proxy",
    log: Callable[[str], None] = print,
    latency: str = INSTANT,
) -> Iterator[GatewayTarget]:
    """Yield the deployed gateway, or a fresh local stack that is stopped however the block ends.

    `entry`: the perf tools call the proxy itself (in AWS the load balancer's work is not on the
    task's CPU); smoke calls the front, which lets through only what the load balancer does.
    """
    if url:
        resolved = key_from(key)
        if not resolved:
            print(f"--url needs a key: --key KEY or ${KEY_VARIABLES[0]}", file=sys.stderr)
            raise SystemExit(2)  # a usage error, before any request
        yield GatewayTarget(url=url.rstrip("/"), key=resolved)
        return
    from gateway.devstack import LocalStack  # imported late: a deployed run needs none of it

    log(
        f"starting a local stack (variant {variant}, latency {latency}); "
        "pass --url/--key to target a deployed gateway"
    )
    with LocalStack(
        variant=variant, environment=environment, work_dir=work_dir, log=log, latency=latency
    ) as stack:
        chosen = stack.gateway_url if entry == "front" else stack.proxy_url
        yield GatewayTarget(url=chosen, key=stack.master_key, stack=stack)
