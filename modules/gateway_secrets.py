"""The gateway's LiteLLM master and salt keys (their KMS key: modules/shared.py `EncryptionKey`).

`GatewaySecrets` creates the two secrets (names, KMS key, recovery window) but
writes NO version: Terraform neither holds nor refreshes a value, so a plan
against deployed state calls no `secretsmanager:GetSecretValue` and the plan
role can deny it (docs/iam/plan-role.json). The values are written by
`python -m pipeline.seed_secrets ENV` in the apply job, right after apply,
under the apply role. What it must write is declared here, as tags on each
secret (plan-visible, reviewed with the plan): `llm-gateway:json-key`,
`llm-gateway:key-length` and, on the master key only, `llm-gateway:generation`
(`master_key_version`): the script writes a new master value when no version
carries the stage label `generation-<N>`, and the salt (no generation tag) once.
The deploy smoke's key secret is created empty too, but carries none of those tags:
the admin task writes it (`admin smoke-key`, modules/admin_task.py), the seed never.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from constructs import Construct

from modules.secret_tags import GENERATION_TAG, JSON_KEY_TAG, KEY_LENGTH_TAG
from modules.shared import EncryptionKey, KeyConfig

SMOKE_KEY_SUFFIX = "deploy-smoke-key"
SMOKE_KEY_JSON_KEY = "key"  # the admin command writes {"key": "sk-…"}
# Who writes a secret Terraform leaves empty, for the reader of the console (no program reads it).
WRITTEN_BY_TAG = "llm-gateway:written-by"


# ---------------------------------------------------------------- LiteLLM keys
@dataclass(frozen=True, kw_only=True)
class SecretsConfig:
    # Prefix of the secret names (<name>/litellm-master-key, <name>/litellm-salt-key) and the key alias.
    name: str
    # Bump to write a NEW master key (rotation): pipeline.seed_secrets writes it after apply; never in state.
    master_key_version: int = 1
    # Days a deleted secret stays recoverable (7-30). 0 deletes at once: only for disposable environments,
    # where a pending deletion would block re-creating the stack under the same secret names for weeks.
    recovery_window_days: int = 30
    # Random characters after the `sk-` prefix.
    key_length: int = 48


class GatewaySecrets(Construct):
    """LiteLLM's master key and salt key, each in its own secret; and the deploy smoke's key.

    Two secrets so that rotating the master key never touches the salt key.
    The salt key must NEVER change once the gateway has used it: LiteLLM
    encrypts the provider credentials and keys stored in its database with it,
    and a new salt makes every one of them unreadable. It is therefore written
    once (pipeline.seed_secrets writes it only into an empty secret) and has no
    rotation knob. Replacing the salt secret (renaming the stack, `terraform
    destroy`) leaves it empty until the next seed writes a new salt: restore
    the old value from the deleted secret (recovery window) before the gateway
    starts against an existing database.

    Values are generated and written after the apply by pipeline.seed_secrets
    (Secrets Manager's GetRandomPassword, letters and digits): they appear
    neither in the configuration nor in Terraform state or plan files. The
    secrets hold JSON objects
    (`{"LITELLM_MASTER_KEY": "sk-…"}`, `{"LITELLM_SALT_KEY": "sk-…"}`) so ECS can
    select the key by name (`<arn>:LITELLM_MASTER_KEY::`).
    """

    def __init__(self, scope: Construct, id: str, *, config: SecretsConfig) -> None:
        super().__init__(scope, id)
        if config.master_key_version < 1:
            raise ValueError(f"SecretsConfig.master_key_version={config.master_key_version}: must be >= 1")
        if not (config.recovery_window_days == 0 or 7 <= config.recovery_window_days <= 30):
            raise ValueError(
                f"SecretsConfig.recovery_window_days={config.recovery_window_days}: allowed 7 to 30, "
                "or 0 to delete at once (Secrets Manager's limits)"
            )
        if not 32 <= config.key_length <= 128:
            raise ValueError(f"SecretsConfig.key_length={config.key_length}: allowed 32 to 128")

        key = EncryptionKey(
            self,
            "kms",
            config=KeyConfig(name=f"{config.name}-gateway-secrets", via_services=("secretsmanager",)),
        )
        self.kms_key_arn: str = key.key_arn
        self.master_key_secret_arn: str = self._secret(
            config,
            key,
            "master",
            "LITELLM_MASTER_KEY",
            "litellm-master-key",
            config.master_key_version,
            "LiteLLM master key: admin credential of the gateway (rotatable).",
        )
        self.salt_key_secret_arn: str = self._secret(
            config,
            key,
            "salt",
            "LITELLM_SALT_KEY",
            "litellm-salt-key",
            None,  # never rotated
            "LiteLLM salt key: encrypts credentials stored in the database. NEVER change it once used.",
        )
        # The deploy smoke's scoped key ({"key": "sk-…"}): created empty like the two above, but written
        # only by the admin task (`admin smoke-key`), never by pipeline.seed_secrets: no seed tags.
        self.smoke_key_secret_arn: str = SecretsmanagerSecret(
            self,
            "smoke-key",
            name=f"{config.name}/{SMOKE_KEY_SUFFIX}",
            description="Scoped, expiring LiteLLM key of the deploy smoke test; written by the admin task.",
            kms_key_id=key.key_arn,
            recovery_window_in_days=config.recovery_window_days,
            tags={WRITTEN_BY_TAG: "admin smoke-key"},
        ).arn

    def _secret(
        self,
        config: SecretsConfig,
        key: EncryptionKey,
        id: str,
        json_key: str,
        suffix: str,
        generation: int | None,
        description: str,
    ) -> str:
        tags = {JSON_KEY_TAG: json_key, KEY_LENGTH_TAG: str(config.key_length)}
        if generation is not None:
            tags[GENERATION_TAG] = str(generation)
        secret = SecretsmanagerSecret(
            self,
            id,
            name=f"{config.name}/{suffix}",
            description=description,
            kms_key_id=key.key_arn,
            recovery_window_in_days=config.recovery_window_days,
            tags=tags,
        )
        return secret.arn
