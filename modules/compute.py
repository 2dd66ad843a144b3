"""Compute: the image repository, the ECS cluster, the LiteLLM service and its one-off migration task.

The container runtime contract (docs/contracts.md) is written in ONE place,
`GatewayRuntime`: every secret reaches the container through the task
definition's `secrets` (Secrets Manager ARNs), never as a plain environment value.
The image comes from this stack's own ECR repository, or, in an environment
promoted from another account (prod), from that account's repository: the build
registry, so the digest dev was tested with is pulled as is (no copy, no
replication). A repository shared that way grants other accounts pull only.
The migration task has its own execution role that reads only the database
secret and the master key (the entrypoint requires it for every command), and
no task role: serving tasks never migrate, migrations never call models.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping

from cdktf_cdktf_provider_aws.appautoscaling_policy import (
    AppautoscalingPolicy,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification,
)
from cdktf_cdktf_provider_aws.appautoscaling_target import AppautoscalingTarget
from cdktf_cdktf_provider_aws.ecr_lifecycle_policy import EcrLifecyclePolicy
from cdktf_cdktf_provider_aws.ecr_repository import (
    EcrRepository,
    EcrRepositoryEncryptionConfiguration,
    EcrRepositoryImageScanningConfiguration,
)
from cdktf_cdktf_provider_aws.ecr_repository_policy import EcrRepositoryPolicy
from cdktf_cdktf_provider_aws.ecs_cluster import EcsCluster, EcsClusterSetting
from cdktf_cdktf_provider_aws.ecs_service import (
    EcsService,
    EcsServiceDeploymentCircuitBreaker,
    EcsServiceLoadBalancer,
    EcsServiceNetworkConfiguration,
)
from cdktf_cdktf_provider_aws.ecs_task_definition import (
    EcsTaskDefinition,
    EcsTaskDefinitionRuntimePlatform,
    EcsTaskDefinitionVolume,
)
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct

from gateway.limits import DEFAULTS as DEFAULT_REQUEST_LIMITS
from gateway.limits import RequestLimits
from modules import cdk
from modules.secrets import EncryptionKey, KeyConfig, account_context

TargetTracking = AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration
PredefinedMetric = AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification

CONTAINER_NAME = "gateway"
CONTAINER_PORT = 4000
HEALTH_PATH = "/health/liveliness"
# A numeric non-root user (ECS cannot check a user name against the image); the image creates it.
CONTAINER_USER = "10001:10001"
# The image has python but no curl: gateway/healthcheck.py exits 0 only on HTTP 200 from HEALTH_PATH.
HEALTH_COMMAND = ["CMD", "python", "-m", "gateway.healthcheck"]
# Writable scratch space on an otherwise read-only root filesystem (rendered config, temp files).
SCRATCH_VOLUMES = {"tmp": "/tmp"}  # noqa: S108 - a task-private volume, not a shared host /tmp
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
class SecretRef:
    """One secret handed to the container: `env` is set from `secret_arn` (or one JSON key of it)."""

    env: str  # environment variable name inside the container
    secret_arn: str  # Secrets Manager secret
    json_key: str | None = None  # JSON key to select; None passes the whole secret string

    @property
    def value_from(self) -> str:
        return f"{self.secret_arn}:{self.json_key}::" if self.json_key else self.secret_arn


@dataclasses.dataclass(frozen=True, kw_only=True)
class GatewayRuntime:
    """The container runtime contract of docs/contracts.md, filled from the other constructs."""

    environment: str  # GATEWAY_ENVIRONMENT
    models_json: str  # GATEWAY_MODELS: JSON list of {alias, model_id, mode, fallbacks}
    region: str  # AWS_REGION
    guardrail_id: str
    guardrail_version: str
    redis_host: str
    redis_port: str
    database_host: str
    database_port: str
    database_name: str
    phoenix_collector_endpoint: str
    phoenix_project_name: str
    master_key_secret_arn: str  # JSON key LITELLM_MASTER_KEY
    salt_key_secret_arn: str  # JSON key LITELLM_SALT_KEY
    database_secret_arn: str  # Aurora's managed secret: JSON keys username/password
    redis_secret_arn: str  # the cache AUTH token secret (plain string)
    phoenix_api_key_secret_arn: str | None = None  # optional, plain string
    trace_content: bool = False  # GATEWAY_TRACE_CONTENT: prompt and answer text in traces
    workers: int = 1  # GATEWAY_WORKERS: Fargate may report more CPUs than the task is granted
    # GATEWAY_MAX_* and GATEWAY_EXPOSE_INTERNAL_HEADERS: the environment file's `api:` section.
    request_limits: RequestLimits = DEFAULT_REQUEST_LIMITS

    def environment_vars(self) -> dict[str, str]:
        return {
            "GATEWAY_ENVIRONMENT": self.environment,
            "GATEWAY_MODELS": self.models_json,
            "AWS_REGION": self.region,
            "GUARDRAIL_ID": self.guardrail_id,
            "GUARDRAIL_VERSION": self.guardrail_version,
            "REDIS_HOST": self.redis_host,
            "REDIS_PORT": self.redis_port,
            "REDIS_SSL": "true",
            "DATABASE_HOST": self.database_host,
            "DATABASE_PORT": self.database_port,
            "DATABASE_NAME": self.database_name,
            "PHOENIX_COLLECTOR_ENDPOINT": self.phoenix_collector_endpoint,
            "PHOENIX_PROJECT_NAME": self.phoenix_project_name,
            # Always explicit, so the task definition says what leaves in traces (CKV_LLMGW_12).
            "GATEWAY_TRACE_CONTENT": "true" if self.trace_content else "false",
            "GATEWAY_WORKERS": str(self.workers),
            # Always explicit, so the task definition says which limits it runs with.
            **self.request_limits.to_env(),
        }

    def migration_environment_vars(self) -> dict[str, str]:
        """What `migrate` needs: the catalogue and region (validated first), then the database parts."""
        keep = ("GATEWAY_ENVIRONMENT", "GATEWAY_MODELS", "AWS_REGION")
        return {k: v for k, v in self.environment_vars().items() if k in keep or k.startswith("DATABASE_")}

    def migration_secrets(self) -> list[SecretRef]:
        """The database credentials, the master key (required for every command) and the salt key.

        The entrypoint requires the salt key wherever a database is configured: LiteLLM encrypts
        stored credentials with it, so the migrating process must hold the same one as the servers.
        """
        return [self._master_key(), self._salt_key(), *self._database()]

    def _master_key(self) -> SecretRef:
        return SecretRef(
            env="LITELLM_MASTER_KEY", secret_arn=self.master_key_secret_arn, json_key="LITELLM_MASTER_KEY"
        )

    def _salt_key(self) -> SecretRef:
        return SecretRef(
            env="LITELLM_SALT_KEY", secret_arn=self.salt_key_secret_arn, json_key="LITELLM_SALT_KEY"
        )

    def _database(self) -> list[SecretRef]:
        return [
            SecretRef(env="DATABASE_USERNAME", secret_arn=self.database_secret_arn, json_key="username"),
            SecretRef(env="DATABASE_PASSWORD", secret_arn=self.database_secret_arn, json_key="password"),
        ]

    def secrets(self) -> list[SecretRef]:
        refs = [
            self._master_key(),
            self._salt_key(),
            *self._database(),
            SecretRef(env="REDIS_PASSWORD", secret_arn=self.redis_secret_arn),
        ]
        if self.phoenix_api_key_secret_arn:
            refs.append(SecretRef(env="PHOENIX_API_KEY", secret_arn=self.phoenix_api_key_secret_arn))
        return refs


def models_json(models: tuple) -> str:
    """GATEWAY_MODELS: the catalogue as the image expects it (a list, in config order)."""
    return json.dumps(
        [
            {"alias": m.alias, "model_id": m.model_id, "mode": m.mode, "fallbacks": list(m.fallbacks)}
            for m in models
        ],
        separators=(",", ":"),
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class ComputeConfig:
    """Inputs of the Compute construct."""

    name: str  # prefix of resource names
    region: str  # for the awslogs driver
    account_id: str  # scopes role trust
    image_ref: str  # tag or sha256 digest (a Terraform variable reference)
    cpu: int  # task CPU units
    memory: int  # task memory, MiB
    desired_count: int  # tasks at first deploy (autoscaling owns it afterwards)
    min_count: int  # autoscaling floor
    max_count: int  # autoscaling ceiling
    target_requests_per_task: int  # target tracking on ALBRequestCountPerTarget
    target_cpu_percent: int  # target tracking on ECSServiceAverageCPUUtilization
    private_subnet_ids: list[str]  # where tasks run
    security_group_id: str  # the service security group (from Network)
    target_group_arn: str  # ALB target group (from Edge)
    alb_request_label: str  # "<alb arn suffix>/<target group arn suffix>" for the request metric
    log_group_name: str  # awslogs destination (from GatewayLogs)
    log_group_arn: str  # for the execution role's logs permissions
    runtime: GatewayRuntime  # environment and secrets of the container
    secret_kms_key_arns: tuple[str, ...]  # keys that encrypt the secrets the execution role reads
    task_policy_arns: tuple[str, ...]  # policies of the serving task role (Bedrock access)
    retain_images: bool  # keep the ECR repository (and images) when the stack is destroyed
    # Another account's ECR repository to pull from instead of creating one (None: create this stack's own).
    image_repository_arn: str | None = None
    # Accounts allowed to pull (never push) from the repository this stack creates.
    image_pull_account_ids: tuple[str, ...] = ()


def _assume_role_policy(account_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    # Only ECS acting for this account may assume the role (confused-deputy guard).
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                }
            ],
        }
    )


class Compute(Construct):
    """ECR repository, ECS cluster, LiteLLM service with autoscaling, and the migration task definition."""

    def __init__(self, scope: Construct, id: str, *, config: ComputeConfig) -> None:
        super().__init__(scope, id)
        if config.image_repository_arn and config.image_pull_account_ids:
            raise ValueError("ComputeConfig: image_pull_account_ids needs the stack's own repository")
        self._config = config
        self.repository: EcrRepository | None = None
        if config.image_repository_arn:
            # Promoted from the build registry: the repository, its key and its lifecycle live there.
            self.repository_url: str = repository_url(config.image_repository_arn)
            self.repository_arn: str = config.image_repository_arn
        else:
            self._repository()
            self.repository_url = self.repository.repository_url
            self.repository_arn = self.repository.arn
        self.cluster = EcsCluster(
            self,
            "cluster",
            name=config.name,
            setting=[EcsClusterSetting(name="containerInsights", value="enabled")],
        )
        image = cdk.Fn.conditional(
            cdk.Fn.startswith(config.image_ref, "sha256:"),
            f"{self.repository_url}@{config.image_ref}",
            f"{self.repository_url}:{config.image_ref}",
        )
        # A local keeps the expression out of the container JSON (which stays plain JSON plus one reference).
        self.image: str = cdk.TerraformLocal(self, "image", image).as_string
        runtime = config.runtime

        serving_exec = self._execution_role("execution", runtime.secrets())
        task_role = IamRole(
            self,
            "task-role",
            name=f"{config.name}-task",
            description="LiteLLM tasks: Bedrock model invocation and the guardrail, nothing else",
            assume_role_policy=_assume_role_policy(config.account_id),
        )
        for i, arn in enumerate(config.task_policy_arns):
            IamRolePolicyAttachment(self, f"task-policy-{i}", role=task_role.name, policy_arn=arn)
        self.task_definition = self._task_definition(
            "task",
            config.name,
            serving_exec,
            task_role.arn,
            runtime.environment_vars(),
            runtime.secrets(),
            None,
        )

        migrate_exec = self._execution_role("migrate-execution", runtime.migration_secrets())
        self.migration_task_definition = self._task_definition(
            "migrate",
            f"{config.name}-migrate",
            migrate_exec,
            None,
            runtime.migration_environment_vars(),
            runtime.migration_secrets(),
            ["migrate"],
        )
        self._service()

        # ------------------------------------------------------------ outputs
        self.cluster_name: str = self.cluster.name
        self.cluster_arn: str = self.cluster.arn
        self.service_name: str = self.service.name
        self.task_definition_arn: str = self.task_definition.arn
        self.migration_task_definition_arn: str = self.migration_task_definition.arn
        self.task_role_arn: str = task_role.arn
        self.execution_role_arn: str = serving_exec.arn

    # ------------------------------------------------------------ image repository
    def _repository(self) -> None:
        config = self._config
        key = EncryptionKey(
            self, "ecr-kms", config=KeyConfig(name=f"{config.name}-ecr", via_services=("ecr",))
        )
        self.repository = EcrRepository(
            self,
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
        if config.image_pull_account_ids:
            self._share_repository(config.image_pull_account_ids)
        EcrLifecyclePolicy(
            self,
            "repository-lifecycle",
            repository=self.repository.name,
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

    def _share_repository(self, account_ids: tuple[str, ...]) -> None:
        """Let the listed accounts pull, and only pull: a promoted environment runs the digest dev tested.

        No KMS grant is needed for them: ECR decrypts layers for any caller the repository policy admits,
        through the grant it created on the key with the repository (ECR user guide, "Encryption at rest").
        """
        partition = account_context(self).partition
        EcrRepositoryPolicy(
            self,
            "repository-policy",
            repository=self.repository.name,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "OtherAccountsPullOnly",
                            "Effect": "Allow",
                            "Principal": {"AWS": [f"arn:{partition}:iam::{a}:root" for a in account_ids]},
                            "Action": PULL_ACTIONS,
                        }
                    ],
                }
            ),
        )

    # ------------------------------------------------------------ roles
    def _execution_role(self, id: str, secrets: list[SecretRef]) -> IamRole:
        """Role ECS uses to start a task: pull from the image repository, write logs, read ITS secrets."""
        config = self._config
        role = IamRole(
            self,
            id,
            name=f"{config.name}-{id}",
            description="ECS agent: image pull, logs and the task's own secrets",
            assume_role_policy=_assume_role_policy(config.account_id),
        )
        secret_arns = list(dict.fromkeys(s.secret_arn for s in secrets))
        statements = [
            # GetAuthorizationToken has no resource-level permissions.
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Sid": "PullGatewayImage",
                "Effect": "Allow",
                "Action": PULL_ACTIONS,
                "Resource": self.repository_arn,
            },
            {
                "Sid": "WriteTaskLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{config.log_group_arn}:*",
            },
            {
                "Sid": "ReadTaskSecrets",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": secret_arns,
            },
            {
                "Sid": "DecryptTaskSecrets",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": list(config.secret_kms_key_arns),
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"secretsmanager.{config.region}.amazonaws.com"}
                },
            },
        ]
        IamRolePolicy(
            self,
            f"{id}-policy",
            role=role.id,
            name="task-start",
            policy=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        return role

    # ------------------------------------------------------------ task definitions
    def _task_definition(
        self,
        id: str,
        family: str,
        execution_role: IamRole,
        task_role_arn: str | None,
        environment: Mapping[str, str],
        secrets: list[SecretRef],
        command: list[str] | None,
    ) -> EcsTaskDefinition:
        config = self._config
        serving = command is None
        container: dict = {
            "name": CONTAINER_NAME,
            "image": self.image,
            "essential": True,
            "user": CONTAINER_USER,
            "readonlyRootFilesystem": True,
            "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
            "secrets": [{"name": s.env, "valueFrom": s.value_from} for s in secrets],
            "mountPoints": [
                {"sourceVolume": v, "containerPath": p, "readOnly": False} for v, p in SCRATCH_VOLUMES.items()
            ],
            "linuxParameters": {"initProcessEnabled": True, "capabilities": {"drop": ["ALL"]}},
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": config.log_group_name,
                    "awslogs-region": config.region,
                    "awslogs-stream-prefix": id,
                    # A slow log pipeline must not stall request handling.
                    "mode": "non-blocking",
                    "max-buffer-size": "25m",
                },
            },
            "stopTimeout": 60 if serving else 30,
        }
        if serving:
            container["portMappings"] = [{"containerPort": CONTAINER_PORT, "protocol": "tcp", "name": "http"}]
            container["healthCheck"] = {
                "command": HEALTH_COMMAND,
                "interval": 15,
                "timeout": 5,
                "retries": 3,
                "startPeriod": 60,
            }
        else:
            container["command"] = command
        return EcsTaskDefinition(
            self,
            id,
            family=family,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(config.cpu),
            memory=str(config.memory),
            runtime_platform=EcsTaskDefinitionRuntimePlatform(
                cpu_architecture="X86_64", operating_system_family="LINUX"
            ),
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role_arn,
            volume=[EcsTaskDefinitionVolume(name=v) for v in SCRATCH_VOLUMES],
            container_definitions=json.dumps([container]),
        )

    # ------------------------------------------------------------ service and scaling
    def _service(self) -> None:
        config = self._config
        self.service = EcsService(
            self,
            "service",
            name=config.name,
            cluster=self.cluster.arn,
            task_definition=self.task_definition.arn,
            desired_count=config.desired_count,
            launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration=EcsServiceNetworkConfiguration(
                subnets=config.private_subnet_ids,
                security_groups=[config.security_group_id],
                assign_public_ip=False,
            ),
            load_balancer=[
                EcsServiceLoadBalancer(
                    target_group_arn=config.target_group_arn,
                    container_name=CONTAINER_NAME,
                    container_port=CONTAINER_PORT,
                )
            ],
            deployment_circuit_breaker=EcsServiceDeploymentCircuitBreaker(enable=True, rollback=True),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            # LiteLLM needs 10-20 s to start; give it time before the ALB's verdict counts.
            health_check_grace_period_seconds=90,
            enable_execute_command=False,
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            # Autoscaling owns the task count after the first deploy.
            lifecycle={"ignore_changes": ["desired_count"]},
        )
        target = AppautoscalingTarget(
            self,
            "scaling-target",
            service_namespace="ecs",
            resource_id=f"service/{self.cluster.name}/{self.service.name}",
            scalable_dimension="ecs:service:DesiredCount",
            min_capacity=config.min_count,
            max_capacity=config.max_count,
        )
        policies = (
            (
                "requests",
                "ALBRequestCountPerTarget",
                config.target_requests_per_task,
                config.alb_request_label,
            ),
            ("cpu", "ECSServiceAverageCPUUtilization", config.target_cpu_percent, None),
        )
        for id, metric, value, label in policies:
            AppautoscalingPolicy(
                self,
                f"scale-on-{id}",
                name=f"{config.name}-{id}",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                resource_id=target.resource_id,
                scalable_dimension=target.scalable_dimension,
                target_tracking_scaling_policy_configuration=TargetTracking(
                    target_value=value,
                    predefined_metric_specification=PredefinedMetric(
                        predefined_metric_type=metric, resource_label=label
                    ),
                    scale_out_cooldown=60,
                    scale_in_cooldown=300,
                ),
            )
