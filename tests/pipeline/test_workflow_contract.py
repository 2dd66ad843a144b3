"""The workflow contract: a value a workflow reads without a producer fails here, not as '' on GitHub."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pipeline import environments
from pipeline import workflow_contract as contract

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every environment's synthesized stack, from one app.synth()."""
    from main import parse_args, synth
    from modules.config import load_all

    out = tmp_path_factory.mktemp("cdktf.out")
    configs = load_all(ROOT / "environments")
    files = synth(configs, parse_args(["--out", str(out)]))
    return {c.name: json.loads(f.read_text()) for c, f in zip(configs, files, strict=True)}


@pytest.fixture(scope="module")
def producers(stacks: dict[str, dict]) -> contract.Producers:
    return contract.Producers(
        stack_outputs=contract.stack_output_names(stacks),
        documented=contract.documented_variables(),
        matrix=environments.matrix(ROOT / "environments")["include"],
    )


def problems_in(tmp_path: Path, producers: contract.Producers, **workflows: str) -> list[str]:
    for name, text in workflows.items():
        (tmp_path / f"{name}.yml").write_text(textwrap.dedent(text))
    return [str(p) for p in contract.check(tmp_path, producers)]


def test_every_reference_in_the_shipped_workflows_has_a_producer(producers: contract.Producers) -> None:
    problems = contract.check(contract.WORKFLOWS, producers)
    assert not problems, "\n".join(map(str, problems))


def test_reading_an_output_the_stack_does_not_have_fails(tmp_path: Path, producers) -> None:
    # What deploy.yml did before issue 17: every merge reached the smoke test with an empty secret id.
    found = problems_in(
        tmp_path,
        producers,
        deploy="""
        on: push
        jobs:
          dev:
            runs-on: ubuntu-24.04
            steps:
              - id: apply
                run: nox -s apply -- dev --github-output
              - env:
                  SECRET_ARN: ${{ steps.apply.outputs.gateway_secret_arn }}
                  GATEWAY_URL: ${{ steps.apply.outputs.gateway_url }}
                run: nox -s smoke -- --url "$GATEWAY_URL"
        """,
    )
    assert len(found) == 1 and "steps.apply.outputs.gateway_secret_arn" in found[0]
    assert "writes no output 'gateway_secret_arn'" in found[0] and "gateway_url" in found[0]


def test_apply_without_github_output_writes_no_step_outputs(tmp_path: Path, producers) -> None:
    found = problems_in(
        tmp_path,
        producers,
        w="""
        on: push
        jobs:
          a:
            runs-on: ubuntu-24.04
            steps:
              - id: apply
                run: nox -s apply -- dev
              - run: nox -s smoke -- --url "${{ steps.apply.outputs.gateway_url }}"
        """,
    )
    assert len(found) == 1 and "writes no output 'gateway_url' (it writes: nothing)" in found[0]


def test_a_pipeline_commands_outputs_are_what_its_writer_writes(tmp_path: Path, producers) -> None:
    found = problems_in(
        tmp_path,
        producers,
        w="""
        on: push
        jobs:
          build:
            runs-on: ubuntu-24.04
            outputs:
              digest: ${{ steps.digest.outputs.digest }}
              tag: ${{ steps.digest.outputs.tag }}
            steps:
              - id: digest
                env:
                  REPOSITORY: ${{ vars.ECR_REPOSITORY_URL }}
                run: >-
                  python -m pipeline.github image-digest
                  --repository-url "$REPOSITORY" --tag "$GITHUB_SHA"
          envs:
            runs-on: ubuntu-24.04
            outputs:
              matrix: ${{ steps.m.outputs.matrix }}
            steps:
              - id: m
                run: python -m pipeline.environments --matrix --github-output
        """,
    )
    assert found == [
        "w.yml: job build: steps.digest.outputs.tag: step 'digest' writes no output 'tag' (it writes: digest)"
    ]


def test_needs_outputs_need_the_job_listed_and_its_output_declared(tmp_path: Path, producers) -> None:
    found = problems_in(
        tmp_path,
        producers,
        w="""
        on: push
        jobs:
          build:
            runs-on: ubuntu-24.04
            outputs:
              digest: x
            steps: [{run: nox -s build}]
          listed:
            needs: build
            runs-on: ubuntu-24.04
            steps:
              - run: nox -s plan -- dev --image-tag "${{ needs.build.outputs.digest }}"
              - run: nox -s plan -- dev --image-tag "${{ needs.build.outputs.tag }}"
          unlisted:
            runs-on: ubuntu-24.04
            steps:
              - run: nox -s plan -- dev --image-tag "${{ needs.build.outputs.digest }}"
        """,
    )
    assert [f.split(": ", 2)[1:] for f in found] == [
        ["job listed", "needs.build.outputs.tag: job 'build' declares no output 'tag'"],
        ["job unlisted", "needs.build.outputs.digest: job 'build' is not in this job's needs"],
    ]


def test_variables_must_be_documented_and_matrix_variables_name_documented_ones(
    tmp_path: Path, producers
) -> None:
    found = problems_in(
        tmp_path,
        producers,
        w="""
        on: push
        jobs:
          a:
            runs-on: ubuntu-24.04
            strategy:
              matrix: {include: [{environment: dev, plan_role_variable: PLAN_ROLE_ARN_DEV}]}
            steps:
              - run: nox -s plan -- "${{ vars.AWS_REGION }}" "${{ vars.UNDOCUMENTED_ROLE }}"
              - run: nox -s plan -- "${{ vars[matrix.plan_role_variable] }}" "${{ vars[matrix.environment] }}"
        """,
    )
    assert len(found) == 2
    assert "vars.UNDOCUMENTED_ROLE: not documented" in found[0]
    assert "vars[matrix.environment]: 'environment' is not a matrix field naming a variable" in found[1]


