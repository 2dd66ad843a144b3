"""pipeline.integration's own logic: the config change, the in-place verdict, the report and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from pipeline import integration
from pipeline.stack_checks import Check

FIXTURES = Path(__file__).parent / "fixtures"


def _update_plan(resource_type: str, actions: list[str]) -> dict:
    return {
        "resource_changes": [
            {
                "address": f"{resource_type}.x",
                "type": resource_type,
                "mode": "managed",
                "change": {"actions": actions},
            }
        ]
    }


def test_next_retention_is_the_next_value_cloudwatch_accepts():
    assert integration.next_retention(30) == 60
    assert integration.next_retention(1) == 3


def test_change_setting_rewrites_one_key_and_keeps_the_rest(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("project: p\nobservability:\n  log_retention_days: 30\n  alarm_email: null\n")
    assert integration.change_setting(config, "observability", "log_retention_days", 60) == 30
    assert yaml.safe_load(config.read_text()) == {
        "project": "p",
        "observability": {"log_retention_days": 60, "alarm_email": None},
    }


def test_an_in_place_log_group_update_has_no_problems():
    assert integration._in_place_problems(_update_plan("aws_cloudwatch_log_group", ["update"])) == []


def test_a_replacement_is_a_problem():
    plan = _update_plan("aws_cloudwatch_log_group", ["delete", "create"])
    assert integration._in_place_problems(plan)[0] == "aws_cloudwatch_log_group.x would replace"


def test_a_plan_that_does_not_touch_a_log_group_is_a_problem():
    assert integration._in_place_problems(_update_plan("aws_ecs_service", ["update"])) == [
        "no log group is updated"
    ]


def test_a_real_plan_with_a_replacement_and_a_destroy_is_not_in_place():
    plan = json.loads((FIXTURES / "mixed.plan.json").read_text())
    problems = integration._in_place_problems(plan)
    assert any("would replace" in p for p in problems) and any("would destroy" in p for p in problems)


@pytest.fixture
def reports(tmp_path, monkeypatch):
    monkeypatch.setattr(integration, "REPORTS", tmp_path / "reports")
    return tmp_path / "reports"


def _lifecycle_recording(checks):
    def lifecycle(run, server, work, expect):
        with run.phase("apply") as phase:
            phase.resources = 3
        run.record(checks)

    return lifecycle


def test_a_passing_run_exits_0_and_reports_its_phases(reports):
    code = integration.main([], lifecycle_fn=_lifecycle_recording([Check("waf", True, "ok")]))
    report = json.loads((reports / "summary.json").read_text())
    assert code == 0
    assert report["ok"] is True
    assert [(p["name"], p["resources"]) for p in report["phases"]] == [("apply", 3)]


def test_a_failed_check_exits_1(reports):
    code = integration.main([], lifecycle_fn=_lifecycle_recording([Check("waf", False, "default Allow")]))
    assert code == 1
    assert json.loads((reports / "summary.json").read_text())["checks"][0]["detail"] == "default Allow"


def test_a_broken_phase_exits_2_with_its_reason(reports):
    def broken(run, server, work, expect):
        raise integration.IntegrationFailure("terraform apply exited 1")

    assert integration.main([], lifecycle_fn=broken) == 2
    assert json.loads((reports / "summary.json").read_text())["error"] == "terraform apply exited 1"


def test_the_scratch_folder_is_removed_unless_kept(reports):
    seen = []

    def remember(run, server, work, expect):
        seen.append(work)

    integration.main([], lifecycle_fn=remember)
    integration.main(["--keep"], lifecycle_fn=remember)
    assert [folder.exists() for folder in seen] == [False, True]
    shutil.rmtree(seen[1])


def test_the_lifecycle_gets_a_running_emulator_for_the_environment_account(reports):
    accounts = []

    def ask(run, server, work, expect):
        accounts.append(server.client("sts", expect["region"]).get_caller_identity()["Account"])

    integration.main(["--env", "dev"], lifecycle_fn=ask)
    assert accounts == [integration.expectations("dev", integration.ROOT / "environments")["account_id"]]


def _workspace(tmp_path, stack):
    space = integration.Workspace(tmp_path, "dev", "http://127.0.0.1:1", "us-east-1")
    space.stack_dir = tmp_path / "stack"
    space.stack_dir.mkdir(parents=True)
    (space.stack_dir / "cdk.tf.json").write_text(json.dumps(stack))
    return space


def test_nothing_is_targeted_when_nothing_is_excluded(tmp_path):
    assert _workspace(tmp_path, {"resource": {"aws_vpc": {"a": {}}}}).targets() == []


def test_an_excluded_resource_is_left_out_of_the_targets(tmp_path, monkeypatch):
    monkeypatch.setattr(integration, "EXCLUDED", {"aws_bedrock_guardrail.": "no emulator support"})
    stack = {"resource": {"aws_vpc": {"a": {}}, "aws_bedrock_guardrail": {"g": {}}}}
    assert _workspace(tmp_path, stack).targets() == ["-target=aws_vpc.a"]


def test_only_declared_variables_are_passed(tmp_path):
    assert _workspace(tmp_path, {"variable": {"image_tag": {}}}).variables() == ["-var=image_tag=integration"]
    assert _workspace(tmp_path / "other", {}).variables() == []


def test_terraform_never_sees_the_developers_aws_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "production")
    space = integration.Workspace(tmp_path, "dev", "http://127.0.0.1:1", "us-east-1")
    assert "AWS_PROFILE" not in space.env
    assert space.env["AWS_ACCESS_KEY_ID"] == "testing"
