"""Bedrock: the content guardrail (from policies/guardrail.yaml) and least-privilege model access.

The guardrail is built only from `GuardrailDefinition` (policies/guardrail.py),
the same object the local emulator enforces, so the two cannot drift. A new
guardrail version is published exactly when the definition changes: the
version's description carries the definition's SHA-256, and the provider
replaces a version whose description changes (versions are immutable).

The access policy names each model's ARNs explicitly. A `us.` model id is a
cross-region inference profile: calling it needs the profile's ARN AND the
foundation model's ARN in every region the profile may route to; the latter
are conditioned on the call coming through one of our profiles, so the role
cannot call the model directly in those other regions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.bedrock_guardrail import (
    BedrockGuardrail,
    BedrockGuardrailContentPolicyConfig,
    BedrockGuardrailContentPolicyConfigFiltersConfig,
    BedrockGuardrailSensitiveInformationPolicyConfig,
    BedrockGuardrailSensitiveInformationPolicyConfigPiiEntitiesConfig,
    BedrockGuardrailWordPolicyConfig,
    BedrockGuardrailWordPolicyConfigManagedWordListsConfig,
)
from cdktf_cdktf_provider_aws.bedrock_guardrail_version import BedrockGuardrailVersion
from cdktf_cdktf_provider_aws.iam_policy import IamPolicy
from constructs import Construct

from modules import cdk
from modules.shared import POLICY_VERSION, EncryptionKey, KeyConfig
from policies.guardrail import GuardrailDefinition

# Regions each geography's cross-region inference profiles route to (Bedrock user guide,
# "Supported Regions and models for inference profiles"). Only the US geography is used today;
# add a prefix here with its regions rather than widening the policy.
PROFILE_ROUTING_REGIONS: dict[str, tuple[str, ...]] = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
}
INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
_GUARDRAIL_NAME = re.compile(r"^[0-9a-zA-Z_-]{1,50}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ACCOUNT = re.compile(r"^\d{12}$")
_MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9.\-:]*$")


# ---------------------------------------------------------------- guardrail
@dataclass(frozen=True, kw_only=True)
class GuardrailConfig:
    # Guardrail name in Bedrock (unique per account and region, so include the environment).
    name: str
    # The validated definition, from policies.guardrail.load_guardrail().
    definition: GuardrailDefinition
    # Keep superseded versions on update, so tasks still pinned to the old version keep working
    # during a rolling deployment; destroying the guardrail removes every version anyway.
    keep_old_versions: bool = True


class Guardrail(Construct):
    """An encrypted Bedrock guardrail and its published version, from the shared definition."""

    def __init__(self, scope: Construct, id: str, *, config: GuardrailConfig) -> None:
        super().__init__(scope, id)
        if not _GUARDRAIL_NAME.match(config.name):
            raise ValueError(
                f"GuardrailConfig.name: {config.name!r} must be 1-50 letters, digits, '-' or '_' (Bedrock)"
            )
        definition = config.definition
        key = EncryptionKey(
            self, "kms", config=KeyConfig(name=f"{config.name}-guardrail", via_services=("bedrock",))
        )
        guardrail = BedrockGuardrail(
            self,
            "guardrail",
            name=config.name,
            description=definition.description,
            blocked_input_messaging=definition.blocked_input_messaging,
            blocked_outputs_messaging=definition.blocked_outputs_messaging,
            kms_key_arn=key.key_arn,
            **guardrail_policies(definition),
        )
        version = BedrockGuardrailVersion(
            self,
            "version",
            guardrail_arn=guardrail.guardrail_arn,
            description=version_description(definition),
            skip_destroy=config.keep_old_versions,
            # Publish the new version (and repoint the tasks) before the old one can go.
            lifecycle=cdk.TerraformResourceLifecycle(create_before_destroy=True),
        )
        self.guardrail_id: str = guardrail.guardrail_id
        self.guardrail_arn: str = guardrail.guardrail_arn
        self.guardrail_version: str = version.version
        self.kms_key_arn: str = key.key_arn


def guardrail_policies(definition: GuardrailDefinition) -> dict:
    """The aws_bedrock_guardrail policy blocks for `definition` (only those it defines)."""
    blocks: dict = {}
    if definition.content_filters:
        blocks["content_policy_config"] = [
            BedrockGuardrailContentPolicyConfig(
                filters_config=[
                    BedrockGuardrailContentPolicyConfigFiltersConfig(
                        type=f.type, input_strength=f.input_strength, output_strength=f.output_strength
                    )
                    for f in definition.content_filters
                ]
            )
        ]
    if definition.pii_entities:
        blocks["sensitive_information_policy_config"] = [
            BedrockGuardrailSensitiveInformationPolicyConfig(
                pii_entities_config=[
                    BedrockGuardrailSensitiveInformationPolicyConfigPiiEntitiesConfig(
                        type=p.type, action=p.action
                    )
                    for p in definition.pii_entities
                ]
            )
        ]
    if definition.managed_word_lists:
        blocks["word_policy_config"] = [
            BedrockGuardrailWordPolicyConfig(
                managed_word_lists_config=[
                    BedrockGuardrailWordPolicyConfigManagedWordListsConfig(type=w)
                    for w in definition.managed_word_lists
                ]
            )
        ]
    return blocks


def version_description(definition: GuardrailDefinition) -> str:
    """Version description naming the definition's hash: a new hash publishes a new version."""
    return f"{definition.name} sha256:{definition.digest()[:32]}"


