"""Run the gateway's `admin` command in AWS: the stack's admin task, once, with a command override.

    python -m pipeline.admin dev smoke-key
    python -m pipeline.admin dev access plan [--markdown plans/dev.access-plan.md]
    python -m pipeline.admin dev access apply [--allow-delete]
    [--out-dir plans] [--timeout 900] [--region REGION]

Why a task (docs/gateway.md, "Admin access"): the management API is reached on the task's own
127.0.0.1 inside the VPC, never through the public entry. Reads what `pipeline.apply` wrote
(`<out-dir>/<env>.outputs.json`), starts `admin_task_definition_arn` with the command
`admin <program> --env ENV` in the private subnets (pipeline/one_off_task.py), waits for it to
stop, reads the container's log lines back from CloudWatch Logs (stream
`<admin_log_stream_prefix>/<admin_container_name>/<task id>` in `admin_log_group_name`) and
prints them; `--markdown FILE` also writes them for the job summary. Exit: the program's code
when it is 0, or 2 from `access plan` (changes or drift), else 1 (the program failed, the task
never ran, or it did not stop in time: said on one `error:` line).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pipeline import one_off_task, stack_outputs

OUTPUTS = (
    "admin_task_definition_arn",
    "admin_container_name",
    "admin_log_group_name",
    "admin_log_stream_prefix",
    *one_off_task.NETWORK_OUTPUTS,
)
WHAT = "the admin task"
# Every admin task the runner starts carries this tag: the runner may stop only tasks that carry it
# (docs/iam/admin-runner.json), never a serving task of the same cluster.
TASK_TAG = ("llm-gateway:task", "admin")
# The program's own codes passed on; anything else is an error (1). Only `access plan` has a 2.
PASSED_THROUGH = {("access", "plan"): (0, 2)}
OK_ONLY = (0,)
# awslogs delivers the last lines within seconds of the container's exit; wait that long for the stream.
LOG_WAIT_SECONDS = 30.0


class AdminFailed(one_off_task.TaskFailed):
    """The admin task could not be run to an exit code; the message says why."""


def command(environment: str, program: list[str], *, allow_delete: bool = False) -> list[str]:
    """The container command: the image's `admin` program for this environment."""
    argv = ["admin", *program, "--env", environment]
    return [*argv, "--allow-delete"] if allow_delete else argv


def log_stream(outputs: dict[str, Any], task_arn: str) -> str:
    """awslogs' stream name for a task: `<prefix>/<container>/<task id>`."""
    prefix, container = outputs["admin_log_stream_prefix"], outputs["admin_container_name"]
    return f"{prefix}/{container}/{one_off_task.task_id(task_arn)}"


def read_log_lines(
    logs: Any,
    group: str,
    stream: str,
    *,
    patience: float = LOG_WAIT_SECONDS,
    poll: float = 3.0,
    sleep: Callable[[float], None] | None = None,  # time.sleep, looked up when called
) -> list[str]:
    """Every message of the stream, oldest first (all pages); [] when the stream never appeared."""
    sleep = sleep or time.sleep
    deadline = time.monotonic() + patience
    while True:
        try:
            return _all_events(logs, group, stream)
        except logs.exceptions.ResourceNotFoundException:
            if time.monotonic() >= deadline:
                return []
            sleep(poll)


def _all_events(logs: Any, group: str, stream: str) -> list[str]:
    lines: list[str] = []
    request: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    while True:
        page = logs.get_log_events(**request)
        lines += [event["message"] for event in page.get("events", [])]
        token = page.get("nextForwardToken")
        if not token or token == request.get("nextToken"):  # the same token again: the end
            return lines
        request["nextToken"] = token


