"""The gateway's ECS service: cluster, roles, task definitions from the runtime contract, service, scaling.

The container's environment and secrets come from `GatewayRuntime`
(modules/gateway_runtime.py); the image from the `Registry` (modules/registry.py).
The migration task has its own execution role that reads only the database
secret and the master key (the entrypoint requires it for every command), and
no task role: serving tasks never migrate, migrations never call models.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence

from cdktf_cdktf_provider_aws.appautoscaling_policy import (
    AppautoscalingPolicy,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification,
)
from cdktf_cdktf_provider_aws.appautoscaling_target import AppautoscalingTarget
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
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from constructs import Construct

from gateway import contract
from modules import cdk
from modules.config import ComputeSettings
from modules.gateway_runtime import GatewayRuntime, SecretRef
from modules.registry import PULL_ACTIONS, Registry, RegistryWiring
from modules.shared import allow_to_cidr, policy_document, security_group, service_role

TargetTracking = AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration
PredefinedMetric = AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification

CONTAINER_NAME = "gateway"
CONTAINER_PORT = contract.PORT
HEALTH_PATH = contract.HEALTH_PATH
# A numeric non-root user (ECS cannot check a user name against the image); the image creates it.
CONTAINER_USER = "10001:10001"
# The image has python but no curl: gateway/healthcheck.py exits 0 only on HTTP 200 from HEALTH_PATH.
HEALTH_COMMAND = ["CMD", "python", "-m", "gateway.healthcheck"]
# Writable scratch space on an otherwise read-only root filesystem (rendered config, temp files).
SCRATCH_VOLUMES = {"tmp": "/tmp"}  # noqa: S108 - a task-private volume, not a shared host /tmp


@dataclasses.dataclass(frozen=True, kw_only=True)
class ServiceWiring:
    """What the Service construct takes besides its settings (ComputeSettings): names and other tokens."""

    name: str  # prefix of resource names
    region: str  # for the awslogs driver
    account_id: str  # scopes role trust
    image_ref: str  # tag or sha256 digest (a Terraform variable reference)
    registry: RegistryWiring  # the image repository, made in this construct's scope
    vpc_id: str  # where the tasks' security group lives
    vpc_cidr: str  # the data tier's range (the tasks' egress to the database and the cache)
    database_port: int  # Aurora
    cache_port: int  # Valkey
    private_subnet_ids: list[str]  # where tasks run
    target_group_arn: str  # ALB target group (from Edge)
    alb_request_label: str  # "<alb arn suffix>/<target group arn suffix>" for the request metric
    log_group_name: str  # awslogs destination (from GatewayLogs)
    log_group_arn: str  # for the execution role's logs permissions
    runtime: GatewayRuntime  # environment and secrets of the container
    secret_kms_key_arns: tuple[str, ...]  # keys that encrypt the secrets the execution role reads
    task_policy_arns: tuple[str, ...]  # policies of the serving task role (Bedrock access)
    # Where the tasks' security group and its rules get their Terraform addresses (None: this construct).
    # The stack passes the Network construct, where they were first made: a new address would replace them.
    security_group_scope: Construct | None = None


class Service(Construct):
    """ECS cluster, LiteLLM service with autoscaling and its security group, and the migration task."""

    def __init__(
        self, scope: Construct, id: str, *, settings: ComputeSettings, wiring: ServiceWiring
    ) -> None:
        super().__init__(scope, id)
        config = self._config = wiring
        self._settings = settings
        self.registry = Registry(self, settings=settings, wiring=config.registry)
        self.repository_url: str = self.registry.repository_url
        self.repository_arn: str = self.registry.repository_arn
        self.security_group = self._security_group()
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

        serving_exec = self.execution_role("execution", runtime.secrets())
        task_role = service_role(
            self,
            "task-role",
            name=f"{config.name}-task",
            description="LiteLLM tasks: Bedrock, the guardrail and IAM login to the database, nothing else",
            service="ecs-tasks.amazonaws.com",
            account_id=config.account_id,
        )
        for i, arn in enumerate(config.task_policy_arns):
            IamRolePolicyAttachment(self, f"task-policy-{i}", role=task_role.name, policy_arn=arn)
        # IAM database authentication: log in as the application role of this cluster, and as no other user.
        IamRolePolicy(
            self,
            "task-database-connect",
            name=f"{config.name}-database-connect",
            role=task_role.id,
            policy=policy_document(
                {
                    "Effect": "Allow",
                    "Action": "rds-db:connect",
                    "Resource": runtime.database_connect_arn,
                }
            ),
        )
        self.task_definition = self.define_task(
            "task",
            config.name,
            serving_exec,
            task_role.arn,
            runtime.environment_vars(),
            runtime.secrets(),
            None,
        )

        migrate_exec = self.execution_role("migrate-execution", runtime.migration_secrets())
        self.migration_task_definition = self.define_task(
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
        self.service_name: str = self.ecs_service.name
        self.task_definition_arn: str = self.task_definition.arn
        self.migration_task_definition_arn: str = self.migration_task_definition.arn
        self.task_role_arn: str = task_role.arn
        self.execution_role_arn: str = serving_exec.arn
        self.security_group_id: str = self.security_group.id

    def roll_back_on(self, alarm_names: list[str]) -> None:
        """Roll a deployment back when any of these CloudWatch alarms fires during it or its bake time.

        Beside the circuit breaker, which only sees tasks that fail to start or stay healthy: these
        catch a task set that runs but answers badly (5xx, slow). Monitoring owns the alarms.
        """
        self.ecs_service.put_alarms(alarm_names=alarm_names, enable=True, rollback=True)

    # ------------------------------------------------------------ security group
    def _security_group(self) -> SecurityGroup:
        """Egress to AWS APIs and the data tier; the stack adds the ingress from the ALB once both exist."""
        config = self._config
        scope = config.security_group_scope or self
        group = security_group(
            scope,
            "service-sg",
            name=f"{config.name}-service",
            description="Gateway tasks: the container port from the ALB only",
            vpc_id=config.vpc_id,
        )
        # 443 leaves through the VPC endpoints or, for what has none (the trace collector), the NAT.
        allow_to_cidr(
            scope,
            "service-out-https",
            group_id=group.id,
            cidr="0.0.0.0/0",
            port=443,
            description="AWS APIs via endpoints, trace collector via NAT",
        )
        for port, what in ((config.database_port, "Aurora"), (config.cache_port, "Valkey")):
            allow_to_cidr(
                scope,
                f"service-out-{port}",
                group_id=group.id,
                cidr=config.vpc_cidr,
                port=port,
                description=f"{what} inside the VPC",
            )
        return group

    # ------------------------------------------------------------ roles
    def execution_role(self, id: str, secrets: list[SecretRef], *, scope: Construct | None = None) -> IamRole:
        """Role ECS uses to start a task: pull from the image repository, write logs, read ITS secrets.

        `scope`: where the role gets its address (another construct's task, e.g. modules/admin_task.py).
        """
        config = self._config
        scope = scope or self
        role = service_role(
            scope,
            id,
            name=f"{config.name}-{id}",
            description="ECS agent: image pull, logs and the task's own secrets",
            service="ecs-tasks.amazonaws.com",
            account_id=config.account_id,
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
            scope,
            f"{id}-policy",
            role=role.id,
            name="task-start",
            policy=policy_document(*statements),
        )
        return role

    # ------------------------------------------------------------ task definitions
    def define_task(
        self,
        id: str,
        family: str,
        execution_role: IamRole,
        task_role_arn: str | None,
        environment: Mapping[str, str],
        secrets: list[SecretRef],
        command: list[str] | None,
        *,
        entry_point: Sequence[str] | None = None,
        scope: Construct | None = None,
    ) -> EcsTaskDefinition:
        """A task definition of the gateway image, hardened alike; `command` None serves, else a one-off
        task running that command (through `entry_point` instead of the image's ENTRYPOINT when given).
        Logs go to the gateway's group under the stream prefix `id`."""
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
                    # A slow log pipeline must not stall request handling. A one-off task's lines are
                    # its report (pipeline.admin reads them back): there the default, blocking mode
                    # keeps every line.
                    **({"mode": "non-blocking", "max-buffer-size": "25m"} if serving else {}),
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
        if entry_point is not None:
            container["entryPoint"] = list(entry_point)
        return EcsTaskDefinition(
            scope or self,
            id,
            family=family,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(self._settings.cpu),
            memory=str(self._settings.memory),
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
        self.ecs_service = EcsService(
            self,
            "service",
            name=config.name,
            cluster=self.cluster.arn,
            task_definition=self.task_definition.arn,
            desired_count=self._settings.desired_count,
            launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration=EcsServiceNetworkConfiguration(
                subnets=config.private_subnet_ids,
                security_groups=[self.security_group.id],
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
            resource_id=f"service/{self.cluster.name}/{self.ecs_service.name}",
            scalable_dimension="ecs:service:DesiredCount",
            min_capacity=self._settings.min_count,
            max_capacity=self._settings.max_count,
        )
        policies = (
            (
                "requests",
                "ALBRequestCountPerTarget",
                self._settings.target_requests_per_task,
                config.alb_request_label,
            ),
            ("cpu", "ECSServiceAverageCPUUtilization", self._settings.target_cpu_percent, None),
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
