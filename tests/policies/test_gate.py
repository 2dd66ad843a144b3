"""The gate as CI runs it: what it scans, when it fails, what it writes.

Gate runs here use a small hand-written stack (tests/policies/fixtures) with the
repository's Dockerfile and workflows switched off, so that each test is about
one behaviour; the last test runs the real gate over the real environments.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from policy_helpers import SECURE_STACK, plan_json, write_stacks

from policies import gate, scan
from policies.scan import Target


def run_gate(capsys, *args: str) -> tuple[int, str]:
    code = gate.main(list(args))
    return code, capsys.readouterr().out


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No Dockerfile and no workflows: only the stacks a test writes are scanned."""
    monkeypatch.setattr(gate, "DOCKERFILES", ())
    monkeypatch.setattr(gate, "WORKFLOWS_DIR", tmp_path / "no-workflows")


@pytest.fixture
def fixture_stacks(tmp_path, secure_stack) -> Path:
    return write_stacks(tmp_path / "stacks", {"fixture-prod": secure_stack})


def gate_args(tmp_path: Path, stacks: Path, waivers: Path | None = None) -> list[str]:
    args = [
        "--stacks-dir",
        str(stacks),
        "--env",
        "prod",
        "--report-dir",
        str(tmp_path / "reports"),
        "--today",
        "2026-11-27",
    ]
    return [*args, "--waivers", str(waivers or tmp_path / "no-waivers.yaml")]


def plan_gate_args(tmp_path: Path, plan: Path) -> list[str]:
    """The plan session's gate: only the plan, judged as prod, without waivers."""
    reports, no_waivers = str(tmp_path / "reports"), str(tmp_path / "none.yaml")
    return [
        "--plan-json",
        str(plan),
        "--only-plan",
        "--env",
        "prod",
        "--report-dir",
        reports,
        "--waivers",
        no_waivers,
    ]


@pytest.fixture(scope="module")
def fixture_failures(checkov, tmp_path_factory) -> list[dict]:
    """The SARIF results of one unwaived gate run over the fixture stack (shared: each run costs seconds)."""
    tmp = tmp_path_factory.mktemp("first-run")
    stacks = write_stacks(tmp / "stacks", {"fixture-prod": json.loads(SECURE_STACK.read_text())})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gate, "DOCKERFILES", ())
        patch.setattr(gate, "WORKFLOWS_DIR", tmp / "no-workflows")
        gate.main(gate_args(tmp, stacks))
    return json.loads((tmp / "reports" / "policy.sarif").read_text())["runs"][0]["results"]


def waivers_for(results: list[dict], target: Path, extra: str = "") -> Path:
    """A waiver file covering every failure a previous run reported (as a reviewer would write it)."""
    lines = ["waivers:"]
    for result in results:
        lines += [
            f"  - check: {result['ruleId']}",
            f"    resource: {result['properties']['resource']}",
            "    environment: prod",
            "    reason: Accepted for this test fixture, which is not deployed.",
            "    expires: 2027-01-31",
        ]
    target.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return target


# ---------------------------------------------------------------- unit level
def test_resource_addresses_restore_type_and_name():
    index = scan.resource_addresses(SECURE_STACK)
    assert index[("resource", "lg")][0][1] == "aws_cloudwatch_log_group.lg"
    assert index[("data", "doc")][0][1] == "data.aws_iam_policy_document.doc"


def test_stack_environment_comes_from_the_provider_default_tags(fixture_stacks):
    assert gate.stack_environment(fixture_stacks / "fixture-prod" / "cdk.tf.json") == "prod"


def test_two_stacks_claiming_one_environment_fail_instead_of_a_guess(isolated, tmp_path, secure_stack):
    stacks = write_stacks(tmp_path / "stacks", {"old-prod": secure_stack, "new-prod": secure_stack})
    _, missing = gate.targets(gate.parse_args(["--stacks-dir", str(stacks), "--env", "prod"]))
    (failing,) = [m for m in missing if m.fails]
    assert "both" in failing.reason


def test_only_plan_scans_nothing_but_the_plan(isolated, tmp_path, fixture_stacks):
    plan = tmp_path / "dev.plan.json"
    plan.write_text("{}")
    args = ["--stacks-dir", str(fixture_stacks), "--env", "dev", "--plan-json", str(plan), "--only-plan"]
    todo, missing = gate.targets(gate.parse_args(args))
    assert [(t.framework, t.scope) for t in todo] == [("terraform_plan", "dev")] and not missing
    # (no "NOT SCANNED" rows either: the plan session gates only the plan)