def test_every_environments_role_variables_are_documented(producers) -> None:
    # A new environment's variables follow the documented patterns, or the docs name them.
    for entry in producers.matrix:
        for key in ("plan_role_variable", "apply_role_variable"):
            assert producers.documents(str(entry[key])), (entry["environment"], key)


def test_a_call_passes_declared_inputs_and_every_required_one(tmp_path: Path, producers) -> None:
    found = problems_in(
        tmp_path,
        producers,
        stage="""
        on:
          workflow_call:
            inputs:
              environment: {type: string, required: true}
              image: {type: string, required: true}
            outputs:
              url: {value: "${{ jobs.apply.outputs.url }}"}
              other: {value: "${{ jobs.apply.outputs.other }}"}
        jobs:
          apply:
            runs-on: ubuntu-24.04
            outputs:
              url: x
            steps:
              - run: nox -s apply -- "${{ inputs.environment }}" "${{ inputs.missing }}"
        """,
        deploy="""
        on: push
        jobs:
          stage:
            uses: ./.github/workflows/stage.yml
            with:
              environment: dev
              typo: x
          after:
            needs: stage
            runs-on: ubuntu-24.04
            steps:
              - run: nox -s smoke -- --url "${{ needs.stage.outputs.url }}"
        """,
    )
    assert found == [
        "deploy.yml: job stage: with.typo: ./.github/workflows/stage.yml declares no input 'typo'",
        "deploy.yml: job stage: with.image: ./.github/workflows/stage.yml requires input 'image'",
        "stage.yml: workflow_call outputs: jobs.apply.outputs.other: job 'apply' declares no output 'other'",
        "stage.yml: job apply: inputs.missing: the workflow declares no input 'missing'",
    ]


def test_stack_outputs_are_those_every_stack_has_and_none_sensitive() -> None:
    stacks = {
        "dev": {"output": {"a": {"value": 1}, "b": {"value": 2}, "key": {"value": 3, "sensitive": True}}},
        "prod": {"output": {"a": {"value": 1}, "key": {"value": 3, "sensitive": True}}},
    }
    assert contract.stack_output_names(stacks) == {"a"}


def test_the_stack_outputs_the_migrate_step_reads_are_written_by_apply(producers) -> None:
    from pipeline import migrate

    assert set(migrate.OUTPUTS) <= producers.stack_outputs


def test_the_stack_outputs_the_admin_steps_read_are_written_by_apply(producers) -> None:
    from pipeline import admin

    assert set(admin.OUTPUTS) <= producers.stack_outputs
    assert {"smoke_key_secret_arn", "smoke_key_json_key"} <= producers.stack_outputs


def test_the_stage_runs_smoke_key_before_the_smoke_and_access_apply_after_it_before_promote() -> None:
    from pipeline import lint_workflows

    (apply,) = [
        j
        for j in lint_workflows.load(contract.WORKFLOWS / "stage.yml")["jobs"].values()
        if "environment" in j
    ]
    runs = [str(step.get("run", "")) for step in apply["steps"]]

    def at(text: str) -> int:
        (index,) = [i for i, run in enumerate(runs) if text in run]
        return index

    assert (
        at("pipeline.migrate")
        < at('pipeline.admin "$ENVIRONMENT" smoke-key')
        < at("export-secret")
        < at("nox -s smoke")
        < at('pipeline.admin "$ENVIRONMENT" access apply')
        < at("pipeline.chain promote")
    )


def test_drift_runs_access_plan_through_the_admin_task_with_the_access_role() -> None:
    from pipeline import lint_workflows

    (drift,) = [
        j for j in lint_workflows.load(contract.WORKFLOWS / "drift.yml")["jobs"].values() if "strategy" in j
    ]
    steps = drift["steps"]
    roles = [
        s["with"]["role-to-assume"] for s in steps if "configure-aws-credentials" in str(s.get("uses", ""))
    ]
    assert roles == ["${{ vars[matrix.plan_role_variable] }}", "${{ vars[matrix.access_role_variable] }}"]
    runs = [str(s.get("run", "")) for s in steps]
    (access,) = [i for i, run in enumerate(runs) if "pipeline.admin" in run]
    assert "access plan" in runs[access] and "--allow-delete" not in runs[access]
    assert "access_role_variable" in str(steps[access - 1].get("with", {}))  # assumed right before


def test_documented_variables_are_those_of_the_in_github_section(tmp_path: Path) -> None:
    doc = tmp_path / "gitops.md"
    doc.write_text(
        "## Secrets\n`LITELLM_MASTER_KEY`\n### In GitHub\n"
        "| variable | `AWS_REGION`, `PLAN_ROLE_ARN_<ENV>` |\n## Next\n`OTHER_NAME`\n"
    )
    producers = contract.Producers(frozenset(), contract.documented_variables(doc), [])
    assert producers.documents("AWS_REGION") and producers.documents("PLAN_ROLE_ARN_STAGING")
    assert not producers.documents("LITELLM_MASTER_KEY") and not producers.documents("OTHER_NAME")
    assert not producers.documents("PLAN_ROLE_ARN_")
