"""GatewayStack: one Terraform stack per environment, composed from the constructs.

The provider and the backend are configured here only (never in a construct), so
an environment file is all that differs between stacks. `aws_endpoint` and
`local_backend` exist for the emulator run (plan/apply against moto).
"""

from __future__ import annotations

from pathlib import Path

from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags, AwsProviderEndpoints
from constructs import Construct

from modules import cdk
from modules.config import EnvironmentConfig

# Every AWS API the stack calls; `--aws-endpoint` redirects each of them (canonical provider names).
EMULATED_SERVICES = (
    "acm",
    "appautoscaling",
    "bedrock",
    "cloudwatch",
    "ec2",
    "ecr",
    "ecs",
    "elasticache",
    "elbv2",
    "iam",
    "kms",
    "logs",
    "rds",
    "s3",
    "secretsmanager",
    "sns",
    "sts",
    "wafv2",
)


class GatewayStack(cdk.TerraformStack):
    """The whole gateway for one environment."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        aws_endpoint: str | None = None,
        local_backend: Path | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.config = config
        self._provider(aws_endpoint)
        self._backend(local_backend)

    # ------------------------------------------------------------ provider and state
    def _provider(self, aws_endpoint: str | None) -> None:
        config = self.config
        tags = {**config.tags, "project": config.project, "environment": config.name}
        emulated: dict = {}
        if aws_endpoint:
            # An emulator has no real account: the account guard would refuse it.
            emulated = {
                "endpoints": [AwsProviderEndpoints(**dict.fromkeys(EMULATED_SERVICES, aws_endpoint))],
                "skip_credentials_validation": True,
                "skip_requesting_account_id": True,
                "skip_metadata_api_check": "true",
                "skip_region_validation": True,
                "s3_use_path_style": True,
                "max_retries": 1,
            }
        AwsProvider(
            self,
            "aws",
            region=config.aws.region,
            allowed_account_ids=None if aws_endpoint else [config.aws.account_id],
            default_tags=[AwsProviderDefaultTags(tags=tags)],
            **emulated,
        )

    def _backend(self, local_backend: Path | None) -> None:
        state = self.config.state
        if local_backend is not None:
            cdk.LocalBackend(self, path=str(Path(local_backend).resolve() / f"{self.node.id}.tfstate"))
            return
        cdk.S3Backend(
            self,
            bucket=state.bucket,
            key=state.key,
            region=state.region,
            encrypt=True,
        )
        # cdktf 0.21's S3Backend predates S3-native locking (Terraform >= 1.10).
        self.add_override("terraform.backend.s3.use_lockfile", state.use_lockfile)

    def _output(self, name: str, value: str, description: str, *, sensitive: bool = False) -> None:
        cdk.TerraformOutput(self, name, value=value, description=description, sensitive=sensitive)