def test_terraform_framework_on_cdktf_json_is_an_error_not_a_pass(checkov):
    outcome = scan.run_checkov(Target("trap", "terraform", "prod", SECURE_STACK), gate.catalogue.CHECKS_DIR)
    assert outcome.error and "evaluated nothing" in outcome.error


# ---------------------------------------------------------------- gate runs
def test_unwaived_failures_fail_the_gate_and_are_listed(checkov, isolated, capsys, tmp_path, fixture_stacks):
    code, out = run_gate(capsys, *gate_args(tmp_path, fixture_stacks))
    assert code == 1
    assert "CKV_AWS_158 aws_cloudwatch_log_group.lg in stack fixture-prod" in out
    assert "policy gate FAILED" in out


def test_gate_passes_when_every_failure_has_a_live_waiver(
    fixture_failures, isolated, capsys, tmp_path, fixture_stacks
):
    waivers = waivers_for(fixture_failures, tmp_path / "waivers.yaml")
    code, out = run_gate(capsys, *gate_args(tmp_path, fixture_stacks, waivers))
    assert code == 0, out
    assert "0 failed" in out and "policy gate PASSED" in out
    sarif = json.loads((tmp_path / "reports" / "policy.sarif").read_text())
    assert all(r["suppressions"][0]["kind"] == "external" for r in sarif["runs"][0]["results"])
    junit = ET.parse(tmp_path / "reports" / "policy.junit.xml").getroot()  # noqa: S314 (our own report)
    assert junit.find(".//failure") is None and junit.find(".//skipped") is not None


def test_stale_waiver_fails_the_gate(fixture_failures, isolated, capsys, tmp_path, fixture_stacks):
    stale = (
        "  - check: CKV_AWS_91\n    resource: aws_lb.long_gone\n    environment: prod\n"
        "    reason: Accepted for this test fixture, which is not deployed.\n    expires: 2027-01-31\n"
    )
    waivers = waivers_for(fixture_failures, tmp_path / "waivers.yaml", stale)
    code, out = run_gate(capsys, *gate_args(tmp_path, fixture_stacks, waivers))
    assert code == 1 and "stale waiver" in out and "aws_lb.long_gone" in out


def test_expired_waiver_fails_the_gate(fixture_failures, isolated, capsys, tmp_path, fixture_stacks):
    waivers = waivers_for(fixture_failures, tmp_path / "waivers.yaml")
    waivers.write_text(waivers.read_text().replace("2027-01-31", "2026-11-01", 1))
    code, out = run_gate(capsys, *gate_args(tmp_path, fixture_stacks, waivers))
    assert code == 1 and "expired waiver" in out


def test_missing_stack_fails_the_gate(checkov, isolated, capsys, tmp_path, fixture_stacks):
    code, out = run_gate(capsys, *gate_args(tmp_path, fixture_stacks), "--env", "staging")
    assert code == 1 and "MISSING" in out and "no stack tagged environment=staging" in out


def test_custom_policy_that_evaluates_nothing_fails_the_stack(
    checkov, isolated, capsys, tmp_path, secure_stack
):
    del secure_stack["resource"]["aws_bedrock_guardrail"]
    stacks = write_stacks(tmp_path / "stacks", {"fixture-prod": secure_stack})
    code, out = run_gate(capsys, *gate_args(tmp_path, stacks))
    assert code == 1 and "custom policies evaluated nothing: CKV_LLMGW_4, CKV_LLMGW_5" in out


def test_absent_dockerfile_is_reported_not_scanned_never_passed(
    checkov, monkeypatch, capsys, tmp_path, fixture_stacks
):
    monkeypatch.setattr(gate, "DOCKERFILES", ("gateway/Dockerfile.absent",))
    monkeypatch.setattr(gate, "WORKFLOWS_DIR", tmp_path / "no-workflows")
    _, out = run_gate(capsys, *gate_args(tmp_path, fixture_stacks))
    assert "NOT SCANNED (not counted as passed): gateway/Dockerfile.absent" in out
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert not any(t["label"] == "gateway/Dockerfile.absent" for t in summary["targets"])
    junit = ET.parse(tmp_path / "reports" / "policy.junit.xml")  # noqa: S314 (our own report)
    assert junit.find(".//testcase[@name='gateway/Dockerfile.absent']/skipped") is not None


