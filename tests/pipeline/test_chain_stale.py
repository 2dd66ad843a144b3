"""A saved plan whose state moved is refused against the AWS emulator, in one `error:` line.

The state moves the way it does in a team: someone else applies between the plan being
reviewed and the approved job applying it. A real aws-provider stack (one SSM parameter)
against moto, planned and applied by pipeline.plan / pipeline.apply.
"""

from __future__ import annotations

import json
import shutil

import pytest
from plan_stacks import make_repo, run_plan

from pipeline import apply
from pipeline.terraform import terraform, terraform_env

pytestmark = [
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH"),
    pytest.mark.slow,
]


@pytest.fixture(scope="module")
def emulator():
    from pipeline.aws_emulator import running

    with running(account_id="111111111111") as server:
        yield server


def write_aws_stack(tmp_path, endpoint, value):
    stack = tmp_path / "out" / "stacks" / "llm-gateway-dev"
    stack.mkdir(parents=True, exist_ok=True)
    body = {
        "terraform": {
            "backend": {"local": {"path": str(tmp_path / "dev.tfstate")}},
            "required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}},
        },
        "provider": {
            "aws": [
                {
                    "region": "us-east-1",
                    "endpoints": [{"ssm": endpoint, "sts": endpoint}],
                    "skip_credentials_validation": True,
                    "skip_requesting_account_id": True,
                    "skip_metadata_api_check": "true",
                    "max_retries": 1,
                }
            ]
        },
        "variable": {"image_tag": {"type": "string"}},
        "resource": {
            "aws_ssm_parameter": {
                "flag": {"name": f"/chain-test/{tmp_path.name}", "type": "String", "value": value}
            }
        },
        "output": {"image_tag": {"value": "${var.image_tag}"}},
    }
    (stack / "cdk.tf.json").write_text(json.dumps(body))
    return stack


@pytest.fixture
def reviewed(tmp_path, emulator, monkeypatch):
    """A reviewed plan, then someone else's apply of the same configuration: the state moved."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    repo = make_repo(tmp_path)
    stack = write_aws_stack(tmp_path, emulator.endpoint, "on")
    assert run_plan(tmp_path, repo, "--image-tag", "abc123") == 0
    other = terraform(
        ["apply", "-auto-approve", "-input=false", "-no-color", "-var=image_tag=abc123"],
        stack,
        env=terraform_env(),
        check=False,
    )
    assert other.returncode == 0
    return tmp_path, repo


def errors(text):
    return [line for line in text.splitlines() if line.startswith("error:")]


def test_our_check_refuses_the_plan_before_terraform_runs(reviewed, capfd):
    tmp_path, repo = reviewed
    capfd.readouterr()
    code = apply.main(["dev", "--out-dir", str(tmp_path / "plans"), "--repo", str(repo)])
    assert code == apply.EXIT_REFUSED
    (line,) = errors(capfd.readouterr().err)
    assert "the state changed since the plan (serial None -> 1)" in line


def test_terraform_refuses_it_too_and_the_cause_is_one_line(reviewed, capfd):
    """Our check bypassed (the metadata claims the current state): Terraform's own refusal, named."""
    tmp_path, repo = reviewed
    meta_path = tmp_path / "plans" / "dev.plan.meta.json"
    state = json.loads((tmp_path / "dev.tfstate").read_text())
    meta = json.loads(meta_path.read_text())
    meta["state"] = {"lineage": state["lineage"], "serial": state["serial"]}
    meta_path.write_text(json.dumps(meta))
    capfd.readouterr()
    code = apply.main(["dev", "--out-dir", str(tmp_path / "plans"), "--repo", str(repo)])
    assert code == apply.EXIT_ERROR
    assert errors(capfd.readouterr().err) == [
        "error: dev: Terraform refused the saved plan: Saved plan is stale (the state changed after the "
        "plan was made); plan again and have the new plan reviewed"
    ]


def test_the_certificate_an_environment_names_is_issued_in_the_emulator(emulator):
    """The chain's stand-in for the certificate a team issues before the first deploy."""
    from modules.config import load
    from pipeline import chain

    arn = load(chain.ROOT / "environments" / "dev").edge.certificate_arn
    if arn is None:
        pytest.skip("dev names no certificate")
    acm = emulator.client("acm", arn.split(":")[3])
    with pytest.raises(acm.exceptions.ResourceNotFoundException):
        acm.describe_certificate(CertificateArn=arn)
    chain.provide_certificate(arn, "dev.gateway.example")
    described = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert (described["CertificateArn"], described["DomainName"]) == (arn, "dev.gateway.example")
