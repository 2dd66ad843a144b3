"""Run the release's database migration in AWS: the stack's migration task, once, after apply.

    python -m pipeline.migrate dev [--out-dir plans] [--timeout 900]

Reads what `pipeline.apply` wrote (`<out-dir>/<env>.outputs.json`: the outputs
`migration_task_definition_arn`, `ecs_cluster_name`, `task_subnet_ids`,
`task_security_group_id`), starts that task on Fargate in the private subnets with
the service's security group and no public IP, waits for it to stop and requires
exit code 0 from every container. The command it runs is the image's own
(`python -m gateway.entrypoint migrate`, proven by `nox -s integration`). Exit 0:
migrated; 1: the task could not start, failed or did not stop in time, said on one
line with ECS's reason.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline import one_off_task, stack_outputs

OUTPUTS = ("migration_task_definition_arn", *one_off_task.NETWORK_OUTPUTS)
WHAT = "the migration task"


class MigrationFailed(one_off_task.TaskFailed):
    """The migration did not run to a clean exit; the message says why."""


def read_outputs(out_dir: Path, environment: str) -> dict[str, Any]:
    return stack_outputs.read(out_dir, environment, OUTPUTS, MigrationFailed)


def run_migration(
    ecs: Any,
    outputs: dict[str, Any],
    timeout: float,
    poll: float = 6.0,
    sleep: Callable[[float], None] | None = None,  # time.sleep, looked up when called
) -> str:
    """Start the task, wait until it stops, and return its ARN; raises MigrationFailed otherwise."""
    try:
        arn = one_off_task.start(
            ecs, outputs, outputs["migration_task_definition_arn"], what=WHAT, started_by="pipeline.migrate"
        )
        task = one_off_task.wait(
            ecs, outputs["ecs_cluster_name"], arn, timeout, what=WHAT, poll=poll, sleep=sleep
        )
    except MigrationFailed:
        raise
    except one_off_task.TaskFailed as err:
        raise MigrationFailed(str(err)) from None
    problem = one_off_task.verdict(task)
    if problem:
        raise MigrationFailed(f"{WHAT} {arn} failed: {problem}")
    return arn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the stack's migration task once and require exit 0.")
    parser.add_argument("environment")
    parser.add_argument("--out-dir", type=Path, default=Path("plans"), help="where apply wrote its outputs")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait (default: %(default)s)")
    parser.add_argument("--region", help="default: the AWS SDK's (AWS_REGION)")
    args = parser.parse_args(argv)
    import boto3  # deferred: heavy, and only this command needs it
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        outputs = read_outputs(args.out_dir, args.environment)
        started = time.monotonic()
        arn = run_migration(boto3.client("ecs", region_name=args.region), outputs, args.timeout)
    except MigrationFailed as err:
        print(f"error: {args.environment}: {err}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as err:
        print(f"error: {args.environment}: the migration could not be run: {err}", file=sys.stderr)
        return 1
    print(f"{args.environment}: migrated ({arn}, {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
