"""The admin task's command run against a LocalStack: what ECS's run-task does in AWS, done here.

    run_admin(stack, ["smoke-key", "--env", "dev"], aws={...}) -> AdminRun

The command is the image's (`python -m gateway.entrypoint admin …`), given only the variables the admin
task definition may pass (gateway/contract.py, command `admin`), taken from the stack's contract: the
stack's database as the serving role, its master and salt keys, its catalogue. No Redis, Phoenix or
guardrail reaches it. `aws` adds what the task role and the task definition give in AWS: credentials and
endpoint of a Secrets Manager (locally the emulator, pipeline/aws_emulator) and the secret names.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway import contract
from gateway.devstack.proxy import proxy_environment
from gateway.devstack.system import REPO

# The admin task definition's entry point (`python -E -u -B -m gateway.entrypoint`) with this interpreter.
ADMIN_COMMAND = (*contract.ADMIN_ENTRY_POINT[1:], "admin")


@dataclass(frozen=True)
class AdminRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def admin_environment(stack: Any, aws: Mapping[str, str], *, home: Path | None = None) -> dict[str, str]:
    """The admin container's environment: the contract's admin variables from the stack, plus `aws`."""
    admin_names = (
        contract.passed_by_task("admin", "environment")
        | contract.passed_by_task("admin", "secret")
        | {v.name for v in contract.VARIABLES if v.source == "local" and "admin" in v.commands}
    )
    values = {name: value for name, value in stack.contract.items() if name in admin_names}
    return proxy_environment({**values, **aws}, home=home or stack.work_dir / "admin")


def run_admin(
    stack: Any, program: Sequence[str], *, aws: Mapping[str, str], timeout: float = 600
) -> AdminRun:
    """Run one admin program to its end; its output is returned (and never echoed: tests grep it)."""
    env = admin_environment(stack, aws)
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, *ADMIN_COMMAND, *program],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    return AdminRun(done.returncode, done.stdout, done.stderr, round(time.monotonic() - began, 1))
