"""Helpers the policy tests share: write stacks, scan them with checkov, synthesize, plan.

A module of its own (not conftest.py) so that tests import it by a unique name.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from policies import scan
from policies.scan import Finding, Target

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SECURE_STACK = FIXTURES / "secure_stack.json"
CUSTOM_PREFIX = "CKV_LLMGW_"


def write_stacks(root: Path, stacks: dict[str, dict]) -> Path:
    """Write each stack as <root>/<name>/cdk.tf.json (two-space indent, as CDKTF writes)."""
    for name, stack in stacks.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "cdk.tf.json").write_text(json.dumps(stack, indent=2), encoding="utf-8")
    return root


def scan_stacks(root: Path, env: str) -> dict[str, list[Finding]]:
    """One checkov run over every stack under `root` as environment `env`: findings per stack folder."""
    outcome = scan.run_checkov(
        Target("test", "terraform_json", env, root, True), scan.ROOT / "policies" / "checks"
    )
    assert outcome.error is None, outcome.error
    by_stack: dict[str, list[Finding]] = {}
    for finding in outcome.findings:
        by_stack.setdefault(finding.file.strip("/").split("/")[0], []).append(finding)
    return by_stack


def failed_custom(findings: list[Finding]) -> set[str]:
    return {f.check_id for f in findings if not f.passed and f.check_id.startswith(CUSTOM_PREFIX)}


def synth(environments_dir: Path, out: Path, *envs: str) -> Path:
    """Run main.py into `out`; returns the stacks folder. A failed synth fails the test (not a skip)."""
    command = [
        sys.executable,
        "main.py",
        *envs,
        "--environments-dir",
        str(environments_dir),
        "--out",
        str(out),
    ]
    print(f"synthesizing {' '.join(envs) or 'every environment'} from {environments_dir} (~15 s a stack)")
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, f"main.py failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return out / "stacks"


def stack_of(stacks_dir: Path, env: str) -> dict:
    (stack_file,) = [p for p in stacks_dir.glob(f"*-{env}/cdk.tf.json")]
    return json.loads(stack_file.read_text(encoding="utf-8"))


Mutation = Callable[[dict], None]


def mutated(stack: dict, mutation: Mutation) -> dict:
    copy_ = copy.deepcopy(stack)
    mutation(copy_)
    return copy_


def plan_json(stack: dict, workdir: Path) -> Path:
    """`terraform show -json` of a create-only plan of `stack`, made offline (fake credentials, no API call).

    Skips when Terraform or the aws provider mirror is absent (a plan needs both).
    """
    terraform_mod = pytest.importorskip("pipeline.terraform")
    if shutil.which("terraform") is None or terraform_mod.provider_mirror() is None:
        pytest.skip("terraform or the hashicorp/aws provider mirror is not on this machine")
    config = copy.deepcopy(stack)
    config["terraform"].pop("backend", None)
    config["terraform"]["required_providers"]["aws"]["source"] = "hashicorp/aws"
    config["provider"]["aws"][0].update(
        {
            "access_key": "test",
            "secret_key": "test",
            "skip_credentials_validation": True,
            "skip_requesting_account_id": True,
            "skip_metadata_api_check": "true",
            "skip_region_validation": True,
        }
    )
    # The fixture's token comes from a secret version the plan does not have: a sensitive variable instead.
    config["variable"] = {"cache_auth_token": {"type": "string", "sensitive": True, "default": "t" * 32}}
    for group in (config["resource"].get("aws_elasticache_replication_group") or {}).values():
        if "auth_token" in group:
            group["auth_token"] = "${var.cache_auth_token}"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "main.tf.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    terraform_mod.terraform(["init", "-no-color"], workdir, capture=True)
    terraform_mod.terraform(["plan", "-no-color", "-out=gate.tfplan"], workdir, capture=True)
    shown = terraform_mod.terraform(["show", "-json", "gate.tfplan"], workdir, capture=True)
    out = workdir / "plan.json"
    out.write_text(shown.stdout, encoding="utf-8")
    return out
