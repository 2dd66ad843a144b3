"""pipeline.migrate: the deploy stage's migrate step runs the stack's migration task and requires exit 0.

Against moto's ECS: a task it starts stays RUNNING until stopped, so the tests stop it in the
wait loop, as the ECS agent does when the container exits.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.ecs.models import ecs_backends

from pipeline import migrate

REGION = "us-east-1"


@pytest.fixture
def ecs(monkeypatch):
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
        client.create_cluster(clusterName="llm-gateway-dev")
        arn = client.register_task_definition(
            family="llm-gateway-dev-migrate",
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="512",
            memory="1024",
            containerDefinitions=[{"name": "migrate", "image": "gateway@sha256:" + "0" * 64, "memory": 1024}],
        )["taskDefinition"]["taskDefinitionArn"]
        yield (
            client,
            {
                "migration_task_definition_arn": arn,
                "ecs_cluster_name": "llm-gateway-dev",
                "task_subnet_ids": subnets,
                "task_security_group_id": group,
            },
        )


def finishing(client, exit_code: int, reason: str = "Essential container in task exited"):
    """A sleep that lets the task run once, then stops it as ECS does when its container exits."""

    def sleep(_seconds: float) -> None:
        (arn,) = client.list_tasks(cluster="llm-gateway-dev")["taskArns"]
        account = arn.split(":")[4]  # moto's account (MOTO_ACCOUNT_ID may differ from its default)
        task = ecs_backends[account][REGION].tasks["llm-gateway-dev"][arn]
        task.containers[0].exitCode = exit_code
        client.stop_task(cluster="llm-gateway-dev", task=arn, reason=reason)

    return sleep


def test_a_task_that_exits_0_migrates_in_the_private_subnets_without_public_ip(ecs) -> None:
    client, outputs = ecs
    task_arn = migrate.run_migration(client, outputs, timeout=60, poll=0, sleep=finishing(client, 0))
    (task,) = client.describe_tasks(cluster="llm-gateway-dev", tasks=[task_arn])["tasks"]
    assert task["taskDefinitionArn"] == outputs["migration_task_definition_arn"]
    assert task["lastStatus"] == "STOPPED"
    assert task["launchType"] == "FARGATE" and task["startedBy"] == "pipeline.migrate"


def test_a_task_that_exits_non_zero_fails_with_ecs_reason(ecs) -> None:
    client, outputs = ecs
    with pytest.raises(migrate.MigrationFailed, match=r"migrate exited 1; ECS: Essential container"):
        migrate.run_migration(client, outputs, timeout=60, poll=0, sleep=finishing(client, 1))


def test_a_task_still_running_at_the_deadline_fails_and_says_it_keeps_running(ecs) -> None:
    client, outputs = ecs
    with pytest.raises(migrate.MigrationFailed, match=r"is still [A-Z]+ after 0 s; it keeps running"):
        migrate.run_migration(client, outputs, timeout=0, poll=0, sleep=lambda _: None)


def test_stopped_containers_without_exit_code_never_ran() -> None:
    task = {"containers": [{"name": "migrate"}], "stoppedReason": "CannotPullContainerError"}
    assert (
        migrate.verdict(task)
        == "migrate exited None (no exit code: it never ran); ECS: CannotPullContainerError"
    )
    assert migrate.verdict({"containers": [{"name": "migrate", "exitCode": 0}]}) is None


def test_the_cli_reads_apply_outputs_and_names_what_is_missing(tmp_path: Path, capsys) -> None:
    (tmp_path / "dev.outputs.json").write_text(json.dumps({"ecs_cluster_name": "c"}))
    assert migrate.main(["dev", "--out-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lacks the stack output(s) migration_task_definition_arn" in err
    assert migrate.main(["prod", "--out-dir", str(tmp_path)]) == 1
    assert "prod.outputs.json is missing: run `nox -s apply -- prod` first" in capsys.readouterr().err
