"""pipeline.chain promote / check-digest: a later stage deploys the digest the earlier stages ran.

Real plans and applies of small stacks (terraform_data, local state), as tests/pipeline/test_apply.py.
"""

from __future__ import annotations

import json
import shutil

import pytest
from plan_stacks import make_repo, run_plan, write_stack

from pipeline import apply, chain

pytestmark = [
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH"),
    pytest.mark.slow,
]

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64


def smoke_report(path, outcomes=("pass", "pass", "skip")):
    path.write_text(
        json.dumps({"checks": [{"name": f"check_{i}", "outcome": o} for i, o in enumerate(outcomes)]})
    )
    return path


def deploy(tmp_path, repo, environment, image):
    """plan + apply one stage, as the workflow's stage job does."""
    write_stack(tmp_path, {"a": "1"}, environment=environment)
    assert run_plan(tmp_path, repo, "--image-tag", image, environment=environment) == 0
    plans = tmp_path / "plans"
    assert apply.main([environment, "--out-dir", str(plans), "--repo", str(repo)]) == 0
    return plans


@pytest.fixture
def dev_promoted(tmp_path):
    repo = make_repo(tmp_path)
    plans = deploy(tmp_path, repo, "dev", DIGEST)
    record = chain.promote("dev", plans, smoke_report(plans / "dev.smoke.json"))
    return tmp_path, repo, plans, record


def test_promote_records_the_digest_commit_and_applied_plan(dev_promoted):
    _, _, plans, record = dev_promoted
    meta = json.loads((plans / "dev.plan.meta.json").read_text())
    assert record["image_tag"] == DIGEST
    assert record["git_sha"] == meta["git_sha"]
    assert record["plan_sha256"] == meta["plan_hash"]
    assert record["smoke"] == {"pass": 2, "skip": 1}
    assert json.loads((plans / "dev.promoted.json").read_text()) == record


def test_prod_planned_with_the_promoted_digest_says_so_in_its_summary(dev_promoted):
    tmp_path, repo, plans, _ = dev_promoted
    write_stack(tmp_path, {"a": "1"}, environment="prod")
    assert run_plan(tmp_path, repo, "--image-tag", DIGEST, environment="prod") == 0
    note = chain.check_digest("prod", ["dev"], plans)
    assert f"**Image:** `{DIGEST}` is the digest dev ran" in note
    assert (plans / "prod.plan.md").read_text().rstrip().endswith(note.splitlines()[-1])


def test_prod_planned_with_another_digest_fails_and_warns_the_approver(dev_promoted):
    tmp_path, repo, plans, _ = dev_promoted
    write_stack(tmp_path, {"a": "1"}, environment="prod")
    assert run_plan(tmp_path, repo, "--image-tag", OTHER, environment="prod") == 0
    with pytest.raises(chain.ChainError, match=f"dev ran {DIGEST}, this plan deploys {OTHER}"):
        chain.check_digest("prod", ["dev"], plans)
    summary = (plans / "prod.plan.md").read_text()
    assert "[!CAUTION]" in summary and "Do not approve" in summary


def test_prod_needs_every_earlier_stage_promoted(dev_promoted, capsys):
    tmp_path, repo, plans, _ = dev_promoted
    write_stack(tmp_path, {"a": "1"}, environment="prod")
    assert run_plan(tmp_path, repo, "--image-tag", DIGEST, environment="prod") == 0
    code = chain.main(
        ["check-digest", "prod", "--previous", "dev", "--previous", "staging", "--out-dir", str(plans)]
    )
    assert code == 1
    assert "staging.promoted.json is missing (staging was not promoted)" in capsys.readouterr().err


def test_a_failed_smoke_is_not_promoted(tmp_path):
    repo = make_repo(tmp_path)
    plans = deploy(tmp_path, repo, "dev", DIGEST)
    report = smoke_report(plans / "dev.smoke.json", ("pass", "FAIL"))
    with pytest.raises(chain.ChainError, match="did not pass \\(check_1\\): not promoted"):
        chain.promote("dev", plans, report)
    assert not (plans / "dev.promoted.json").exists()


def test_a_moving_tag_is_not_promoted(tmp_path):
    repo = make_repo(tmp_path)
    plans = deploy(tmp_path, repo, "dev", "latest")
    with pytest.raises(chain.ChainError, match="image_tag is 'latest'; only a digest"):
        chain.promote("dev", plans, smoke_report(plans / "dev.smoke.json"))


def test_promote_writes_the_digest_as_a_step_output(dev_promoted, monkeypatch):
    _, _, plans, _ = dev_promoted
    target = plans.parent / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(target))
    assert chain.main(["promote", "dev", "--out-dir", str(plans), "--github-output"]) == 0
    assert target.read_text() == f"digest={DIGEST}\n"


def test_stage_order_puts_dev_first_and_prod_last():
    order = chain.stages()
    assert order[0] == "dev" and order[-1] == "prod"
    assert sorted(order) == sorted(p.name for p in (chain.ROOT / "environments").iterdir() if p.is_dir())


def test_github_files_read_back_both_forms(tmp_path):
    written = tmp_path / "github_env"
    written.write_text("a=1\nKEY<<EOF_x\nsk-secret\nEOF_x\nb=two=2\n")
    assert chain.github_file_values(written) == {"a": "1", "KEY": "sk-secret", "b": "two=2"}


def test_an_unknown_stage_is_refused_with_the_allowed_ones(capsys):
    assert chain.main(["run", "--stages", "dev,qa"]) == 1
    assert f"--stages: unknown qa; allowed {', '.join(chain.stages())}" in capsys.readouterr().err


def test_check_digest_before_the_plan_names_the_missing_file(tmp_path, capsys):
    assert chain.main(["check-digest", "prod", "--out-dir", str(tmp_path)]) == 1
    assert (
        "prod.plan.json is missing: check-digest runs after `pipeline.plan prod`" in capsys.readouterr().err
    )
