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

from pipeline import stack_outputs

OUTPUTS = ("migration_task_definition_arn", "ecs_cluster_name", "task_subnet_ids", "task_security_group_id")


class MigrationFailed(Exception):
    """The migration did not run to a clean exit; the message says why."""


def read_outputs(out_dir: Path, environment: str) -> dict[str, Any]:
    return stack_outputs.read(out_dir, environment, OUTPUTS, MigrationFailed)


def verdict(task: dict[str, Any]) -> str | None:
    """None when a stopped task ran every container to exit code 0, else why not."""
    failed = []
    for container in task.get("containers") or []:
        code = container.get("exitCode")
        if code != 0:
            reason = container.get("reason") or ("no exit code: it never ran" if code is None else "")
            failed.append(f"{container.get('name')} exited {code}{f' ({reason})' if reason else ''}")
    if not task.get("containers"):
        failed.append("the task has no containers")
    if failed:
        stopped = task.get("stoppedReason") or "no reason given"
        return f"{'; '.join(failed)}; ECS: {stopped}"
    return None


def run_migration(
    ecs: Any,
    outputs: dict[str, Any],
    timeout: float,
    poll: float = 6.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Start the task, wait until it stops, and return its ARN; raises MigrationFailed otherwise."""
    cluster = outputs["ecs_cluster_name"]
    started = ecs.run_task(
        cluster=cluster,
        taskDefinition=outputs["migration_task_definition_arn"],
        launchType="FARGATE",
        count=1,
        startedBy="pipeline.migrate",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": list(outputs["task_subnet_ids"]),
                "securityGroups": [outputs["task_security_group_id"]],
                "assignPublicIp": "DISABLED",
            }
        },
    )
    if started.get("failures") or not started.get("tasks"):
        reasons = "; ".join(
            f"{f.get('arn', '')} {f.get('reason', '')}".strip() for f in started.get("failures", [])
        )
        raise MigrationFailed(f"the migration task did not start: {reasons or 'no task returned'}")
    arn = started["tasks"][0]["taskArn"]
    deadline = time.monotonic() + timeout
    while True:
        task = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
        if task.get("lastStatus") == "STOPPED":
            problem = verdict(task)
            if problem:
                raise MigrationFailed(f"the migration task {arn} failed: {problem}")
            return arn
        if time.monotonic() >= deadline:
            raise MigrationFailed(
                f"the migration task {arn} is still {task.get('lastStatus')} after {timeout:.0f} s; "
                "it keeps running: look at its logs before deploying again"
            )
        sleep(poll)


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
