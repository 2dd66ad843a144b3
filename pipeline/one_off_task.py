"""One-off ECS tasks of the gateway image (migrate, admin): start one, wait until it stops, judge it.

pipeline.migrate and pipeline.admin both start a task from a stack output's task definition
in the private subnets with the service's security group and no public IP (`task_subnet_ids`,
`task_security_group_id`, `ecs_cluster_name`), wait for it to stop and read its containers'
exit codes. What each then requires of the exit code is its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

# The stack outputs every one-off task runs with (beside its own task definition's).
NETWORK_OUTPUTS = ("ecs_cluster_name", "task_subnet_ids", "task_security_group_id")


class TaskFailed(Exception):
    """The task could not start, did not stop in time, or stopped in a way the caller refuses."""


def task_id(arn: str) -> str:
    """The task's id: the last part of its ARN (what awslogs puts at the end of the stream name)."""
    return arn.rsplit("/", 1)[-1]


def start(
    ecs: Any,
    outputs: dict[str, Any],
    task_definition_arn: str,
    *,
    what: str,
    started_by: str,
    command: Sequence[str] | None = None,
    container: str | None = None,
    tags: Sequence[tuple[str, str]] = (),
) -> str:
    """Run one Fargate task (with `command` replacing `container`'s when given, tagged with `tags`);
    its ARN, or TaskFailed."""
    request: dict[str, Any] = {
        "cluster": outputs["ecs_cluster_name"],
        "taskDefinition": task_definition_arn,
        "launchType": "FARGATE",
        "count": 1,
        "startedBy": started_by,
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": list(outputs["task_subnet_ids"]),
                "securityGroups": [outputs["task_security_group_id"]],
                "assignPublicIp": "DISABLED",
            }
        },
    }
    if tags:
        request["tags"] = [{"key": key, "value": value} for key, value in tags]
    if command is not None:
        if not container:
            raise ValueError("start: a command override needs the container's name")
        request["overrides"] = {"containerOverrides": [{"name": container, "command": list(command)}]}
    started = ecs.run_task(**request)
    if started.get("failures") or not started.get("tasks"):
        reasons = "; ".join(
            f"{f.get('arn', '')} {f.get('reason', '')}".strip() for f in started.get("failures", [])
        )
        raise TaskFailed(f"{what} did not start: {reasons or 'no task returned'}")
    return started["tasks"][0]["taskArn"]


def wait(
    ecs: Any,
    cluster: str,
    arn: str,
    timeout: float,
    *,
    what: str,
    poll: float = 6.0,
    sleep: Callable[[float], None] | None = None,  # time.sleep, looked up when called
    stop: bool = False,
) -> dict[str, Any]:
    """The task as ECS describes it once STOPPED; TaskFailed when it is still running at the deadline.

    With `stop`, a task still running at the deadline, or when the wait is interrupted (a cancelled
    job: SIGINT, or SIGTERM turned into KeyboardInterrupt by the caller), is stopped first, so a
    re-run never overlaps it. Without, it keeps running (a migration is not cut off half-way).
    """
    sleep = sleep or time.sleep
    deadline = time.monotonic() + timeout
    try:
        while True:
            task = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
            if task.get("lastStatus") == "STOPPED":
                return task
            if time.monotonic() >= deadline:
                break
            sleep(poll)
    except KeyboardInterrupt:
        if stop:
            ecs.stop_task(cluster=cluster, task=arn, reason=f"{what}: the run waiting for it was cancelled")
        raise
    if stop:
        ecs.stop_task(cluster=cluster, task=arn, reason=f"{what}: no result after {timeout:.0f} s")
        raise TaskFailed(f"{what} {arn} was still {task.get('lastStatus')} after {timeout:.0f} s: stopped")
    raise TaskFailed(
        f"{what} {arn} is still {task.get('lastStatus')} after {timeout:.0f} s; "
        "it keeps running: look at its logs before running it again"
    )


def exit_code(task: dict[str, Any], container: str) -> int | None:
    """`container`'s exit code in a stopped task; None when it never ran (or is not in the task)."""
    for item in task.get("containers") or []:
        if item.get("name") == container:
            return item.get("exitCode")
    return None


def verdict(task: dict[str, Any]) -> str | None:
    """None when a stopped task ran every container to exit code 0, else why not (with ECS's reason)."""
    failed = []
    for container in task.get("containers") or []:
        code = container.get("exitCode")
        if code != 0:
            reason = container.get("reason") or ("no exit code: it never ran" if code is None else "")
            failed.append(f"{container.get('name')} exited {code}{f' ({reason})' if reason else ''}")
    if not task.get("containers"):
        failed.append("the task has no containers")
    if failed:
        return f"{'; '.join(failed)}; ECS: {stopped_reason(task)}"
    return None


def stopped_reason(task: dict[str, Any]) -> str:
    return task.get("stoppedReason") or "no reason given"
