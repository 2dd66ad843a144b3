"""Environments as data: one matrix feeds every workflow, and every folder is covered by the policy data."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from pipeline import environments, lint_workflows

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ROOT / "environments"
WORKFLOWS = ROOT / ".github" / "workflows"
FOLDERS = sorted(p.name for p in ENVIRONMENTS.iterdir() if (p / "config.yaml").is_file())


def workflow(name: str) -> dict:
    return lint_workflows.load(WORKFLOWS / name)


# ---------------------------------------------------------------- the matrix
def test_the_matrix_lists_every_folder_in_deploy_order_with_its_delivery_section(capsys) -> None:
    assert environments.main(["--matrix"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1, "one line: GitHub reads it as one step output"
    include = json.loads(out)["include"]
    assert [e["environment"] for e in include] == ["dev", "staging", "prod"]
    assert sorted(e["environment"] for e in include) == FOLDERS
    prod = include[-1]
    assert prod == {
        "environment": "prod",
        "order": 3,
        "plan_role_variable": "PLAN_ROLE_ARN_PROD",
        "apply_role_variable": "APPLY_ROLE_ARN_PROD",
        "access_role_variable": "ACCESS_ROLE_ARN_PROD",
        "approval": True,
    }
    assert [e["approval"] for e in include] == [False, False, True]


def test_github_output_gets_the_same_line_as_the_step_output_matrix(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    target = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(target))
    assert environments.main(["--matrix", "--github-output"]) == 0
    printed = capsys.readouterr().out.strip()
    assert target.read_text() == f"matrix={printed}\n"


def test_github_output_outside_github_fails_in_one_line(monkeypatch, capsys) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    assert environments.main(["--matrix", "--github-output"]) == 1
    assert capsys.readouterr().err == "error: --github-output needs GITHUB_OUTPUT (set by GitHub Actions)\n"


def test_equal_orders_deploy_in_name_order_and_stage_order_follows_the_matrix(tmp_path: Path) -> None:
    shutil.copytree(ENVIRONMENTS, tmp_path, dirs_exist_ok=True)
    staging = tmp_path / "staging" / "config.yaml"
    staging.write_text(staging.read_text().replace("  order: 2\n", "  order: 3\n"))
    assert environments.stage_order(tmp_path) == ["dev", "prod", "staging"]
    assert environments.stage_order() == ["dev", "staging", "prod"]


def test_a_bad_delivery_section_fails_the_matrix_with_the_loaders_line(tmp_path: Path, capsys) -> None:
    shutil.copytree(ENVIRONMENTS, tmp_path, dirs_exist_ok=True)
    dev = tmp_path / "dev" / "config.yaml"
    dev.write_text(dev.read_text().replace("  approval: false\n", "  approval: maybe\n"))
    assert environments.main(["--matrix", "--environments-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dev/config.yaml: delivery.approval: got a string 'maybe'" in err


# ---------------------------------------------------------------- the workflows take it
def test_no_workflow_names_an_environment() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        text = json.dumps(lint_workflows.load(path))  # comments dropped; values and keys kept
        for name in FOLDERS:
            assert not re.search(rf"(?<![\w/.-]){name}(?![\w/-])", text), (path.name, name)


@pytest.mark.parametrize(("file", "job"), [("pull-request.yml", "plan"), ("drift.yml", "drift")])
def test_plans_and_drift_run_over_the_matrix_with_each_plan_role(file: str, job: str) -> None:
    spec = workflow(file)["jobs"][job]
    assert spec["strategy"]["matrix"] == "${{ fromJSON(needs.environments.outputs.matrix) }}"
    roles = [s["with"]["role-to-assume"] for s in spec["steps"] if "role-to-assume" in (s.get("with") or {})]
    # The plan first; drift then runs `access plan` through the admin task with the access role.
    access = ["${{ vars[matrix.access_role_variable] }}"] if file == "drift.yml" else []
    assert roles == ["${{ vars[matrix.plan_role_variable] }}", *access]


def test_deploy_runs_each_stage_in_order_one_at_a_time_and_stops_at_a_failure() -> None:
    deploy = workflow("deploy.yml")
    stage = deploy["jobs"]["stage"]
    assert stage["uses"] == "./.github/workflows/stage.yml"
    assert stage["strategy"]["max-parallel"] == 1 and stage["strategy"]["fail-fast"] is True
    assert stage["strategy"]["matrix"] == "${{ fromJSON(needs.environments.outputs.matrix) }}"
    assert set(stage["with"]) == set(workflow("stage.yml")["on"]["workflow_call"]["inputs"])
    assert stage["with"]["image"] == "${{ needs.build.outputs.digest }}"


def test_a_waiting_prod_approval_holds_only_prods_concurrency_group() -> None:
    deploy = workflow("deploy.yml")
    assert "concurrency" not in deploy, "a workflow-wide group would hold every later merge behind prod"
    group = deploy["jobs"]["stage"]["concurrency"]
    assert group == {"group": "deploy-${{ matrix.environment }}", "cancel-in-progress": False}
    apply = workflow("stage.yml")["jobs"]["apply"]
    assert apply["concurrency"] == {"group": "apply-${{ inputs.environment }}", "cancel-in-progress": False}


def test_the_plan_is_made_before_the_approval_and_applied_by_its_checksum() -> None:
    jobs = workflow("stage.yml")["jobs"]
    assert "environment" not in jobs["plan"], "the plan job must not wait for the approval"
    assert jobs["apply"]["environment"] == "${{ inputs.environment }}" and jobs["apply"]["needs"] == "plan"
    (apply,) = [s for s in jobs["apply"]["steps"] if s.get("id") == "apply"]
    assert apply["env"]["PLAN_SHA256"] == "${{ needs.plan.outputs.plan_sha256 }}"
    assert '--plan-sha256 "$PLAN_SHA256"' in apply["run"]
    runs = [str(s.get("run", "")) for s in jobs["apply"]["steps"]]
    order = [
        next(i for i, r in enumerate(runs) if key in r) for key in ("apply", "migrate", "smoke", "promote")
    ]
    assert order == sorted(order), "apply → migrate → smoke → promote"


def test_the_build_runs_on_main_only_with_the_pinned_release_base() -> None:
    build = workflow("deploy.yml")["jobs"]["build"]
    assert build["environment"] == "build" and build["if"] == "github.ref == 'refs/heads/main'"
    assert workflow("deploy.yml")["on"] == {"push": {"branches": ["main"]}}
    runs = " ".join(str(s.get("run", "")) for s in build["steps"])
    assert "nox -s build -- --base official --prisma native --push" in runs


# ---------------------------------------------------------------- policy data covers every folder
RULES = yaml.safe_load((ROOT / "policies" / "environment_rules.yaml").read_text())
WAIVERS = yaml.safe_load((ROOT / "policies" / "waivers.yaml").read_text())["waivers"]


def waived_in(entry: dict) -> set[str]:
    envs = entry["environment"]
    return set(envs) if isinstance(envs, list) else {envs}


def test_every_environment_folder_has_its_own_policy_thresholds() -> None:
    # The default (prod's rules) is for stacks whose environment cannot be told, not a silent fallback.
    assert sorted(RULES["environments"]) == FOLDERS
    for name in FOLDERS:
        assert set(RULES["environments"][name]) == set(RULES["default"]), name


def test_waivers_name_only_environment_folders() -> None:
    for entry in WAIVERS:
        assert waived_in(entry) <= {*FOLDERS, "repository"}, entry


def test_a_finding_waived_in_every_other_folder_is_waived_in_each_folder() -> None:
    # A new folder gets the findings every stack has: the waivers that hold for all others must name it.
    waived: dict[tuple[str, str], set[str]] = {}
    for entry in WAIVERS:
        waived.setdefault((entry["check"], entry["resource"]), set()).update(waived_in(entry))
    for (check, resource), envs in waived.items():
        if "repository" in envs:
            continue
        for name in FOLDERS:
            others = set(FOLDERS) - {name}
            if len(others) > 1 and others <= envs:
                assert name in envs, f"{check} on {resource} is waived in {sorted(others)}, not in {name}"
