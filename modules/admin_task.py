"""The admin task: the gateway image's `admin` command as a one-off ECS task (docs/gateway.md).

Why a task: the deploy's smoke key and the access reconciler reach LiteLLM's management API
from inside the VPC, on the task's own 127.0.0.1, never through the public entry; who may
administer the gateway is who may `ecs:RunTask` this definition and pass its two roles.

It runs the serving image with what gateway/contract.py gives the `admin` command (the catalogue,
the database as the serving role, the master and salt keys; nothing for traffic) plus where its
output goes (modules/gateway_runtime.py `admin_environment_vars`). Its own roles, least privilege:

- execution role: pull, logs, and read only the secrets it injects (modules/service.py);
- task role: log in to the database as the serving tasks do (IAM, the application user); read
  and write the smoke-key secret; create, write, read and tag secrets under `<prefix>/access/*`, created only
  with the gateway's secrets key; that key only through Secrets Manager. No Bedrock, no other secret.
"""

from __future__ import annotations

import dataclasses

from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from gateway import contract
from modules.gateway_runtime import GatewayRuntime
from modules.service import CONTAINER_NAME, Service
from modules.shared import policy_document, service_role

# The construct id, the role and family suffix, and the awslogs stream prefix: streams are
# `admin/gateway/<task id>` (pipeline/admin.py reads them back).
STREAM_PREFIX = "admin"
# What the task runs when started without a command override: the read-only access plan.
DEFAULT_PROGRAM = ("access", "plan")
# Secrets Manager actions on a secret the admin command reads and writes (gateway/admin.py: the smoke key;
# gateway/access/secrets.py: one secret per service key).
SECRET_ACTIONS = [
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
]
# The access store tags each key secret it creates with this key (CreateSecret with Tags needs TagResource).
ACCESS_TAG_KEYS = ["managed-by"]
KMS_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class AdminTaskWiring:
    name: str  # prefix of resource names (the stack id)
    region: str
    account_id: str
    service: Service  # the image, the hardened task shape and the execution-role builder
    runtime: GatewayRuntime  # with smoke_key_secret_arn, access_secret_prefix, access_kms_key_arn set
    secrets_kms_key_arn: str  # the gateway secrets' key (smoke key and access keys use it)


class AdminTask(Construct):
    """Task definition `<name>-admin`, its execution role and its task role."""

    def __init__(self, scope: Construct, id: str, *, wiring: AdminTaskWiring) -> None:
        super().__init__(scope, id)
        runtime, service = wiring.runtime, wiring.service
        environment = runtime.admin_environment_vars()  # refuses a runtime without the admin fields
        access_arn = (
            f"arn:aws:secretsmanager:{wiring.region}:{wiring.account_id}:secret:"
            f"{runtime.access_secret_prefix}/access/*"
        )
        execution = service.execution_role(f"{STREAM_PREFIX}-execution", runtime.admin_secrets(), scope=self)
        task_role = service_role(
            self,
            "task-role",
            name=f"{wiring.name}-{STREAM_PREFIX}-task",
            description="Gateway admin task: management API on its loopback; smoke and access key secrets",
            service="ecs-tasks.amazonaws.com",
            account_id=wiring.account_id,
        )
        statements = [
            {
                "Sid": "DatabaseLoginAsTheApplicationUser",
                "Effect": "Allow",
                "Action": "rds-db:connect",
                "Resource": runtime.database_connect_arn,
            },
            {
                "Sid": "SmokeKeySecret",
                "Effect": "Allow",
                "Action": SECRET_ACTIONS,
                "Resource": runtime.smoke_key_secret_arn,
            },
            {"Sid": "AccessKeySecrets", "Effect": "Allow", "Action": SECRET_ACTIONS, "Resource": access_arn},
            {
                "Sid": "CreateAccessKeySecretsWithTheGatewayKey",
                "Effect": "Allow",
                "Action": "secretsmanager:CreateSecret",
                "Resource": access_arn,
                "Condition": {"StringEquals": {"secretsmanager:KmsKeyId": wiring.secrets_kms_key_arn}},
            },
            {
                "Sid": "TagAccessKeySecrets",
                "Effect": "Allow",
                "Action": "secretsmanager:TagResource",
                "Resource": access_arn,
                "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ACCESS_TAG_KEYS}},
            },
            {
                "Sid": "GatewaySecretsKeyThroughSecretsManager",
                "Effect": "Allow",
                "Action": KMS_ACTIONS,
                "Resource": wiring.secrets_kms_key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"secretsmanager.{wiring.region}.amazonaws.com"}
                },
            },
        ]
        IamRolePolicy(
            self, "task-policy", name="admin", role=task_role.id, policy=policy_document(*statements)
        )
        self.task_definition = service.define_task(
            STREAM_PREFIX,
            f"{wiring.name}-{STREAM_PREFIX}",
            execution,
            task_role.arn,
            environment,
            runtime.admin_secrets(),
            ["admin", *DEFAULT_PROGRAM, "--env", runtime.environment],
            entry_point=contract.ADMIN_ENTRY_POINT,
            scope=self,
        )
        self.task_definition_arn: str = self.task_definition.arn
        self.container_name = CONTAINER_NAME
        self.log_stream_prefix = STREAM_PREFIX
        self.task_role_arn: str = task_role.arn
        self.execution_role_arn: str = execution.arn
