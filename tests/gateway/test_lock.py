"""gateway/requirements.lock: what the image installs, hash-checked and free of compromised releases."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "gateway" / "requirements.lock"
COMPROMISED_LITELLM = {"1.82.7", "1.82.8"}


def _requirements() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes), from pip's multi-line `name==v \\ --hash=...` format."""
    logical = re.sub(r"\\\n", " ", LOCK.read_text())
    found = {}
    for line in logical.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)\s*(.*)$", line)
        assert match, f"not pinned with ==: {line[:80]}"
        name, version, rest = match.groups()
        found[re.sub(r"\[.*\]", "", name).lower().replace("_", "-")] = (
            version,
            re.findall(r"--hash=sha256:\w+", rest),
        )
    return found


def _gateway_group() -> dict[str, str]:
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    pins = {}
    for spec in groups["gateway"]:
        name, _, version = spec.partition("==")
        pins[re.sub(r"\[.*\]", "", name).lower()] = version
    return pins


def test_every_locked_requirement_is_pinned_and_carries_a_sha256_hash():
    requirements = _requirements()
    assert len(requirements) > 50
    assert [name for name, (_, hashes) in requirements.items() if not hashes] == []


def test_no_compromised_litellm_release_is_locked():
    version, _ = _requirements()["litellm"]
    assert version not in COMPROMISED_LITELLM


@pytest.mark.parametrize(("name", "version"), sorted(_gateway_group().items()))
def test_the_lock_holds_each_direct_dependency_at_its_pyproject_pin(name, version):
    assert _requirements()[name][0] == version


def test_the_image_gets_the_otel_exporter_the_phoenix_callback_needs_and_the_prisma_client():
    requirements = _requirements()
    for name in (
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-http",
        "prisma",
        "litellm-proxy-extras",
    ):
        assert name in requirements, name
