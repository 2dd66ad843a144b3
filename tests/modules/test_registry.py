"""modules/registry.py: an immutable, scanned, encrypted repository; pull sharing; promoted images."""

from __future__ import annotations

import json

import pytest
from compute_settings import settings

from modules import cdk
from modules.registry import PULL_ACTIONS, Registry, RegistryWiring, repository_url

BUILD_REPOSITORY = "arn:aws:ecr:us-east-1:999999999999:repository/gw-build"
BUILD_REPOSITORY_URL = "999999999999.dkr.ecr.us-east-1.amazonaws.com/gw-build"
WIRING = RegistryWiring(name="gw-test", retain_images=False)


def registry(**changes):
    """Build the Registry, in the stack's scope, with the test settings changed."""
    return lambda stack: Registry(stack, settings=settings(**changes), wiring=WIRING)


@pytest.fixture(scope="module")
def doc(synth_in_stack) -> dict:
    return synth_in_stack(registry())


def one(doc: dict, kind: str) -> dict:
    (item,) = doc["resource"][kind].values()
    return item


# ---------------------------------------------------------------- the stack's own repository
def test_repository_is_immutable_scanned_and_kms_encrypted(doc) -> None:
    repo = one(doc, "aws_ecr_repository")
    assert repo["image_tag_mutability"] == "IMMUTABLE"
    assert repo["image_scanning_configuration"]["scan_on_push"] is True
    (encryption,) = repo["encryption_configuration"]
    assert encryption["encryption_type"] == "KMS" and encryption["kms_key"].startswith("${aws_kms_key.")


def test_repository_lifecycle_expires_untagged_images(doc) -> None:
    rules = json.loads(one(doc, "aws_ecr_lifecycle_policy")["policy"])["rules"]
    assert rules[0]["selection"]["tagStatus"] == "untagged" and rules[0]["action"]["type"] == "expire"


def test_an_unshared_repository_has_no_repository_policy(doc) -> None:
    assert "aws_ecr_repository_policy" not in doc["resource"]


# ---------------------------------------------------------------- a repository shared with other accounts
@pytest.fixture(scope="module")
def shared(synth_in_stack) -> dict:
    pullers = ("222222222222", "333333333333")
    return synth_in_stack(registry(image_pull_account_ids=pullers))


def test_shared_repository_lets_exactly_the_listed_accounts_pull(shared) -> None:
    policy = one(shared, "aws_ecr_repository_policy")
    assert policy["repository"].startswith("${aws_ecr_repository.") and policy["repository"].endswith(
        ".name}"
    )
    (statement,) = json.loads(policy["policy"])["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {
        "AWS": [
            "arn:${data.aws_partition.account_partition.partition}:iam::222222222222:root",
            "arn:${data.aws_partition.account_partition.partition}:iam::333333333333:root",
        ]
    }


def test_shared_repository_grants_pull_and_nothing_else(shared) -> None:
    (statement,) = json.loads(one(shared, "aws_ecr_repository_policy")["policy"])["Statement"]
    assert statement["Action"] == PULL_ACTIONS
    assert not any(a in statement["Action"] for a in ("ecr:PutImage", "ecr:*", "ecr:InitiateLayerUpload"))
    assert "Condition" not in statement and "NotPrincipal" not in statement


def test_sharing_changes_nothing_else_of_the_repository(doc, shared) -> None:
    assert one(shared, "aws_ecr_repository") == one(doc, "aws_ecr_repository")
    assert one(shared, "aws_kms_key") == one(doc, "aws_kms_key")


# ---------------------------------------------------------------- images from another account's repository
def test_promoted_environment_creates_no_repository_key_or_lifecycle(synth_in_stack) -> None:
    promoted = synth_in_stack(registry(image_repository=BUILD_REPOSITORY))
    kinds = set(promoted.get("resource", {}))
    assert not {"aws_ecr_repository", "aws_ecr_lifecycle_policy", "aws_ecr_repository_policy"} & kinds
    assert "aws_kms_key" not in kinds


def test_promoted_registry_points_at_the_build_repository() -> None:
    stack = cdk.TerraformStack(cdk.Testing.app(), "test")
    promoted = Registry(stack, settings=settings(image_repository=BUILD_REPOSITORY), wiring=WIRING)
    assert (promoted.repository_url, promoted.repository_arn) == (BUILD_REPOSITORY_URL, BUILD_REPOSITORY)
    assert promoted.repository is None


@pytest.mark.parametrize(
    ("arn", "url"),
    [
        (BUILD_REPOSITORY, BUILD_REPOSITORY_URL),
        (
            "arn:aws-cn:ecr:cn-north-1:999999999999:repository/team/gw",
            "999999999999.dkr.ecr.cn-north-1.amazonaws.com.cn/team/gw",
        ),
    ],
)
def test_repository_url_is_derived_from_the_arn(arn: str, url: str) -> None:
    assert repository_url(arn) == url


def test_repository_url_refuses_what_is_not_a_repository_arn() -> None:
    with pytest.raises(ValueError, match="not an ECR repository ARN"):
        repository_url(BUILD_REPOSITORY_URL)
