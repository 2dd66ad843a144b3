"""moto's ECS for the one-off task runners (pipeline.migrate, pipeline.admin): a cluster, private subnets,
a security group and one task definition; and the ECS agent's part, which moto does not play.

moto starts no container: a task it runs stays RUNNING until stopped. `finishing` is the wait loop's
sleep that does what the agent does when the container exits (sets its exit code, stops the task),
after an optional hook (e.g. the container's log lines reaching CloudWatch Logs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws
from moto.ecs.models import ecs_backends

REGION = "us-east-1"
CLUSTER = "llm-gateway-dev"


@contextmanager
def emulated_ecs(monkeypatch, family: str, container: str) -> Iterator[tuple[Any, dict[str, Any], str]]:
    """(ecs client, the network outputs, the task definition's ARN) inside mock_aws."""
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    # moto 5.2.5 describes a Fargate task's network interface by a name its interfaces lack.
    monkeypatch.setattr(
        NetworkInterface,
        "private_dns_name",
        property(lambda eni: f"ip-{eni.private_ip_address.replace('.', '-')}.ec2.internal"),
        raising=False,
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)
        ]
        group = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
        client = boto3.client("ecs", region_name=REGION)
        client.create_cluster(clusterName=CLUSTER)
        arn = client.register_task_definition(
            family=family,
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="512",
            memory="1024",
            containerDefinitions=[{"name": container, "image": "gateway@sha256:" + "0" * 64, "memory": 1024}],
        )["taskDefinition"]["taskDefinitionArn"]
        network = {"ecs_cluster_name": CLUSTER, "task_subnet_ids": subnets, "task_security_group_id": group}
        yield client, network, arn


def finishing(
    client, exit_code: int | None, reason: str = "Essential container in task exited",
    before_stop: Callable[[str], None] | None = None,
) -> Callable[[float], None]:  # fmt: skip
    """A sleep that lets the task run once, then stops it as ECS does when its container exits
    (`exit_code` None: it never ran). `before_stop(task_arn)` runs first."""

    def sleep(_seconds: float) -> None:
        listed = client.list_tasks(cluster=CLUSTER)["taskArns"]
        described = client.describe_tasks(cluster=CLUSTER, tasks=listed)["tasks"] if listed else []
        running = [t["taskArn"] for t in described if t["lastStatus"] != "STOPPED"]
        if not running:  # already stopped: a later wait (e.g. for the log stream)
            return
        (arn,) = running
        if before_stop:
            before_stop(arn)
        account = arn.split(":")[4]  # moto's account (MOTO_ACCOUNT_ID may differ from its default)
        task = ecs_backends[account][REGION].tasks[CLUSTER][arn]
        task.containers[0].exitCode = exit_code
        client.stop_task(cluster=CLUSTER, task=arn, reason=reason)

    return sleep
