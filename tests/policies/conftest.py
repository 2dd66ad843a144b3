"""Shared fixtures: checkov from the policy venv, stacks to scan, and synthesis done once per session.

Synthesis costs ~12 s and ~1.2 GB per run, so each variant (the real
environments, a deliberately broken prod) is synthesized once per test session.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from policy_helpers import ROOT, SECURE_STACK, synth

from policies import scan


@pytest.fixture(scope="session")
def checkov() -> Path:
    path = scan.checkov_path()
    if path is None:
        pytest.skip(
            f"checkov is not installed in {scan.policy_bin()} (the policy venv: `nox -s policy` creates it)"
        )
    return path


@pytest.fixture
def secure_stack() -> dict:
    """A small CDKTF-shaped stack that satisfies every gateway policy under prod rules."""
    return json.loads(SECURE_STACK.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def real_stacks(tmp_path_factory) -> Path:
    """Every environment in environments/, synthesized once."""
    return synth(ROOT / "environments", tmp_path_factory.mktemp("real") / "cdktf.out")


@pytest.fixture(scope="session")
def broken_prod_stacks(tmp_path_factory) -> Path:
    """prod with deletion protection off and one-day logs: what the policies exist to refuse."""
    envs = tmp_path_factory.mktemp("broken-envs")
    shutil.copytree(ROOT / "environments", envs, dirs_exist_ok=True)
    config_file = envs / "prod" / "config.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config["database"]["deletion_protection"] = False
    config["database"]["skip_final_snapshot"] = True
    config["observability"]["log_retention_days"] = 1
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return synth(envs, tmp_path_factory.mktemp("broken") / "cdktf.out", "prod")