def run_admin(
    ecs: Any,
    logs: Any,
    outputs: dict[str, Any],
    argv: list[str],
    timeout: float,
    *,
    poll: float = 6.0,
    sleep: Callable[[float], None] | None = None,  # time.sleep, looked up when called
    log_patience: float = LOG_WAIT_SECONDS,
) -> tuple[int, list[str], str]:
    """Run the admin task with `argv`; (its container's exit code, its log lines, task ARN).

    Raises AdminFailed when it did not start, did not stop in time or never ran its command.
    """
    container = outputs["admin_container_name"]
    try:
        arn = one_off_task.start(
            ecs,
            outputs,
            outputs["admin_task_definition_arn"],
            what=WHAT,
            started_by="pipeline.admin",
            command=argv,
            container=container,
            tags=[TASK_TAG],
        )
        task = one_off_task.wait(
            ecs, outputs["ecs_cluster_name"], arn, timeout, what=WHAT, poll=poll, sleep=sleep, stop=True
        )
    except one_off_task.TaskFailed as err:
        raise AdminFailed(str(err)) from None
    lines = read_log_lines(
        logs, outputs["admin_log_group_name"], log_stream(outputs, arn), patience=log_patience, sleep=sleep
    )
    code = one_off_task.exit_code(task, container)
    if code is None:
        why = one_off_task.verdict(task) or one_off_task.stopped_reason(task)
        raise AdminFailed(
            f"{WHAT} {arn} never ran its command: {why}" + "".join(f"\n{line}" for line in lines)
        )
    return code, lines, arn


def markdown(environment: str, argv: list[str], code: int, lines: list[str]) -> str:
    """The job summary: what ran, its exit code, and its log lines verbatim."""
    fence = "````" if any("```" in line for line in lines) else "```"
    body = "\n".join(lines) if lines else "(no log lines were found)"
    return (
        f"### `{' '.join(argv)}` in {environment} (exit {code})\n\n"
        f"Run as the stack's admin task (pipeline.admin); its log lines:\n\n{fence}\n{body}\n{fence}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the gateway's admin command as the stack's admin task.")
    parser.add_argument("environment")
    parser.add_argument("program", nargs="+", help="smoke-key | access plan | access apply")
    parser.add_argument("--allow-delete", action="store_true", help="access apply: carry out deletions")
    parser.add_argument("--markdown", type=Path, help="also write the log lines here (job summary)")
    parser.add_argument("--out-dir", type=Path, default=Path("plans"), help="where apply wrote its outputs")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait (default: %(default)s)")
    parser.add_argument("--region", help="default: the AWS SDK's (AWS_REGION)")
    args = parser.parse_args(argv)
    if args.program not in (["smoke-key"], ["access", "plan"], ["access", "apply"]):
        parser.error(f"program {' '.join(args.program)!r}: use smoke-key, access plan or access apply")
    if args.allow_delete and args.program != ["access", "apply"]:
        parser.error("--allow-delete: only with access apply")
    import boto3  # deferred: heavy, and only this command needs it
    from botocore.exceptions import BotoCoreError, ClientError

    container_argv = command(args.environment, args.program, allow_delete=args.allow_delete)
    # GitHub cancels a job with SIGINT, then SIGTERM: either one stops the task before the runner exits.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        outputs = stack_outputs.read(args.out_dir, args.environment, OUTPUTS, AdminFailed)
        began = time.monotonic()
        code, lines, arn = run_admin(
            boto3.client("ecs", region_name=args.region),
            boto3.client("logs", region_name=args.region),
            outputs,
            container_argv,
            args.timeout,
        )
    except AdminFailed as err:
        print(f"error: {args.environment}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the job was cancelled: the task was stopped (one_off_task.wait)
        print(f"error: {args.environment}: cancelled; the admin task was stopped", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as err:
        print(f"error: {args.environment}: the admin task could not be run: {err}", file=sys.stderr)
        return 1
    print_task_lines(lines)
    if not lines:
        stream = log_stream(outputs, arn)
        print(f"note: no log lines in {outputs['admin_log_group_name']} {stream}", file=sys.stderr)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown(args.environment, container_argv, code, lines), encoding="utf-8")
    seconds = time.monotonic() - began
    if code in PASSED_THROUGH.get(tuple(args.program), OK_ONLY):
        print(f"{args.environment}: {' '.join(container_argv)} exited {code} ({arn}, {seconds:.0f} s)")
        return code
    print(f"error: {args.environment}: {' '.join(container_argv)} exited {code} ({arn})", file=sys.stderr)
    return 1


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def print_task_lines(lines: list[str], environ: Mapping[str, str] = os.environ) -> None:
    """The task's lines, as they are; inside GitHub Actions between stop-commands markers, so a line
    that starts with `::` is printed, never run as a workflow command (a mask, an output, an env file)."""
    token = secrets.token_hex(16) if environ.get("GITHUB_ACTIONS") == "true" else None
    if token:
        print(f"::stop-commands::{token}")
    for line in lines:
        print(line)
    if token:
        print(f"::{token}::")


if __name__ == "__main__":
    sys.exit(main())
