"""The `delivery` section: how the workflows reach an environment, checked with one-line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from modules.config import ConfigError, load, load_all

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ROOT / "environments"


def copy_environments(tmp_path: Path) -> Path:
    shutil.copytree(ENVIRONMENTS, tmp_path, dirs_exist_ok=True)
    return tmp_path


def change(root: Path, name: str, section: str, key: str, value) -> Path:
    file = root / name / "config.yaml"
    data = yaml.safe_load(file.read_text())
    data[section][key] = value
    file.write_text(yaml.safe_dump(data, sort_keys=False))
    return file


def refused(root: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_all(root)
    assert "\n" not in str(caught.value)
    return caught.value


def test_shipped_environments_deploy_dev_then_staging_then_prod_and_only_prod_waits_for_approval() -> None:
    configs = {c.name: c.delivery for c in load_all(ENVIRONMENTS)}
    assert sorted(configs, key=lambda n: configs[n].order) == ["dev", "staging", "prod"]
    assert [n for n, d in configs.items() if d.approval] == ["prod"]
    assert configs["staging"].plan_role_variable == "PLAN_ROLE_ARN_STAGING"


def test_each_account_has_its_own_state_bucket() -> None:
    configs = load_all(ENVIRONMENTS)
    buckets = {c.aws.account_id: c.state.bucket for c in configs}
    assert len(set(buckets.values())) == len(buckets) == len(configs)


def test_the_section_is_required_and_says_what_it_holds(tmp_path: Path) -> None:
    root = copy_environments(tmp_path)
    file = root / "dev" / "config.yaml"
    data = yaml.safe_load(file.read_text())
    del data["delivery"]
    file.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError) as caught:
        load(root / "dev")
    assert caught.value.field == "delivery" and "is missing; required: stage order" in caught.value.message


@pytest.mark.parametrize(
    ("environment", "key", "value", "says"),
    [
        ("dev", "plan_role_variable", "GITHUB_PLAN_ROLE", ("allowed: a GitHub variable name", "GITHUB_")),
        ("prod", "apply_role_variable", "PLAN_ROLE_ARN_PROD", ("never reach the apply role",)),
        ("prod", "access_role_variable", "PLAN_ROLE_ARN_PROD", ("must never run the admin task",)),
    ],
    ids=[
        "must-be-a-github-variable-name",
        "plan-role-is-never-the-apply-role",
        "plan-role-is-never-the-access-role",
    ],
)
def test_a_role_variable_github_would_refuse_or_that_merges_plan_and_apply_is_refused(
    tmp_path: Path, environment: str, key: str, value: str, says: tuple[str, ...]
) -> None:
    root = copy_environments(tmp_path)
    change(root, environment, "delivery", key, value)
    with pytest.raises(ConfigError) as caught:
        load(root / environment)
    assert caught.value.field == f"delivery.{key}"
    assert all(text in caught.value.message for text in says), caught.value.message


def test_a_state_bucket_shared_across_accounts_is_refused(tmp_path: Path) -> None:
    # What dev and prod did before: one bucket holding the state of two accounts.
    root = copy_environments(tmp_path)
    change(root, "prod", "state", "bucket", "acme-llm-gateway-tfstate-111111111111")
    err = refused(root)
    assert err.file.endswith("prod/config.yaml") and err.field == "state.bucket"
    assert (
        "also used by 'dev' (account 111111111111)" in err.message
        and "in account 222222222222" in err.message
    )


def test_a_role_variable_shared_across_accounts_is_refused(tmp_path: Path) -> None:
    root = copy_environments(tmp_path)
    change(root, "staging", "delivery", "apply_role_variable", "APPLY_ROLE_ARN_DEV")
    err = refused(root)
    assert err.file.endswith("staging/config.yaml") and err.field == "delivery.apply_role_variable"


def test_environments_of_one_account_may_share_a_bucket_and_roles(tmp_path: Path) -> None:
    root = copy_environments(tmp_path)
    shutil.copytree(root / "dev", root / "qa")
    qa = root / "qa" / "config.yaml"
    qa.write_text(qa.read_text().replace("llm-gateway/dev/", "llm-gateway/qa/"))
    assert [c.name for c in load_all(root)] == ["dev", "prod", "qa", "staging"]
