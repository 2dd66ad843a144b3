"""pipeline.admin: the deploy's and drift's admin steps run the stack's admin task and pass its exit code on.

Against moto's ECS and CloudWatch Logs. moto runs no container: the tests play the ECS agent
(stop the task with an exit code) and the awslogs driver (write the container's lines to
`admin/gateway/<task id>` before the stop). What this cannot prove: that a real Fargate task
runs the override, that awslogs names the stream this way and has flushed by the time the task
is STOPPED. The runner's policy (docs/iam/admin-runner.json) is evaluated here against the calls
it makes, by pipeline.plan_role's reading of IAM (conditions not evaluated), not by AWS.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
from one_off_ecs import CLUSTER, REGION, emulated_ecs, finishing

from pipeline import admin, plan_role

GROUP = "/ecs/llm-gateway-dev"  # modules/gateway_logs.py: /ecs/<stack id>
LINES = ["~ team search: update", "    max_budget = 10.0 -> 25.0", "Plan: 0 to create, 1 to update"]


@pytest.fixture
def aws(monkeypatch):
    with emulated_ecs(monkeypatch, "llm-gateway-dev-admin", "gateway") as (client, network, arn):
        logs = boto3.client("logs", region_name=REGION)
        logs.create_log_group(logGroupName=GROUP)
        outputs = {
            "admin_task_definition_arn": arn,
            "admin_container_name": "gateway",
            "admin_log_group_name": GROUP,
            "admin_log_stream_prefix": "admin",
            **network,
        }
        yield client, logs, outputs


def logging(logs, lines: list[str]):
    """What awslogs does for the task: its lines in `admin/gateway/<task id>`."""

    def write(task_arn: str) -> None:
        stream = f"admin/gateway/{task_arn.rsplit('/', 1)[-1]}"
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        now = int(time.time() * 1000)  # CloudWatch Logs refuses events older than 14 days
        events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)]
        if events:
            logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)

    return write


def run(aws, code: int | None, lines: list[str] = LINES, argv=("access", "plan")):
    client, logs, outputs = aws
    sleep = finishing(client, code, before_stop=logging(logs, lines))
    command = admin.command("dev", list(argv))
    return admin.run_admin(client, logs, outputs, command, timeout=60, poll=0, sleep=sleep, log_patience=0)


def test_the_task_runs_the_admin_program_as_a_command_override_in_the_private_subnets(aws) -> None:
    client, _, outputs = aws
    code, lines, arn = run(aws, 0, argv=("smoke-key",))
    (task,) = client.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"]
    assert task["taskDefinitionArn"] == outputs["admin_task_definition_arn"]
    assert task["overrides"]["containerOverrides"] == [
        {"name": "gateway", "command": ["admin", "smoke-key", "--env", "dev"]}
    ]
    assert task["launchType"] == "FARGATE" and task["startedBy"] == "pipeline.admin"
    attachment = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    assert attachment["subnetId"] in outputs["task_subnet_ids"]
    assert (code, lines) == (0, LINES)


def test_the_log_lines_are_read_back_from_the_tasks_own_stream_across_pages(aws) -> None:
    many = [f"line {i}" for i in range(12_000)]  # more than one page of GetLogEvents (10,000 events)
    _, lines, _ = run(aws, 0, lines=many)
    assert lines == many


def test_the_program_exit_code_comes_back_whatever_it_is(aws) -> None:
    assert run(aws, 2)[0] == 2
    assert run(aws, 1)[0] == 1


def test_a_task_whose_container_never_ran_fails_with_ecs_reason(aws) -> None:
    client, logs, outputs = aws
    sleep = finishing(client, None, reason="CannotPullContainerError: pull access denied")
    with pytest.raises(admin.AdminFailed, match=r"never ran its command: gateway exited None .*CannotPull"):
        admin.run_admin(client, logs, outputs, ["admin"], timeout=60, poll=0, sleep=sleep, log_patience=0)


def test_a_missing_stream_gives_no_lines_after_waiting_for_it(aws) -> None:
    _, logs, _ = aws
    waits = []
    assert admin.read_log_lines(logs, GROUP, "admin/gateway/none", patience=0, sleep=waits.append) == []


# ---------------------------------------------------------------- the command line
def outputs_file(tmp_path: Path, aws) -> Path:
    (tmp_path / "dev.outputs.json").write_text(json.dumps(aws[2]))
    return tmp_path


@pytest.mark.parametrize(("program_code", "exit_code"), [(0, 0), (2, 2), (1, 1), (3, 1), (137, 1)])
def test_the_cli_passes_0_and_2_through_and_makes_anything_else_1(
    aws, tmp_path: Path, monkeypatch, capsys, program_code: int, exit_code: int
) -> None:
    client, logs, _ = aws
    monkeypatch.setattr(
        admin.time, "sleep", finishing(client, program_code, before_stop=logging(logs, LINES))
    )
    argv = ["dev", "access", "plan", "--out-dir", str(outputs_file(tmp_path, aws)), "--region", REGION]
    assert admin.main([*argv, "--markdown", str(tmp_path / "summary" / "dev.access.md")]) == exit_code
    out, err = capsys.readouterr()
    assert out.splitlines()[: len(LINES)] == LINES
    if exit_code == 1:
        assert err.startswith(f"error: dev: admin access plan --env dev exited {program_code}")
    summary = (tmp_path / "summary" / "dev.access.md").read_text()
    assert f"`admin access plan --env dev` in dev (exit {program_code})" in summary
    assert "```\n" + "\n".join(LINES) + "\n```" in summary


@pytest.mark.parametrize("program", [["smoke-key"], ["access", "apply"]])
def test_a_2_from_a_program_other_than_access_plan_is_an_error(
    aws, tmp_path: Path, monkeypatch, capsys, program: list[str]
) -> None:
    """Only `access plan` has a 2 (changes or drift); from the others it can only be a failure."""
    client, logs, _ = aws
    monkeypatch.setattr(admin.time, "sleep", finishing(client, 2, before_stop=logging(logs, LINES)))
    argv = ["dev", *program, "--out-dir", str(outputs_file(tmp_path, aws)), "--region", REGION]
    assert admin.main(argv) == 1
    assert capsys.readouterr().err.startswith(f"error: dev: admin {' '.join(program)} --env dev exited 2")


def test_the_cli_names_a_missing_output_in_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "dev.outputs.json").write_text(json.dumps({"ecs_cluster_name": "c"}))
    assert admin.main(["dev", "smoke-key", "--out-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lacks the stack output(s) admin_task_definition_arn" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["dev", "access", "destroy"],
            "program 'access destroy': use smoke-key, access plan or access apply",
        ),
        (["dev", "smoke-key", "--allow-delete"], "--allow-delete: only with access apply"),
    ],
)
def test_the_cli_refuses_other_programs_naming_the_allowed_ones(argv, message, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        admin.main(argv)
    assert exited.value.code == 2 and message in capsys.readouterr().err


def test_a_task_still_running_at_the_deadline_is_stopped_so_a_rerun_never_overlaps_it(aws) -> None:
    client, logs, outputs = aws
    command = admin.command("dev", ["access", "apply"])
    with pytest.raises(admin.AdminFailed, match=r"was still \w+ after 0 s: stopped"):
        admin.run_admin(client, logs, outputs, command, timeout=0, poll=0, sleep=lambda _s: None)
    (task,) = client.list_tasks(cluster=CLUSTER, desiredStatus="STOPPED")["taskArns"]
    (described,) = client.describe_tasks(cluster=CLUSTER, tasks=[task], include=["TAGS"])["tasks"]
    assert described["stoppedReason"] == "the admin task: no result after 0 s"
    assert {"key": "llm-gateway:task", "value": "admin"} in described["tags"]


def test_a_cancelled_run_stops_the_task_before_it_exits(aws) -> None:
    client, logs, outputs = aws

    def cancelled(_seconds: float) -> None:
        raise KeyboardInterrupt  # GitHub's SIGINT, or SIGTERM through pipeline.admin's handler

    with pytest.raises(KeyboardInterrupt):
        admin.run_admin(
            client, logs, outputs, admin.command("dev", ["smoke-key"]), timeout=60, poll=0, sleep=cancelled
        )
    (task,) = client.list_tasks(cluster=CLUSTER, desiredStatus="STOPPED")["taskArns"]
    (described,) = client.describe_tasks(cluster=CLUSTER, tasks=[task])["tasks"]
    assert described["stoppedReason"] == "the admin task: the run waiting for it was cancelled"


def test_allow_delete_reaches_the_container_command() -> None:
    assert admin.command("prod", ["access", "apply"], allow_delete=True) == [
        "admin", "access", "apply", "--env", "prod", "--allow-delete",
    ]  # fmt: skip


# ---------------------------------------------------------------- the policy that runs it
def test_the_runner_policy_allows_every_call_the_runner_makes_on_these_resources(aws) -> None:
    client, logs, outputs = aws
    # The runner's own clients, so the calls recorded are its and not the test's (playing the agent).
    runner = boto3.client("ecs", region_name=REGION), boto3.client("logs", region_name=REGION)
    calls: list[tuple[str, dict]] = []
    for each in runner:
        each.meta.events.register(
            "provide-client-params.*.*",
            lambda params, event_name, **_: calls.append((event_name.split(".", 1)[1], dict(params))),
        )
    sleep = finishing(client, 0, before_stop=logging(logs, LINES))
    command = admin.command("dev", ["access", "plan"])
    _, _, arn = admin.run_admin(*runner, outputs, command, timeout=60, poll=0, sleep=sleep, log_patience=0)
    account = arn.split(":")[4]
    policy = [plan_role.admin_runner(region=REGION, account_id=account, stack_id="llm-gateway-dev")]
    resources = {
        "ecs.RunTask": lambda p: p["taskDefinition"],
        "ecs.DescribeTasks": lambda p: p["tasks"][0],
        "cloudwatch-logs.GetLogEvents": lambda p: (
            f"arn:aws:logs:{REGION}:{account}:log-group:{p['logGroupName']}:log-stream:{p['logStreamName']}"
        ),
    }
    assert {name for name, _ in calls} == set(resources)
    for name, params in calls:
        action = name.replace("ecs.", "ecs:").replace("cloudwatch-logs.", "logs:")
        assert plan_role.may_allow(policy, action, resources[name](params)), (action, params)
    (launch,) = [params for name, params in calls if name == "ecs.RunTask"]
    assert launch["tags"] == [{"key": "llm-gateway:task", "value": "admin"}]  # tagging at launch: TagResource
    assert plan_role.may_allow(policy, "ecs:TagResource", f"arn:aws:ecs:{REGION}:{account}:task/{CLUSTER}/x")
    (run_task,) = [s for s in policy[0]["Statement"] if s["Action"] == "ecs:RunTask"]
    cluster = run_task["Condition"]["ArnEquals"]["ecs:cluster"]
    assert cluster == f"arn:aws:ecs:{REGION}:{account}:cluster/{outputs['ecs_cluster_name']}"


def test_the_runner_policy_reaches_no_other_task_role_or_log_stream() -> None:
    policy = [plan_role.admin_runner(region=REGION, account_id="111111111111", stack_id="llm-gateway-dev")]
    ecs, iam, log = (
        f"arn:aws:ecs:{REGION}:111111111111:task-definition/llm-gateway-dev",
        "arn:aws:iam::111111111111:role/llm-gateway-dev",
        f"arn:aws:logs:{REGION}:111111111111:log-group:/ecs/llm-gateway-dev:log-stream:",
    )
    assert plan_role.may_allow(policy, "ecs:RunTask", f"{ecs}-admin:3")
    assert not plan_role.may_allow(policy, "ecs:RunTask", f"{ecs}-migrate:3")
    assert not plan_role.may_allow(policy, "ecs:RunTask", f"{ecs}:3")  # the serving task
    assert plan_role.may_allow(policy, "iam:PassRole", f"{iam}-admin-task")
    assert not plan_role.may_allow(policy, "iam:PassRole", f"{iam}-task")  # the serving role (Bedrock)
    assert plan_role.may_allow(policy, "logs:GetLogEvents", f"{log}admin/gateway/abc")
    assert not plan_role.may_allow(policy, "logs:GetLogEvents", f"{log}task/gateway/abc")
    (stop,) = [s for s in policy[0]["Statement"] if s["Action"] == "ecs:StopTask"]
    assert stop["Condition"] == {
        "StringEquals": {"aws:ResourceTag/llm-gateway:task": "admin"}
    }  # no serving task
    (tag,) = [s for s in policy[0]["Statement"] if s["Action"] == "ecs:TagResource"]
    assert tag["Condition"] == {"StringEquals": {"ecs:CreateAction": "RunTask"}}  # tags at launch only
    for action in (
        "ecs:RegisterTaskDefinition",
        "secretsmanager:GetSecretValue",
        "logs:FilterLogEvents",
    ):
        assert not plan_role.may_allow(policy, action, "*"), action


# ---------------------------------------------------------------- drift: outputs from the deployed state
def test_drift_reads_the_outputs_from_the_state_as_apply_writes_them_without_sensitive_ones(
    tmp_path: Path,
) -> None:
    from pipeline import stack_outputs
    from pipeline.terraform import terraform, terraform_env

    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "main.tf.json").write_text(
        json.dumps(
            {
                "output": {
                    "ecs_cluster_name": {"value": "llm-gateway-dev"},
                    "k": {"value": "s", "sensitive": True},
                }
            }
        )
    )
    env = terraform_env()
    terraform(["init", "-input=false", "-no-color"], stack, env=env, capture=True)
    terraform(["apply", "-input=false", "-no-color", "-auto-approve"], stack, env=env, capture=True)
    out = tmp_path / "plans"
    out.mkdir()
    assert stack_outputs.main(["dev", "--out-dir", str(out)]) == 1  # no plan yet: says so
    (out / "dev.plan.meta.json").write_text(json.dumps({"stack_dir": str(stack)}))
    assert stack_outputs.main(["dev", "--out-dir", str(out)]) == 0
    assert json.loads((out / "dev.outputs.json").read_text()) == {"ecs_cluster_name": "llm-gateway-dev"}


def test_in_github_actions_the_tasks_lines_cannot_run_workflow_commands(capsys) -> None:
    """A task line such as `::add-mask::` or `::set-env` is printed between stop-commands markers."""
    lines = ["::add-mask::nothing", '{"message": "plan"}']
    admin.print_task_lines(lines, {"GITHUB_ACTIONS": "true"})
    out = capsys.readouterr().out.splitlines()
    token = out[0].removeprefix("::stop-commands::")
    assert out[0].startswith("::stop-commands::") and len(token) == 32
    assert out[1:] == [*lines, f"::{token}::"]
    admin.print_task_lines(lines, {})
    assert capsys.readouterr().out.splitlines() == lines  # outside Actions: the lines alone
