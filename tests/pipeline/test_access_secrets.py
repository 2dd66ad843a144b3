"""gateway/access/secrets.py and the CLI around it: a key's value lands in one secret store, nowhere else.

The file store is exercised on disk; the Secrets Manager store against moto (the AWS API,
not LiteLLM). The end-to-end proof that no value reaches the output or the gateway's logs
is the smoke row access_plan_empty_after_provisioning, against the real gateway.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from gateway.access.secrets import FileStore, SecretsManagerStore

ROOT = Path(__file__).resolve().parents[2]


def test_the_file_store_writes_each_value_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "secrets" / "access")
    store.put("search-indexer", "sk-first")
    store.put("search-indexer", "sk-second")  # a rotation replaces the value
    path = tmp_path / "secrets" / "access" / "search-indexer"
    assert store.get("search-indexer") == "sk-second" and path.read_text() == "sk-second"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["search-indexer"], "no partial file is left"
    assert store.get("other") is None
    assert "sk-second" not in store.where("search-indexer")


def test_the_default_local_store_is_git_ignored() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".work/access/dev/search-indexer"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0


@mock_aws
def test_secrets_manager_holds_one_secret_per_key_named_by_environment_and_alias() -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    store = SecretsManagerStore("llm-gateway-dev", region="us-east-1", client=client)
    store.put("search-indexer", "sk-first")
    store.put("search-indexer", "sk-rotated")
    store.put("search-answers", "sk-other")
    names = sorted(s["Name"] for s in client.list_secrets()["SecretList"])
    assert names == ["llm-gateway-dev/access/search-answers", "llm-gateway-dev/access/search-indexer"]
    assert store.get("search-indexer") == "sk-rotated" and store.get("missing") is None
    assert store.where("search-indexer") == "Secrets Manager secret llm-gateway-dev/access/search-indexer"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.access", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_diff_against_a_base_without_the_file_creates_everything_exit_2(env: str, tmp_path: Path) -> None:
    """The PR comment's section when a branch adds an access.yaml (the first commit has none)."""
    first = subprocess.run(
        ["git", "rev-list", "--max-parents=0", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()[0]
    done = _cli("diff", "--env", env, "--base", first, "--markdown", str(tmp_path / "access.md"))
    assert done.returncode == 2, done.stdout + done.stderr
    section = (tmp_path / "access.md").read_text()
    assert section.startswith(f"### Access: {env}\n") and "\n+ team search\n" in section
    assert "to update" in section and "0 to delete" in section


def test_diff_writes_its_section_into_a_folder_the_pr_job_has_not_made_yet(tmp_path: Path) -> None:
    section = tmp_path / "plans" / "prod.access.md"
    done = _cli("diff", "--env", "prod", "--base", "HEAD", "--markdown", str(section))
    assert done.returncode == 0, done.stdout + done.stderr
    assert section.read_text().startswith("### Access: prod\n")


def test_a_bad_declaration_is_one_error_line_and_exit_1(tmp_path: Path) -> None:
    done = _cli("plan", "--env", "no-such-env", "--url", "http://127.0.0.1:9", "--key", "sk-x")
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
