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
from modules.bedrock import BedrockAccess, BedrockAccessConfig, Guardrail, GuardrailConfig
from modules.cache import Cache, CacheConfig
from modules.compute import CONTAINER_PORT, Compute, ComputeConfig, GatewayRuntime, models_json
from modules.config import EnvironmentConfig
from modules.data import Database, DatabaseConfig
from modules.edge import Edge, EdgeConfig
from modules.logs import GatewayLogs, LogsConfig
from modules.network import Network, NetworkConfig
from modules.observability import Monitoring, MonitoringConfig
from modules.secrets import GatewaySecrets, SecretsConfig
from policies.guardrail import load_guardrail

# An image tag, or an image digest: the digest built and tested in dev is what prod deploys.
IMAGE_REF_PATTERN = "^(sha256:[0-9a-f]{64}|[A-Za-z0-9_][A-Za-z0-9._-]{0,127})$"

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
        self._foundation()
        self._data_and_compute()
        self._monitoring()
        self._outputs()

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
                # Ask the emulator for the account: without it the provider cannot tell its own
                # account from another's and reads group references back as "<account>/sg-…" (drift).
                "skip_requesting_account_id": False,
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

    # ------------------------------------------------------------ composition
    @property
    def _secret_recovery_days(self) -> int:
        """Secrets are kept recoverable as long as the data they unlock: a database deleted without a
        final snapshot leaves nothing the salt key could decrypt, and a pending secret deletion would
        block re-creating the environment under the same names for weeks."""
        database = self.config.database
        return 0 if database.skip_final_snapshot and not database.deletion_protection else 30

    def _foundation(self) -> None:
        """Logs, secrets, network and edge: what the data tier and the service build on."""
        config = self.config
        name = config.stack_id
        retention = config.observability.log_retention_days
        self.logs = GatewayLogs(self, "logs", config=LogsConfig(name=name, retention_days=retention))
        self.secrets = GatewaySecrets(
            self, "secrets", config=SecretsConfig(name=name, recovery_window_days=self._secret_recovery_days)
        )
        self.network = Network(
            self,
            "network",
            config=NetworkConfig(
                name=name,
                region=config.aws.region,
                account_id=config.aws.account_id,
                vpc_cidr=config.network.vpc_cidr,
                availability_zones=config.network.zone_names(config.aws.region),
                nat_gateways=config.network.nat_gateways,
                allowed_client_cidrs=config.edge.allowed_client_cidrs,
                https=config.edge.certificate_arn is not None,
                container_port=CONTAINER_PORT,
                log_kms_key_arn=self.logs.kms_key_arn,
                log_retention_days=retention,
            ),
        )
        self.edge = Edge(
            self,
            "edge",
            config=EdgeConfig(
                name=name,
                account_id=config.aws.account_id,
                vpc_id=self.network.vpc_id,
                public_subnet_ids=self.network.public_subnet_ids,
                security_group_id=self.network.alb_security_group_id,
                container_port=CONTAINER_PORT,
                certificate_arn=config.edge.certificate_arn,
                deletion_protection=config.edge.deletion_protection,
                allowed_client_cidrs=config.edge.allowed_client_cidrs,
                waf_rate_limit=config.edge.waf_rate_limit,
                log_kms_key_arn=self.logs.kms_key_arn,
                log_retention_days=retention,
            ),
        )

    def _data_and_compute(self) -> None:
        config = self.config
        name = config.stack_id
        private = tuple(self.network.private_subnet_ids)
        self.database = Database(
            self,
            "database",
            config=DatabaseConfig(
                name=name,
                vpc_id=self.network.vpc_id,
                subnet_ids=private,
                client_security_group_id=self.network.service_security_group_id,
                min_acu=config.database.min_acu,
                max_acu=config.database.max_acu,
                instances=config.database.instances,
                backup_retention_days=config.database.backup_retention_days,
                deletion_protection=config.database.deletion_protection,
                skip_final_snapshot=config.database.skip_final_snapshot,
                log_retention_days=config.observability.log_retention_days,
            ),
        )
        self.cache = Cache(
            self,
            "cache",
            config=CacheConfig(
                name=name,
                vpc_id=self.network.vpc_id,
                subnet_ids=private,
                client_security_group_id=self.network.service_security_group_id,
                node_type=config.cache.node_type,
                nodes=config.cache.nodes,
                multi_az=config.cache.multi_az,
                # The cache follows the database's snapshot policy: disposable environments keep none.
                final_snapshot=not config.database.skip_final_snapshot,
                log_retention_days=config.observability.log_retention_days,
                recovery_window_days=self._secret_recovery_days,
            ),
        )
        self.guardrail = Guardrail(
            self, "guardrail", config=GuardrailConfig(name=name, definition=load_guardrail())
        )
        self.bedrock = BedrockAccess(
            self,
            "bedrock",
            config=BedrockAccessConfig(
                name=name,
                region=config.aws.region,
                account_id=config.aws.account_id,
                model_ids=tuple(dict.fromkeys(m.model_id for m in config.models)),
                guardrail_arn=self.guardrail.guardrail_arn,
                guardrail_kms_key_arn=self.guardrail.kms_key_arn,
            ),
        )
        image_ref = cdk.TerraformVariable(
            self,
            "image_tag",
            type="string",
            description="Gateway image to run: a tag of the image repository (output ecr_repository_url), "
            "or a digest 'sha256:<64 hex>' (promote the digest tested in dev to prod)",
        )
        self.image_tag: str = image_ref.string_value
        image_ref.add_validation(
            condition=cdk.Fn.can(cdk.Fn.regex(IMAGE_REF_PATTERN, image_ref.string_value)),
            error_message="image_tag must be an image tag or a digest sha256:<64 lower-case hex digits>.",
        )
        phoenix = config.observability.phoenix
        runtime = GatewayRuntime(
            environment=config.name,
            models_json=models_json(config.models),
            region=config.aws.region,
            guardrail_id=self.guardrail.guardrail_id,
            guardrail_version=self.guardrail.guardrail_version,
            redis_host=self.cache.primary_endpoint_address,
            redis_port=cdk.Token.as_string(self.cache.port),
            database_host=self.database.cluster_endpoint,
            database_port=cdk.Token.as_string(self.database.port),
            database_name=self.database.database_name,
            phoenix_collector_endpoint=phoenix.collector_endpoint,
            phoenix_project_name=phoenix.project_name,
            trace_content=phoenix.captures_content,
            request_limits=config.api.limits(),
            master_key_secret_arn=self.secrets.master_key_secret_arn,
            salt_key_secret_arn=self.secrets.salt_key_secret_arn,
            database_secret_arn=self.database.master_user_secret_arn,
            redis_secret_arn=self.cache.auth_token_secret_arn,
            phoenix_api_key_secret_arn=phoenix.api_key_secret_arn,
            # One proxy worker per vCPU granted (1024 units); measured: more workers than cores gain nothing.
            workers=max(1, config.compute.cpu // 1024),
        )
        self.compute = Compute(
            self,
            "compute",
            config=ComputeConfig(
                name=name,
                region=config.aws.region,
                account_id=config.aws.account_id,
                image_ref=image_ref.string_value,
                cpu=config.compute.cpu,
                memory=config.compute.memory,
                desired_count=config.compute.desired_count,
                min_count=config.compute.min_count,
                max_count=config.compute.max_count,
                target_requests_per_task=config.compute.target_requests_per_task,
                target_cpu_percent=config.compute.target_cpu_percent,
                private_subnet_ids=list(private),
                security_group_id=self.network.service_security_group_id,
                target_group_arn=self.edge.target_group_arn,
                alb_request_label=f"{self.edge.alb_arn_suffix}/{self.edge.target_group_arn_suffix}",
                log_group_name=self.logs.log_group_name,
                log_group_arn=self.logs.log_group_arn,
                runtime=runtime,
                secret_kms_key_arns=(
                    self.secrets.kms_key_arn,
                    self.database.kms_key_arn,
                    self.cache.kms_key_arn,
                ),
                task_policy_arns=(self.bedrock.policy_arn,),
                # Images other accounts run must outlive this stack: a destroyed dev must not break prod.
                retain_images=config.edge.deletion_protection or bool(config.compute.image_pull_account_ids),
                image_repository_arn=config.compute.image_repository,
                image_pull_account_ids=config.compute.image_pull_account_ids,
            ),
        )
        # The target group must be attached to the ALB (through a listener rule) before a service can use it.
        self.compute.service.add_override(
            "depends_on",
            [f"{r.terraform_resource_type}.{r.friendly_unique_id}" for r in self.edge.target_attachments],
        )

    def _monitoring(self) -> None:
        self.monitoring = Monitoring(
            self,
            "monitoring",
            config=MonitoringConfig(
                name=self.config.stack_id,
                alarm_email=self.config.observability.alarm_email,
                alb_arn_suffix=self.edge.alb_arn_suffix,
                target_group_arn_suffix=self.edge.target_group_arn_suffix,
                cluster_name=self.compute.cluster_name,
                service_name=self.compute.service_name,
                db_cluster_identifier=self.database.cluster_identifier,
                cache_replication_group_id=self.cache.replication_group_id,
                cache_nodes=self.config.cache.nodes,
            ),
        )
        self._output("alarm_topic_arn", self.monitoring.topic_arn, "SNS topic receiving the gateway's alarms")
        self._output("dashboard_name", self.monitoring.dashboard_name, "CloudWatch dashboard of the gateway")

    def _outputs(self) -> None:
        scheme = "https" if self.edge.https else "http"
        self._output("alb_dns_name", self.edge.alb_dns_name, "DNS name of the gateway's load balancer")
        self._output(
            "gateway_url",
            f"{scheme}://{self.edge.alb_dns_name}",
            "Base URL of the OpenAI-compatible API (plain HTTP when no certificate is configured)",
        )
        self._output(
            "ecr_repository_url",
            self.compute.repository_url,
            "Repository the tasks pull images from: the stack's own, or the build registry promoted from",
        )
        # Same name as the variable (a construct id can be used once, hence the logical id override).
        deployed = cdk.TerraformOutput(
            self, "image_tag_output", value=self.image_tag, description="Image tag or digest the service runs"
        )
        deployed.override_logical_id("image_tag")
        self._output(
            "guardrail_id", self.guardrail.guardrail_id, "Bedrock guardrail applied to every request"
        )
        self._output(
            "guardrail_version", self.guardrail.guardrail_version, "Published guardrail version in use"
        )
        self._output("ecs_cluster_name", self.compute.cluster_name, "ECS cluster")
        self._output("ecs_service_name", self.compute.service_name, "ECS service serving the gateway")
        self._output(
            "migration_task_definition_arn",
            self.compute.migration_task_definition_arn,
            "Run once per release, before the service update: applies the database schema",
        )
        self._output(
            "task_subnet_ids", self.network.private_subnet_ids, "Subnets for one-off tasks (migration)"
        )
        self._output(
            "task_security_group_id",
            self.network.service_security_group_id,
            "Security group for one-off tasks (migration)",
        )
        self._output("log_group_name", self.logs.log_group_name, "Gateway application logs")
        self._output("vpc_id", self.network.vpc_id, "VPC of the gateway")

    def _output(self, name: str, value: object, description: str) -> None:
        cdk.TerraformOutput(self, name, value=value, description=description)
