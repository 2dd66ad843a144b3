"""pipeline.plan end to end on a small real stack (terraform_data, local state)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from plan_stacks import make_repo, run_plan, write_stack

from pipeline import plan

pytestmark = [
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH"),
    pytest.mark.slow,
]


@pytest.fixture
def planned(tmp_path):
    repo = make_repo(tmp_path)
    write_stack(tmp_path, {"a": "1", "b": "2"})
    code = run_plan(tmp_path, repo, "--image-tag", "abc123")
    return tmp_path, repo, code


def test_plan_writes_plan_file_json_text_summary_and_metadata(planned):
    tmp_path, _, code = planned
    assert code == 0
    names = sorted(p.name for p in (tmp_path / "plans").iterdir())
    assert names == [
        "dev.plan.json",
        "dev.plan.md",
        "dev.plan.meta.json",
        "dev.plan.txt",
        "dev.tfplan",
        "dev.tfplan.sha256",
    ]


def test_the_checksum_file_is_sha256sum_of_the_plan_file(planned):
    tmp_path, _, _ = planned
    plans = tmp_path / "plans"
    checked = subprocess.run(
        ["sha256sum", "--check", "dev.tfplan.sha256"], cwd=plans, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (plans / "dev.tfplan").write_bytes(b"another plan")
    assert subprocess.run(
        ["sha256sum", "--check", "dev.tfplan.sha256"], cwd=plans, capture_output=True
    ).returncode


def test_plan_sha256_and_image_go_to_github_output_when_asked(tmp_path, monkeypatch):
    repo = make_repo(tmp_path)
    write_stack(tmp_path, {"a": "1"})
    target = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(target))
    assert run_plan(tmp_path, repo, "--image-tag", "abc123", "--github-output") == 0
    sha = plan.file_hash(tmp_path / "plans" / "dev.tfplan")
    assert target.read_text() == f"plan_sha256={sha}\nimage_tag=abc123\n"


def test_the_summary_names_the_image_it_deploys(planned):
    tmp_path, _, _ = planned
    assert (tmp_path / "plans" / "dev.plan.md").read_text().rstrip().endswith("**Image:** `abc123`")


def test_plan_json_is_terraforms_own(planned):
    tmp_path, _, _ = planned
    data = json.loads((tmp_path / "plans" / "dev.plan.json").read_text())
    assert {rc["address"] for rc in data["resource_changes"]} == {"terraform_data.a", "terraform_data.b"}


def test_summary_is_rendered_from_the_plan(planned):
    tmp_path, _, _ = planned
    md = (tmp_path / "plans" / "dev.plan.md").read_text()
    assert "### Terraform plan: `dev`" in md
    assert "**Plan:** 2 to add" in md
    assert "terraform_data.a will be created" in md


def test_metadata_records_commit_config_and_image(planned):
    tmp_path, repo, _ = planned
    meta = json.loads((tmp_path / "plans" / "dev.plan.meta.json").read_text())
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    assert meta["git_sha"] == head
    assert meta["image_tag"] == "abc123"
    assert meta["config_hash"] == plan.file_hash(tmp_path / "out/stacks/llm-gateway-dev/cdk.tf.json")
    assert meta["state"] == {"lineage": None, "serial": None}


def test_detailed_exitcode_reports_pending_changes_with_2(tmp_path):
    repo = make_repo(tmp_path)
    write_stack(tmp_path, {"a": "1"})
    assert run_plan(tmp_path, repo, "--detailed-exitcode", "--image-tag", "abc123") == plan.EXIT_CHANGES
    assert (tmp_path / "plans" / "dev.plan.md").is_file()


def test_without_detailed_exitcode_changes_exit_0(tmp_path):
    repo = make_repo(tmp_path)
    write_stack(tmp_path, {"a": "1"})
    assert run_plan(tmp_path, repo, "--image-tag", "abc123") == 0


def test_first_plan_without_an_image_asks_for_one(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_VAR_image_tag", raising=False)
    repo = make_repo(tmp_path)
    write_stack(tmp_path, {"a": "1"})
    assert run_plan(tmp_path, repo) == plan.EXIT_ERROR
    assert "pass --image-tag TAG" in capsys.readouterr().err


def test_a_terraform_error_exits_1_and_leaves_no_plan(tmp_path):
    repo = make_repo(tmp_path)
    stack = write_stack(tmp_path, {"a": "1"})
    (stack / "cdk.tf.json").write_text('{"resource": {"terraform_data": {"a": {"bogus": 1}}}}')
    assert run_plan(tmp_path, repo, "--image-tag", "abc123") == plan.EXIT_ERROR
    assert not (tmp_path / "plans" / "dev.tfplan").exists()
    assert not (tmp_path / "plans" / "dev.tfplan.sha256").exists()
    assert not (tmp_path / "plans" / "dev.plan.meta.json").exists()


def test_missing_stack_exits_1_with_the_synth_command(tmp_path, capsys):
    repo = make_repo(tmp_path)
    (tmp_path / "out" / "stacks").mkdir(parents=True)
    assert run_plan(tmp_path, repo) == plan.EXIT_ERROR
    assert "python main.py dev" in capsys.readouterr().err


@pytest.mark.skipif(
    not (plan.ROOT / ".nox/_envs/policy/bin/checkov").exists(),
    reason="the policy venv (checkov) is not installed",
)
def test_policy_gate_findings_reach_the_summary(tmp_path):
    """The real gate over a real plan (an unencrypted SSM parameter, from make_plans.py --drift)."""
    fixture = plan.ROOT / "tests/pipeline/fixtures/drift.plan.json"
    result = plan.run_policy_gate("dev", fixture, tmp_path / "policy-dev")
    assert result is not None and not result.passed
    assert any("aws_ssm_parameter.feature_flag" in f for f in result.failures)
    assert (tmp_path / "policy-dev" / "summary.json").is_file()


def test_a_pinned_commit_is_recorded_instead_of_head(tmp_path, monkeypatch):
    """pipeline.chain pins one commit for a whole local run, as one workflow run is one commit."""
    monkeypatch.setenv(plan.COMMIT_VARIABLE, "f" * 40)
    repo = make_repo(tmp_path)
    write_stack(tmp_path, {"a": "1"})
    assert run_plan(tmp_path, repo, "--image-tag", "abc123") == 0
    assert json.loads((tmp_path / "plans" / "dev.plan.meta.json").read_text())["git_sha"] == "f" * 40
