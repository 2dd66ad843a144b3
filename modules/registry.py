"""The image registry: the stack's own ECR repository, its lifecycle, and pull sharing with other accounts.

In an environment promoted from another account (prod), there is no repository
here: the image comes from that account's repository, the build registry, so the
digest dev was tested with is pulled as is (no copy, no replication). A
repository shared that way grants other accounts pull only.
"""

from __future__ import annotations

import dataclasses
import json
import re

from cdktf_cdktf_provider_aws.ecr_lifecycle_policy import EcrLifecyclePolicy
from cdktf_cdktf_provider_aws.ecr_repository import (
    EcrRepository,
    EcrRepositoryEncryptionConfiguration,
    EcrRepositoryImageScanningConfiguration,
)
from cdktf_cdktf_provider_aws.ecr_repository_policy import EcrRepositoryPolicy
from constructs import Construct

from modules.config import ComputeSettings
from modules.shared import EncryptionKey, KeyConfig, account_context, policy_document

# Reading an image, nothing else: what the execution role and other accounts are granted on a repository.
PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
_REPOSITORY_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):ecr:(?P<region>[^:]+):(?P<account>\d{12}):repository/(?P<name>.+)"
)


def repository_url(repository_arn: str) -> str:
    """`<account>.dkr.ecr.<region>.<domain>/<name>`: the registry address of an ECR repository ARN."""
    match = _REPOSITORY_ARN.fullmatch(repository_arn)
    if match is None:
        raise ValueError(f"{repository_arn!r} is not an ECR repository ARN")
    domain = "amazonaws.com.cn" if match["partition"] == "aws-cn" else "amazonaws.com"
    return f"{match['account']}.dkr.ecr.{match['region']}.{domain}/{match['name']}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RegistryWiring:
    """What the Registry takes besides its settings (ComputeSettings: image_repository, image_pull_*)."""

    name: str  # repository name and prefix of the key alias
    retain_images: bool  # keep the repository (and images) when the stack is destroyed


class Registry:
    """Where the tasks pull the gateway image from: `repository_url` and `repository_arn`.

    Not a construct level of its own: it adds its resources to the scope it is given (the
    service's), so their Terraform addresses (compute/repository, compute/ecr-kms, ...) stay
    those they had before the registry was its own module; a new level would replace them.
    """

    def __init__(self, scope: Construct, *, settings: ComputeSettings, wiring: RegistryWiring) -> None:
        self._wiring = wiring
        self.repository: EcrRepository | None = None
        if settings.image_repository:
            # Promoted from the build registry: the repository, its key and its lifecycle live there.
            self.repository_url: str = repository_url(settings.image_repository)
            self.repository_arn: str = settings.image_repository
        else:
            self.repository = self._repository(scope, settings)
            self.repository_url = self.repository.repository_url
            self.repository_arn = self.repository.arn

    def _repository(self, scope: Construct, settings: ComputeSettings) -> EcrRepository:
        config = self._wiring
        key = EncryptionKey(
            scope, "ecr-kms", config=KeyConfig(name=f"{config.name}-ecr", via_services=("ecr",))
        )
        repository = EcrRepository(
            scope,
            "repository",
            name=config.name,
            # A tag names one image forever: deploys are reproducible and a tag cannot be hijacked.
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=EcrRepositoryImageScanningConfiguration(scan_on_push=True),
            encryption_configuration=[
                EcrRepositoryEncryptionConfiguration(encryption_type="KMS", kms_key=key.key_arn)
            ],
            force_delete=not config.retain_images,
        )
        if settings.image_pull_account_ids:
            self._share(scope, repository, settings.image_pull_account_ids)
        EcrLifecyclePolicy(
            scope,
            "repository-lifecycle",
            repository=repository.name,
            policy=json.dumps(
                {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "description": "Drop untagged layers of failed or superseded pushes",
                            "selection": {
                                "tagStatus": "untagged",
                                "countType": "sinceImagePushed",
                                "countUnit": "days",
                                "countNumber": 7,
                            },
                            "action": {"type": "expire"},
                        },
                        {
                            "rulePriority": 2,
                            "description": "Keep the last 100 images (rollback window)",
                            "selection": {
                                "tagStatus": "any",
                                "countType": "imageCountMoreThan",
                                "countNumber": 100,
                            },
                            "action": {"type": "expire"},
                        },
                    ]
                }
            ),
        )
        return repository

    def _share(self, scope: Construct, repository: EcrRepository, account_ids: tuple[str, ...]) -> None:
        """Let the listed accounts pull, and only pull: a promoted environment runs the digest dev tested.

        No KMS grant is needed for them: ECR decrypts layers for any caller the repository policy admits,
        through the grant it created on the key with the repository (ECR user guide, "Encryption at rest").
        """
        partition = account_context(scope).partition
        EcrRepositoryPolicy(
            scope,
            "repository-policy",
            repository=repository.name,
            policy=policy_document(
                {
                    "Sid": "OtherAccountsPullOnly",
                    "Effect": "Allow",
                    "Principal": {"AWS": [f"arn:{partition}:iam::{a}:root" for a in account_ids]},
                    "Action": PULL_ACTIONS,
                }
            ),
        )
