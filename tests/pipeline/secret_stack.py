"""The dev stack applied once to the emulator, with everything the secret tests read from it.

One session fixture (`applied_stack`) shared by test_secret_grep.py and
test_secret_plan_role.py (each imports it): synth against the in-process moto →
init → plan → apply → seed_secrets → state, plan JSON (Terraform's and the redacted artifact),
plan text and summary; then a second plan, as a pull request's would run
against deployed state, with the emulator recording every request it serves.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipeline import plan_role, secret_grep, seed_secrets
from pipeline.aws_emulator import EmulatorServer, running
from pipeline.integration import ROOT, Workspace, change_setting, expectations
from pipeline.summary import redact_plan, render_summary

ENVIRONMENT = "dev"


@dataclass
class AppliedStack:
    server: EmulatorServer
    space: Workspace
    region: str
    state: dict[str, Any]
    artifacts: list[Path]  # every file the pipeline writes for this environment
    secrets: dict[str, str]  # label -> value, from Secrets Manager and the state
    recording: Path  # the emulator's requests during the pull-request plan
    pull_request_plan: dict[str, Any]  # that plan (`terraform show -json`)


def _certificate(server: EmulatorServer, region: str) -> str:
    """An ACM certificate in the emulator (its load balancer checks the listener's one exists)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    imported = server.client("acm", region).import_certificate(
        Certificate=cert.public_bytes(serialization.Encoding.PEM),
        PrivateKey=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    return imported["CertificateArn"]


def _artifacts(space: Workspace, work: Path, plan_json: dict[str, Any], state: dict[str, Any]) -> list[Path]:
    """What the pipeline writes: the stack, the raw state, the saved plan and its renderings."""
    stack = space.stack_dir
    assert stack is not None
    out = work / "plans"
    out.mkdir(exist_ok=True)
    (out / f"{ENVIRONMENT}.plan.json").write_text(json.dumps(redact_plan(plan_json)))
    (out / f"{ENVIRONMENT}.plan.txt").write_text(
        space.tf("show", "-no-color", "initial.tfplan", capture=True)
    )
    (out / f"{ENVIRONMENT}.plan.md").write_text(
        render_summary(plan_json, environment=ENVIRONMENT, policy=None)
    )
    (out / "terraform-show.plan.json").write_text(json.dumps(plan_json))  # Terraform's own, unredacted
    (out / "state.json").write_text(json.dumps(state))
    return [stack / "cdk.tf.json", stack / "initial.tfplan", space.state_dir, out]


@pytest.fixture(scope="session")
def applied_stack(tmp_path_factory) -> AppliedStack:
    work = tmp_path_factory.mktemp("secret-stack")
    shutil.copytree(ROOT / "environments", work / "environments")
    expect = expectations(ENVIRONMENT, work / "environments")
    region = expect["region"]
    with running(account_id=expect["account_id"]) as server:
        config = work / "environments" / ENVIRONMENT / "config.yaml"
        change_setting(config, "edge", "certificate_arn", _certificate(server, region))
        space = Workspace(work, ENVIRONMENT, server.endpoint, region)
        space.synth()
        space.tf("init", "-input=false", "-no-color")
        plan_json = space.plan("initial")
        space.tf("apply", "-input=false", "-no-color", "initial.tfplan")
        # The apply job's next step: the key secrets are created empty, pipeline.seed_secrets fills them.
        outputs = {k: v["value"] for k, v in json.loads(space.tf("output", "-json", capture=True)).items()}
        seeded = seed_secrets.seed_all(server.client("secretsmanager", region), outputs)
        assert [o.action for o in seeded] == ["written", "written"], seeded
        state = space.state()
        with plan_role.recording(work / "requests.jsonl") as recording:
            pull_request_plan = space.plan("pull-request")
        secrets = secret_grep.generated_secrets(
            secret_grep.secrets_manager_values(
                server.client("secretsmanager", region), secret_grep.secret_arns_in(state)
            ),
            secret_grep.state_sensitive_values(state),
        )
        yield AppliedStack(
            server=server,
            space=space,
            region=region,
            state=state,
            artifacts=_artifacts(space, work, plan_json, state),
            secrets=secrets,
            recording=recording,
            pull_request_plan=pull_request_plan,
        )