def test_reports_are_written_for_ci(checkov, isolated, capsys, tmp_path, fixture_stacks):
    run_gate(capsys, *gate_args(tmp_path, fixture_stacks))
    sarif = json.loads((tmp_path / "reports" / "policy.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    suites = ET.parse(tmp_path / "reports" / "policy.junit.xml")  # noqa: S314 (our own report).getroot()
    assert suites.find(".//failure") is not None
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert summary["passed"] is False and summary["failures"]


# ---------------------------------------------------------------- the real thing
@pytest.mark.slow
def test_gate_passes_on_every_real_environment(checkov, capsys, tmp_path, real_stacks):
    code, out = run_gate(capsys, "--stacks-dir", str(real_stacks), "--report-dir", str(tmp_path / "reports"))
    print(out)
    assert code == 0, out


# ---------------------------------------------------------------- plans
@pytest.fixture(scope="module")
def secure_plan(checkov, tmp_path_factory) -> Path:
    return plan_json(json.loads(SECURE_STACK.read_text()), tmp_path_factory.mktemp("plan-secure"))


def test_plan_is_scanned_with_the_terraform_plan_framework(isolated, capsys, tmp_path, secure_plan):
    _, out = run_gate(capsys, *plan_gate_args(tmp_path, secure_plan))
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert [(t["framework"], t["scope"]) for t in summary["targets"]] == [("terraform_plan", "prod")]
    assert not [line for line in summary["failures"] if line.startswith("CKV_LLMGW_")]
    assert "stack" not in " ".join(t["label"] for t in summary["targets"])
    # The container definitions hold endpoints known only after apply: said, not passed.
    assert "not evaluable in this plan (values known after apply): CKV_LLMGW_3" in out


def test_plan_breaking_invariants_fails_with_their_ids(checkov, isolated, capsys, tmp_path, secure_stack):
    from test_custom_checks import one_day_logs, task_with_public_ip, waf_allows_by_default

    for mutation in (one_day_logs, task_with_public_ip, waf_allows_by_default):
        mutation(secure_stack)
    plan = plan_json(secure_stack, tmp_path / "plan")
    code, _ = run_gate(capsys, *plan_gate_args(tmp_path, plan))
    failures = json.loads((tmp_path / "reports" / "summary.json").read_text())["failures"]
    assert code == 1
    assert {line.split()[0] for line in failures if line.startswith("CKV_LLMGW_")} == {
        "CKV_LLMGW_1",
        "CKV_LLMGW_10",
        "CKV_LLMGW_11",
    }


# ---------------------------------------------------------------- Dockerfile
@pytest.fixture
def dockerfile(monkeypatch, tmp_path) -> Path:
    """A Dockerfile with textbook mistakes, scanned instead of the repository's."""
    path = tmp_path / "Dockerfile"
    path.write_text(
        "FROM debian:latest\n"
        "# checkov:skip=CKV_DOCKER_2:no reason\n"
        "RUN apt-get update && apt-get install -y curl\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(gate, "DOCKERFILES", (str(path),))
    monkeypatch.setattr(gate, "HADOLINT_CONFIG", tmp_path / "no-hadolint-config.yaml")
    monkeypatch.setattr(gate, "WORKFLOWS_DIR", tmp_path / "no-workflows")
    return path


def dockerfile_failures(capsys, tmp_path, fixture_stacks) -> dict[str, set[str]]:
    run_gate(capsys, *gate_args(tmp_path, fixture_stacks))
    sarif = json.loads((tmp_path / "reports" / "policy.sarif").read_text())
    found: dict[str, set[str]] = {}
    for result in sarif["runs"][0]["results"]:
        found.setdefault(result["properties"]["framework"], set()).add(result["ruleId"])
    return found


def test_dockerfile_is_scanned_by_checkov_and_hadolint(checkov, dockerfile, capsys, tmp_path, fixture_stacks):
    found = dockerfile_failures(capsys, tmp_path, fixture_stacks)
    assert "CKV_DOCKER_7" in found["dockerfile"]  # FROM ...:latest
    assert {"DL3007", "DL3008"} <= found["hadolint"]  # latest tag; unpinned apt package


def test_inline_checkov_skip_is_no_waiver(checkov, dockerfile, capsys, tmp_path, fixture_stacks):
    _, out = run_gate(capsys, *gate_args(tmp_path, fixture_stacks))
    assert "CKV_DOCKER_2" in out and "inline suppression ignored: use policies/waivers.yaml" in out
