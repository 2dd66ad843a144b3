"""Shared fixtures for the construct tests: every environment synthesized ONCE per session.

A full stack takes seconds and about a gigabyte to synthesize, so tests read
the JSON of one session-wide synth instead of building their own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ROOT / "environments"


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """{environment name: Terraform JSON} for every folder under environments/, from one app.synth()."""
    from main import parse_args, synth
    from modules.config import load_all

    out = tmp_path_factory.mktemp("cdktf.out")
    configs = load_all(ENVIRONMENTS)
    paths = synth(configs, parse_args(["--out", str(out)]))
    return {c.name: json.loads(p.read_text()) for c, p in zip(configs, paths, strict=True)}


@pytest.fixture(scope="session")
def dev(synthesized: dict[str, dict]) -> dict:
    return synthesized["dev"]


@pytest.fixture(scope="session")
def prod(synthesized: dict[str, dict]) -> dict:
    return synthesized["prod"]


def synth_construct(build) -> dict:
    """Terraform JSON of `build(stack)` in a bare stack with only an AWS provider (fast unit synth)."""
    from cdktf_cdktf_provider_aws.provider import AwsProvider

    from modules import cdk

    stack = cdk.TerraformStack(cdk.Testing.app(), "test")
    AwsProvider(stack, "aws", region="us-east-1")
    build(stack)
    return json.loads(cdk.Testing.synth(stack))


@pytest.fixture(scope="session")
def synth_in_stack():
    """The `synth_construct` helper, for module-scoped fixtures of the construct tests."""
    return synth_construct


def resources(doc: dict, kind: str) -> list[dict]:
    """Every resource of one Terraform type in a synthesized document."""
    return list(doc.get("resource", {}).get(kind, {}).values())


@pytest.fixture(scope="session")
def of_type():
    """The `resources` helper as a fixture."""
    return resources
