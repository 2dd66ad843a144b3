"""The custom policy catalogue: every policy declares an id, a severity and a one-line reason."""

from __future__ import annotations

import pytest

from policies import catalogue
from policies.catalogue import CatalogueError

YAML_POLICY = "metadata:\n  id: {id}\n  name: {name}\n  severity: {severity}\n  category: NETWORKING\n"
PY_POLICY = 'POLICY = {{"id": "{id}", "severity": "{severity}", "reason": "{name}"}}\n'


def test_repository_declares_at_least_six_complete_policies():
    policies = catalogue.load()
    assert len(policies) >= 6
    assert all(p.severity in catalogue.SEVERITIES and p.reason for p in policies.values())


def test_yaml_and_python_policies_are_both_read(tmp_path):
    (tmp_path / "a.yaml").write_text(YAML_POLICY.format(id="CKV_LLMGW_1", name="one", severity="HIGH"))
    (tmp_path / "b.py").write_text(PY_POLICY.format(id="CKV_LLMGW_2", name="two", severity="LOW"))
    (tmp_path / "helpers.py").write_text("def helper():\n    return 1\n")
    assert {i: p.reason for i, p in catalogue.load(tmp_path).items()} == {
        "CKV_LLMGW_1": "one",
        "CKV_LLMGW_2": "two",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (YAML_POLICY.format(id="CKV_LLMGW_1", name="x", severity="URGENT"), "severity"),
        (YAML_POLICY.format(id="CKV_LLMGW_1", name="''", severity="HIGH"), "reason"),
        (YAML_POLICY.format(id="CKV2_AWS_1", name="x", severity="HIGH"), "CKV_LLMGW_"),
    ],
    ids=["unknown-severity", "no-reason", "foreign-id"],
)
def test_incomplete_policy_is_refused(tmp_path, text, message):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(CatalogueError, match=message):
        catalogue.load(tmp_path)


def test_duplicate_id_is_refused(tmp_path):
    (tmp_path / "a.yaml").write_text(YAML_POLICY.format(id="CKV_LLMGW_1", name="one", severity="HIGH"))
    (tmp_path / "b.py").write_text(PY_POLICY.format(id="CKV_LLMGW_1", name="two", severity="HIGH"))
    with pytest.raises(CatalogueError, match="already declared"):
        catalogue.load(tmp_path)