# ---------------------------------------------------------------- model access
@dataclass(frozen=True, kw_only=True)
class BedrockAccessConfig:
    # Prefix of the IAM policy name.
    name: str
    # Region the gateway calls Bedrock in.
    region: str
    # Account that owns the inference profiles (12 digits).
    account_id: str
    # Bedrock model ids from the catalogue: plain ids or `us.`-prefixed inference profile ids.
    model_ids: tuple[str, ...]
    # ARN of the guardrail the gateway applies.
    guardrail_arn: str
    # KMS key encrypting the guardrail (Guardrail.kms_key_arn): applying it needs kms:Decrypt through Bedrock.
    guardrail_kms_key_arn: str | None = None
    # AWS partition of the ARNs.
    partition: str = "aws"


class BedrockAccess(Construct):
    """An IAM policy for the gateway's task role: invoke the catalogue's models, apply our guardrail."""

    def __init__(self, scope: Construct, id: str, *, config: BedrockAccessConfig) -> None:
        super().__init__(scope, id)
        self.policy_json: str = json.dumps(access_policy(config), indent=None, separators=(",", ":"))
        policy = IamPolicy(
            self,
            "policy",
            name=f"{config.name}-bedrock-access",
            description="Invoke the gateway's catalogue models and apply its guardrail; nothing else.",
            policy=self.policy_json,
        )
        self.policy_arn: str = policy.arn


def model_resource_arns(model_id: str, region: str, account_id: str, partition: str = "aws") -> list[str]:
    """Every ARN an InvokeModel call on `model_id` is authorized against.

    A plain id is one foundation model in `region`. A geography-prefixed id
    (`us.amazon.nova-pro-v1:0`) is a cross-region inference profile: the call is
    authorized against the profile AND the underlying foundation model in each
    region the profile may route to.
    """
    prefix, _, base = model_id.partition(".")
    if prefix in PROFILE_ROUTING_REGIONS:
        profile = f"arn:{partition}:bedrock:{region}:{account_id}:inference-profile/{model_id}"
        models = [
            f"arn:{partition}:bedrock:{routed}::foundation-model/{base}"
            for routed in PROFILE_ROUTING_REGIONS[prefix]
        ]
        return [profile, *models]
    if prefix in {"eu", "apac", "ca", "jp", "au", "us-gov", "global"}:
        raise ValueError(
            f"model id {model_id!r}: inference profile geography {prefix!r} has no routing regions in "
            "modules/bedrock.py PROFILE_ROUTING_REGIONS; add them there"
        )
    return [f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"]


def access_policy(config: BedrockAccessConfig) -> dict:
    """The IAM policy document: invoke only the catalogue's models, apply only our guardrail."""
    _validate_access(config)
    direct: set[str] = set()
    profiles: set[str] = set()
    routed: set[str] = set()
    for model_id in config.model_ids:
        arns = model_resource_arns(model_id, config.region, config.account_id, config.partition)
        if ":inference-profile/" in arns[0]:
            profiles.add(arns[0])
            routed.update(arns[1:])
        else:
            direct.update(arns)

    statements: list[dict] = []
    if direct:
        statements.append(
            {
                "Sid": "InvokeCatalogueModels",
                "Effect": "Allow",
                "Action": list(INVOKE_ACTIONS),
                "Resource": sorted(direct),
            }
        )
    if profiles:
        statements.append(
            {
                "Sid": "InvokeCatalogueInferenceProfiles",
                "Effect": "Allow",
                "Action": list(INVOKE_ACTIONS),
                "Resource": sorted(profiles),
            }
        )
        statements.append(
            {
                "Sid": "InvokeProfileModelsOnlyThroughTheProfiles",
                "Effect": "Allow",
                "Action": list(INVOKE_ACTIONS),
                "Resource": sorted(routed),
                "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": sorted(profiles)}},
            }
        )
    statements.append(
        {
            "Sid": "ApplyGatewayGuardrail",
            "Effect": "Allow",
            "Action": ["bedrock:ApplyGuardrail"],
            "Resource": [config.guardrail_arn],
        }
    )
    if config.guardrail_kms_key_arn:
        statements.append(
            {
                "Sid": "DecryptGuardrailThroughBedrock",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [config.guardrail_kms_key_arn],
                "Condition": {"StringEquals": {"kms:ViaService": f"bedrock.{config.region}.amazonaws.com"}},
            }
        )
    return {"Version": POLICY_VERSION, "Statement": statements}


def _validate_access(config: BedrockAccessConfig) -> None:
    def fail(field: str, problem: str) -> None:
        raise ValueError(f"BedrockAccessConfig.{field}: {problem}")

    if not config.model_ids:
        fail("model_ids", "is empty; the policy would grant nothing to invoke")
    for model_id in config.model_ids:
        if "*" in model_id or not _MODEL_ID.match(model_id):
            fail("model_ids", f"{model_id!r} is not a Bedrock model id (no wildcards)")
    if not cdk.Token.is_unresolved(config.region) and not _REGION.match(config.region):
        fail("region", f"{config.region!r} is not an AWS region name")
    if not cdk.Token.is_unresolved(config.account_id) and not _ACCOUNT.match(config.account_id):
        fail("account_id", f"{config.account_id!r} is not a 12-digit account id")
    if not config.guardrail_arn or "*" in config.guardrail_arn:
        fail("guardrail_arn", f"{config.guardrail_arn!r} must name one guardrail")
