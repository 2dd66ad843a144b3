"""GatewayStack: one Terraform stack per environment, composed from the constructs.

The provider and the backend are configured here only (never in a construct), so
an environment file is all that differs between stacks. `aws_endpoint` and
`local_backend` exist for the emulator run (plan/apply against moto).
"""

from __future__ import annotations

from pathlib import Path

from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags, AwsProviderEndpoints
from constructs import Construct

from gateway import contract
from modules import cdk
from modules.admin_task import AdminTask, AdminTaskWiring
from modules.bedrock import BedrockAccess, BedrockAccessConfig, Guardrail, GuardrailConfig
from modules.cache import Cache, CacheWiring
from modules.config import EnvironmentConfig
from modules.database import Database, DatabaseWiring
from modules.edge import Edge, EdgeWiring
from modules.gateway_logs import GatewayLogs, LogsConfig
from modules.gateway_runtime import GatewayRuntime, models_json
from modules.gateway_secrets import SMOKE_KEY_JSON_KEY, GatewaySecrets, SecretsConfig
from modules.monitoring import Monitoring, MonitoringConfig
from modules.network import Network, NetworkWiring
from modules.registry import RegistryWiring
from modules.service import CONTAINER_PORT, Service, ServiceWiring
from modules.shared import allow_from_group, allow_to_group
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
        self._connect_security_groups()
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
            self,
            "secrets",
            config=SecretsConfig(
                name=name,
                recovery_window_days=self._secret_recovery_days,
                master_key_version=config.secrets.master_key_version,
            ),
        )
        self.network = Network(
            self,
            "network",
            settings=config.network,
            wiring=NetworkWiring(
                name=name,
                region=config.aws.region,
                account_id=config.aws.account_id,
                logs=self.logs.destination,
            ),
        )
        self.edge = Edge(
            self,
            "edge",
            settings=config.edge,
            wiring=EdgeWiring(
                name=name,
                account_id=config.aws.account_id,
                vpc_id=self.network.vpc_id,
                public_subnet_ids=self.network.public_subnet_ids,
                container_port=CONTAINER_PORT,
                logs=self.logs.destination,
                security_group_scope=self.network,  # the group's address: network/alb-sg
            ),
        )

    def _data_and_compute(self) -> None:
        config = self.config
        name = config.stack_id
        private = tuple(self.network.private_subnet_ids)
        self.database = Database(
            self,
            "database",
            settings=config.database,
            wiring=DatabaseWiring(
                name=name,
                vpc_id=self.network.vpc_id,
                subnet_ids=private,
                log_retention_days=config.observability.log_retention_days,
            ),
        )
        self.cache = Cache(
            self,
            "cache",
            settings=config.cache,
            wiring=CacheWiring(
                name=name,
                vpc_id=self.network.vpc_id,
                subnet_ids=private,
                # The cache follows the database's snapshot policy: disposable environments keep none.
                final_snapshot=not config.database.skip_final_snapshot,
                log_retention_days=config.observability.log_retention_days,
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
            database_username=self.database.app_username,
            database_connect_arn=self.database.app_user_connect_arn,
            phoenix_collector_endpoint=phoenix.collector_endpoint,
            phoenix_project_name=phoenix.project_name,
            trace_content=phoenix.captures_content,
            request_limits=config.api.limits(),
            master_key_secret_arn=self.secrets.master_key_secret_arn,
            salt_key_secret_arn=self.secrets.salt_key_secret_arn,
            database_secret_arn=self.database.master_user_secret_arn,
            # No cache secret: the tasks sign in to Valkey with IAM (modules/cache.py).
            redis_iam_user=self.cache.iam_user_name,
            redis_cache_name=self.cache.replication_group_id,
            phoenix_api_key_secret_arn=phoenix.api_key_secret_arn,
            # The image's own rule for the vCPUs granted (1024 units each): Fargate may show the task more.
            workers=contract.default_workers(config.compute.cpu / 1024),
            smoke_key_secret_arn=self.secrets.smoke_key_secret_arn,
            access_secret_prefix=name,
            access_kms_key_arn=self.secrets.kms_key_arn,
        )
        # The construct id "compute" predates the registry/service split: it is part of every address below.
        self.service = Service(
            self,
            "compute",
            settings=config.compute,
            wiring=ServiceWiring(
                name=name,
                region=config.aws.region,
                account_id=config.aws.account_id,
                image_ref=image_ref.string_value,
                registry=RegistryWiring(
                    name=name,
                    # Images other accounts run must outlive this stack: a destroyed dev must not break prod.
                    retain_images=config.edge.deletion_protection
                    or bool(config.compute.image_pull_account_ids),
                ),
                vpc_id=self.network.vpc_id,
                vpc_cidr=self.network.vpc_cidr,
                database_port=self.database.port,
                cache_port=self.cache.port,
                private_subnet_ids=list(private),
                security_group_scope=self.network,  # the group's address: network/service-sg
                target_group_arn=self.edge.target_group_arn,
                alb_request_label=f"{self.edge.alb_arn_suffix}/{self.edge.target_group_arn_suffix}",
                log_group_name=self.logs.log_group_name,
                log_group_arn=self.logs.log_group_arn,
                runtime=runtime,
                secret_kms_key_arns=(
                    self.secrets.kms_key_arn,
                    self.database.kms_key_arn,
                ),
                task_policy_arns=(self.bedrock.policy_arn, self.cache.connect_policy_arn),
            ),
        )
        self.admin = AdminTask(
            self,
            "admin",
            wiring=AdminTaskWiring(
                name=name,
                region=config.aws.region,
                account_id=config.aws.account_id,
                service=self.service,
                runtime=runtime,
                secrets_kms_key_arn=self.secrets.kms_key_arn,
            ),
        )
        # The target group must be attached to the ALB (through a listener rule) before a service can use it.
        self.service.ecs_service.add_override(
            "depends_on",
            [f"{r.terraform_resource_type}.{r.friendly_unique_id}" for r in self.edge.target_attachments],
        )

    def _connect_security_groups(self) -> None:
        """Rules between groups that different constructs own, added once all of them exist.

        ALB -> tasks on the container port; tasks -> database and cache on theirs. Each rule keeps the
        construct id and scope it had before the groups moved to their owners (its Terraform address).
        """
        alb, tasks = self.edge.security_group_id, self.service.security_group_id
        allow_to_group(
            self.network,
            "alb-out-service",
            group_id=alb,
            target_group_id=tasks,
            port=CONTAINER_PORT,
            description="to the gateway tasks",
        )
        allow_from_group(
            self.network,
            "service-in-alb",
            group_id=tasks,
            source_group_id=alb,
            port=CONTAINER_PORT,
            description="from the ALB",
        )
        self.database.admit(tasks)
        self.cache.admit(tasks)

    def _monitoring(self) -> None:
        self.monitoring = Monitoring(
            self,
            "monitoring",
            config=MonitoringConfig(
                name=self.config.stack_id,
                alarm_email=self.config.observability.alarm_email,
                alb_arn_suffix=self.edge.alb_arn_suffix,
                target_group_arn_suffix=self.edge.target_group_arn_suffix,
                cluster_name=self.service.cluster_name,
                service_name=self.service.service_name,
                db_cluster_identifier=self.database.cluster_identifier,
                cache_replication_group_id=self.cache.replication_group_id,
                cache_nodes=self.config.cache.nodes,
                waf_metric_name=self.edge.waf_metric_name,
                waf_rate_limit_metric_name=self.edge.waf_rate_limit_metric_name,
                gateway_log_group_name=self.logs.log_group_name,
                model_ids=tuple(dict.fromkeys(m.model_id for m in self.config.models)),
            ),
        )
        # A deployment during which the target 5xx or p95 latency alarm fires is rolled back.
        self.service.roll_back_on(self.monitoring.deployment_alarm_names)
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
            self.service.repository_url,
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
        self._output("ecs_cluster_name", self.service.cluster_name, "ECS cluster")
        self._output("ecs_service_name", self.service.service_name, "ECS service serving the gateway")
        self._output(
            "migration_task_definition_arn",
            self.service.migration_task_definition_arn,
            "Run once per release, before the service update: applies the database schema",
        )
        self._output(
            "task_subnet_ids", self.network.private_subnet_ids, "Subnets for one-off tasks (migration)"
        )
        self._output(
            "task_security_group_id",
            self.service.security_group_id,
            "Security group for one-off tasks (migration)",
        )
        self._output("log_group_name", self.logs.log_group_name, "Gateway application logs")
        self._output("vpc_id", self.network.vpc_id, "VPC of the gateway")
        # What the deploy smoke authenticates with (docs/gitops.md "The pipeline's commands"). The workflow
        # reads these two outputs, never a secret name of its own.
        self._output(
            "smoke_key_secret_arn",
            self.secrets.smoke_key_secret_arn,
            "Secret holding the scoped, expiring key the deploy smoke calls the gateway with "
            "(written by the admin task's `admin smoke-key`)",
        )
        self._output(
            "smoke_key_json_key",
            SMOKE_KEY_JSON_KEY,
            "JSON key of the smoke key inside smoke_key_secret_arn",
        )
        # The admin task (pipeline.admin runs it with a command override and reads its logs back).
        self._output(
            "admin_task_definition_arn",
            self.admin.task_definition_arn,
            "One-off task running the image's `admin` command (smoke key, access plan/apply) inside the VPC",
        )
        self._output("admin_container_name", self.admin.container_name, "Container of the admin task")
        self._output("admin_log_group_name", self.logs.log_group_name, "Log group the admin task writes to")
        self._output(
            "admin_log_stream_prefix",
            self.admin.log_stream_prefix,
            "Stream prefix of the admin task: streams are <prefix>/<container>/<task id>",
        )
        # The secrets Terraform creates empty; pipeline.seed_secrets writes their values after apply.
        self._output(
            "master_key_secret_arn", self.secrets.master_key_secret_arn, "Secret of LiteLLM's master key"
        )
        self._output("salt_key_secret_arn", self.secrets.salt_key_secret_arn, "Secret of LiteLLM's salt key")

    def _output(self, name: str, value: object, description: str) -> None:
        cdk.TerraformOutput(self, name, value=value, description=description)
