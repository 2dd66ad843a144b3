"""pipeline.apply: applies a reviewed plan, refuses a stale one."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from plan_stacks import make_repo, run_plan, write_stack

from pipeline import apply, plan

pytestmark = [
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH"),
    pytest.mark.slow,
]


def run_apply(tmp_path, repo, *extra):
    return apply.main(["dev", "--out-dir", str(tmp_path / "plans"), "--repo", str(repo), *extra])


@pytest.fixture
def planned(tmp_path):
    repo = make_repo(tmp_path)
    write_stack(tmp_path, {"a": "1"})
    assert run_plan(tmp_path, repo, "--image-tag", "abc123") == 0
    return tmp_path, repo


def test_a_fresh_plan_applies_and_outputs_are_saved(planned):
    tmp_path, repo = planned
    assert run_apply(tmp_path, repo) == 0
    state = json.loads((tmp_path / "dev.tfstate").read_text())
    assert [r["name"] for r in state["resources"]] == ["a"]
    outputs = json.loads((tmp_path / "plans" / "dev.outputs.json").read_text())
    assert outputs == {"gateway_url": "http://gateway.example", "image_tag": "abc123"}


def test_outputs_go_to_github_output_when_asked(planned, monkeypatch):
    tmp_path, repo = planned
    target = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(target))
    assert run_apply(tmp_path, repo, "--github-output") == 0
    assert target.read_text() == "gateway_url=http://gateway.example\nimage_tag=abc123\n"


def test_applying_the_same_plan_twice_is_refused_as_stale_state(planned, capsys):
    tmp_path, repo = planned
    assert run_apply(tmp_path, repo) == 0
    assert run_apply(tmp_path, repo) == apply.EXIT_REFUSED
    assert "the state changed since the plan (serial None -> " in capsys.readouterr().err


def test_a_plan_from_another_commit_is_refused(planned, capsys):
    tmp_path, repo = planned
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "y",
        ],
        cwd=repo,
        check=True,
    )
    assert run_apply(tmp_path, repo) == apply.EXIT_REFUSED
    assert "it was made at commit" in capsys.readouterr().err
    assert not (tmp_path / "dev.tfstate").exists()


def test_a_changed_configuration_is_refused(planned, capsys):
    tmp_path, repo = planned
    write_stack(tmp_path, {"a": "1", "b": "sneaked in after review"})
    assert run_apply(tmp_path, repo) == apply.EXIT_REFUSED
    assert "configuration" in capsys.readouterr().err


def test_a_swapped_plan_file_is_refused(planned, capsys):
    tmp_path, repo = planned
    with (tmp_path / "plans" / "dev.tfplan").open("ab") as fh:
        fh.write(b"\0")
    assert run_apply(tmp_path, repo) == apply.EXIT_REFUSED
    assert "is not the one that was planned" in capsys.readouterr().err


def test_a_plan_file_and_metadata_swapped_together_are_refused_by_the_job_output_checksum(planned, capsys):
    """The artifact can be rewritten as a whole; the plan job's output (--plan-sha256) cannot."""
    tmp_path, repo = planned
    reviewed = plan.file_hash(tmp_path / "plans" / "dev.tfplan")
    write_stack(tmp_path, {"a": "1", "b": "not reviewed"})
    assert run_plan(tmp_path, repo, "--image-tag", "abc123") == 0  # a whole new, self-consistent artifact
    assert run_apply(tmp_path, repo, "--plan-sha256", reviewed) == apply.EXIT_REFUSED
    error = capsys.readouterr().err
    assert "--plan-sha256 recorded another" in error
    assert not (tmp_path / "dev.tfstate").exists()


def test_the_reviewed_checksum_applies(planned):
    tmp_path, repo = planned
    reviewed = plan.file_hash(tmp_path / "plans" / "dev.tfplan")
    assert run_apply(tmp_path, repo, "--plan-sha256", reviewed) == 0


def test_a_plan_without_its_checksum_file_is_refused(planned, capsys):
    tmp_path, repo = planned
    (tmp_path / "plans" / "dev.tfplan.sha256").unlink()
    assert run_apply(tmp_path, repo) == apply.EXIT_REFUSED
    assert "dev.tfplan.sha256 is missing" in capsys.readouterr().err


def test_no_plan_at_all_is_refused_with_the_command_to_make_one(tmp_path, capsys):
    repo = make_repo(tmp_path)
    assert run_apply(tmp_path, repo) == apply.EXIT_REFUSED
    assert "nox -s plan -- dev" in capsys.readouterr().err


def test_terraform_itself_refuses_a_plan_whose_state_moved(planned, capfd):
    """The backstop behind our own check: Terraform's 'Saved plan is stale'."""
    tmp_path, repo = planned
    meta_path = tmp_path / "plans" / "dev.plan.meta.json"
    saved_plan = (tmp_path / "plans" / "dev.tfplan").read_bytes()
    saved_meta = meta_path.read_text()
    assert run_apply(tmp_path, repo) == 0
    # Re-plan and apply once more so the state serial moves, then restore the first plan and
    # make its metadata claim the current state, so only Terraform's own check is left.
    write_stack(tmp_path, {"a": "2"})
    assert run_plan(tmp_path, repo, "--image-tag", "abc123") == 0
    assert run_apply(tmp_path, repo) == 0
    state = json.loads((tmp_path / "dev.tfstate").read_text())
    write_stack(tmp_path, {"a": "1"})
    meta = json.loads(saved_meta)
    meta["state"] = {"lineage": state["lineage"], "serial": state["serial"]}
    (tmp_path / "plans" / "dev.tfplan").write_bytes(saved_plan)
    meta_path.write_text(json.dumps(meta))
    (tmp_path / "plans" / "dev.tfplan.sha256").write_text(f"{meta['plan_hash']}  dev.tfplan\n")
    capfd.readouterr()
    assert run_apply(tmp_path, repo) == apply.EXIT_ERROR
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: dev: Terraform refused the saved plan: Saved plan is stale (the state changed after the "
        "plan was made); plan again and have the new plan reviewed"
    ]


def test_plan_module_paths_are_what_apply_reads():
    assert plan.paths is apply.paths


def test_a_plan_without_an_image_keeps_the_deployed_one(planned):
    tmp_path, repo = planned
    assert run_apply(tmp_path, repo) == 0
    assert run_plan(tmp_path, repo, "--detailed-exitcode") == 0
    assert json.loads((tmp_path / "plans" / "dev.plan.meta.json").read_text())["image_tag"] == "abc123"
