"""pipeline.migrate: the deploy stage's migrate step runs the stack's migration task and requires exit 0.

Against moto's ECS: a task it starts stays RUNNING until stopped, so the tests stop it in the
wait loop, as the ECS agent does when the container exits.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from one_off_ecs import CLUSTER, emulated_ecs, finishing

from pipeline import migrate, one_off_task


@pytest.fixture
def ecs(monkeypatch):
    with emulated_ecs(monkeypatch, "llm-gateway-dev-migrate", "migrate") as (client, network, arn):
        yield client, {"migration_task_definition_arn": arn, **network}


def test_a_task_that_exits_0_migrates_in_the_private_subnets_without_public_ip(ecs) -> None:
    client, outputs = ecs
    task_arn = migrate.run_migration(client, outputs, timeout=60, poll=0, sleep=finishing(client, 0))
    (task,) = client.describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"]
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
        one_off_task.verdict(task)
        == "migrate exited None (no exit code: it never ran); ECS: CannotPullContainerError"
    )
    assert one_off_task.verdict({"containers": [{"name": "migrate", "exitCode": 0}]}) is None


def test_the_cli_reads_apply_outputs_and_names_what_is_missing(tmp_path: Path, capsys) -> None:
    (tmp_path / "dev.outputs.json").write_text(json.dumps({"ecs_cluster_name": "c"}))
    assert migrate.main(["dev", "--out-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lacks the stack output(s) migration_task_definition_arn" in err
    assert migrate.main(["prod", "--out-dir", str(tmp_path)]) == 1
    assert "prod.outputs.json is missing: run `nox -s apply -- prod` first" in capsys.readouterr().err
