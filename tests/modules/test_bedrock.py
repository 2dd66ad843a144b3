"""modules/bedrock.py: the guardrail mirrors policies/guardrail.yaml; model access is least privilege."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from modules import cdk
from modules.bedrock import (
    INVOKE_ACTIONS,
    BedrockAccess,
    BedrockAccessConfig,
    Guardrail,
    GuardrailConfig,
    access_policy,
    model_resource_arns,
    version_description,
)
from policies.guardrail import DEFAULT_PATH, load_guardrail

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "111111111111"
GUARDRAIL_ARN = "arn:aws:bedrock:us-east-1:111111111111:guardrail/abc123"
KEY_ARN = "arn:aws:kms:us-east-1:111111111111:key/0000"


def only(doc: dict, kind: str) -> tuple[str, dict]:
    ((name, item),) = doc["resource"][kind].items()
    return name, item


def access(**changes) -> BedrockAccessConfig:
    base = BedrockAccessConfig(
        name="gw-test",
        region="us-east-1",
        account_id=ACCOUNT,
        model_ids=("us.amazon.nova-pro-v1:0", "amazon.titan-text-express-v1"),
        guardrail_arn=GUARDRAIL_ARN,
        guardrail_kms_key_arn=KEY_ARN,
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def source() -> dict:
    return yaml.safe_load(DEFAULT_PATH.read_text())


@pytest.fixture(scope="module")
def doc(synth_in_stack) -> dict:
    def build(stack):
        guardrail = Guardrail(
            stack, "guardrail", config=GuardrailConfig(name="gw-test-content", definition=load_guardrail())
        )
        bedrock = BedrockAccess(
            stack,
            "bedrock",
            config=access(guardrail_arn=guardrail.guardrail_arn, guardrail_kms_key_arn=guardrail.kms_key_arn),
        )
        for name, value in (
            ("guardrail_id", guardrail.guardrail_id),
            ("guardrail_arn", guardrail.guardrail_arn),
            ("guardrail_version", guardrail.guardrail_version),
            ("policy_arn", bedrock.policy_arn),
        ):
            cdk.TerraformOutput(stack, name, value=value)

    return synth_in_stack(build)


def guardrail(doc: dict) -> dict:
    return only(doc, "aws_bedrock_guardrail")[1]


# ---------------------------------------------------------------- guardrail
def test_content_filters_are_exactly_the_yaml_ones(doc, source):
    (content,) = guardrail(doc)["content_policy_config"]

    assert content["filters_config"] == source["content_filters"]


def test_prompt_attacks_are_filtered_on_input_only(doc):
    (content,) = guardrail(doc)["content_policy_config"]
    (prompt_attack,) = [f for f in content["filters_config"] if f["type"] == "PROMPT_ATTACK"]

    assert (prompt_attack["input_strength"], prompt_attack["output_strength"]) == ("HIGH", "NONE")


def test_pii_entities_and_actions_are_exactly_the_yaml_ones(doc, source):
    (sensitive,) = guardrail(doc)["sensitive_information_policy_config"]

    assert sensitive["pii_entities_config"] == source["pii_entities"]


def test_managed_word_lists_are_the_yaml_ones(doc, source):
    (words,) = guardrail(doc)["word_policy_config"]

    assert [w["type"] for w in words["managed_word_lists_config"]] == source["managed_word_lists"]


def test_blocked_messages_and_description_come_from_the_yaml(doc, source):
    g = guardrail(doc)

    assert g["blocked_input_messaging"] == source["blocked_input_messaging"]
    assert g["blocked_outputs_messaging"] == source["blocked_outputs_messaging"]
    assert g["description"] == source["description"]
    assert g["name"] == "gw-test-content"


def test_guardrail_is_encrypted_with_a_rotating_key_usable_only_through_bedrock(doc):
    key_name, key = only(doc, "aws_kms_key")
    use = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}["AccountUsesKeyThroughServices"]

    assert guardrail(doc)["kms_key_arn"] == f"${{aws_kms_key.{key_name}.arn}}"
    assert key["enable_key_rotation"] is True
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == [
        "bedrock.${data.aws_region.account_region.name}.amazonaws.com"
    ]


def test_published_version_belongs_to_the_guardrail_and_names_the_definition_hash(doc):
    guardrail_name, _ = only(doc, "aws_bedrock_guardrail")
    _, version = only(doc, "aws_bedrock_guardrail_version")

    assert version["guardrail_arn"] == f"${{aws_bedrock_guardrail.{guardrail_name}.guardrail_arn}}"
    assert version["description"] == version_description(load_guardrail())
    assert load_guardrail().digest()[:32] in version["description"]


def test_a_changed_definition_publishes_a_new_version_and_an_unchanged_one_does_not():
    definition = load_guardrail()
    stricter = dataclasses.replace(definition, managed_word_lists=())

    assert version_description(load_guardrail()) == version_description(definition)
    assert version_description(stricter) != version_description(definition)
    assert len(version_description(definition)) <= 200


def test_new_version_is_created_before_the_old_one_is_released_and_old_ones_are_kept(doc):
    _, version = only(doc, "aws_bedrock_guardrail_version")

    assert version["lifecycle"]["create_before_destroy"] is True
    assert version["skip_destroy"] is True


def test_attributes_expose_the_guardrail_and_its_published_version(doc):
    guardrail_name, _ = only(doc, "aws_bedrock_guardrail")
    version_name, _ = only(doc, "aws_bedrock_guardrail_version")
    outputs = {name: out["value"] for name, out in doc["output"].items()}

    assert outputs["guardrail_id"] == f"${{aws_bedrock_guardrail.{guardrail_name}.guardrail_id}}"
    assert outputs["guardrail_version"] == f"${{aws_bedrock_guardrail_version.{version_name}.version}}"


def test_policies_absent_from_the_definition_are_not_emitted(synth_in_stack):
    definition = dataclasses.replace(load_guardrail(), pii_entities=(), managed_word_lists=())

    doc = synth_in_stack(
        lambda stack: Guardrail(stack, "g", config=GuardrailConfig(name="g", definition=definition))
    )

    assert "sensitive_information_policy_config" not in guardrail(doc)
    assert "word_policy_config" not in guardrail(doc)


def test_guardrail_name_bedrock_rejects_is_refused():
    stack = cdk.TerraformStack(cdk.Testing.app(), "test")

    with pytest.raises(ValueError, match=r"GuardrailConfig\.name"):
        Guardrail(stack, "g", config=GuardrailConfig(name="has spaces", definition=load_guardrail()))


# ---------------------------------------------------------------- model ARNs
def test_plain_model_id_is_one_foundation_model_in_the_region():
    assert model_resource_arns("amazon.titan-text-express-v1", "us-west-2", ACCOUNT) == [
        "arn:aws:bedrock:us-west-2::foundation-model/amazon.titan-text-express-v1"
    ]


def test_us_profile_id_is_the_profile_plus_the_model_in_every_us_routing_region():
    assert model_resource_arns("us.amazon.nova-pro-v1:0", "us-east-1", ACCOUNT) == [
        "arn:aws:bedrock:us-east-1:111111111111:inference-profile/us.amazon.nova-pro-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
        "arn:aws:bedrock:us-east-2::foundation-model/amazon.nova-pro-v1:0",
        "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-pro-v1:0",
    ]


def test_profile_geography_without_known_routing_regions_is_refused():
    with pytest.raises(ValueError, match="geography 'eu'"):
        model_resource_arns("eu.amazon.nova-pro-v1:0", "eu-west-1", ACCOUNT)


def test_every_catalogue_model_of_every_environment_maps_to_arns():
    model_ids = {
        model["model_id"]
        for path in sorted((REPO / "environments").glob("*/config.yaml"))
        for model in yaml.safe_load(path.read_text()).get("models", [])
    }

    assert model_ids, "no environment catalogue found"
    for model_id in model_ids:
        assert all(
            arn.startswith("arn:aws:bedrock:") for arn in model_resource_arns(model_id, "us-east-1", ACCOUNT)
        )


# ---------------------------------------------------------------- access policy
def statements(policy: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in policy["Statement"]}


def test_no_statement_has_a_wildcard_resource():
    for statement in access_policy(access())["Statement"]:
        assert "*" not in statement["Resource"]
        assert not any(arn.endswith("*") for arn in statement["Resource"])


def test_only_invoke_apply_guardrail_and_guardrail_decrypt_are_allowed():
    actions = {a for s in access_policy(access())["Statement"] for a in s["Action"]}

    assert actions == {*INVOKE_ACTIONS, "bedrock:ApplyGuardrail", "kms:Decrypt"}
    assert all(s["Effect"] == "Allow" for s in access_policy(access())["Statement"])


def test_invocation_is_limited_to_the_catalogue_models():
    invoked = {
        arn
        for s in access_policy(access())["Statement"]
        if "bedrock:InvokeModel" in s["Action"]
        for arn in s["Resource"]
    }

    expected = set(model_resource_arns("us.amazon.nova-pro-v1:0", "us-east-1", ACCOUNT)) | set(
        model_resource_arns("amazon.titan-text-express-v1", "us-east-1", ACCOUNT)
    )
    assert invoked == expected


def test_profile_models_in_other_regions_are_reachable_only_through_our_profiles():
    routed = statements(access_policy(access()))["InvokeProfileModelsOnlyThroughTheProfiles"]

    assert routed["Condition"] == {
        "StringEquals": {
            "bedrock:InferenceProfileArn": [
                "arn:aws:bedrock:us-east-1:111111111111:inference-profile/us.amazon.nova-pro-v1:0"
            ]
        }
    }
    assert "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-pro-v1:0" in routed["Resource"]


def test_plain_models_are_granted_without_the_profile_condition():
    direct = statements(access_policy(access()))["InvokeCatalogueModels"]

    assert direct["Resource"] == ["arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1"]
    assert "Condition" not in direct


def test_apply_guardrail_is_allowed_on_our_guardrail_only():
    apply = statements(access_policy(access()))["ApplyGatewayGuardrail"]

    assert apply["Action"] == ["bedrock:ApplyGuardrail"]
    assert apply["Resource"] == [GUARDRAIL_ARN]


def test_guardrail_key_is_decryptable_only_through_bedrock():
    decrypt = statements(access_policy(access()))["DecryptGuardrailThroughBedrock"]

    assert decrypt["Resource"] == [KEY_ARN]
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "bedrock.us-east-1.amazonaws.com"}}


def test_without_a_guardrail_key_no_kms_permission_is_granted():
    policy = access_policy(access(guardrail_kms_key_arn=None))

    assert "DecryptGuardrailThroughBedrock" not in statements(policy)


def test_catalogue_of_plain_models_only_has_no_profile_statements():
    policy = access_policy(access(model_ids=("amazon.titan-text-express-v1",)))

    assert set(statements(policy)) == {
        "InvokeCatalogueModels",
        "ApplyGatewayGuardrail",
        "DecryptGuardrailThroughBedrock",
    }


def test_synthesized_policy_is_the_documented_one_with_the_guardrail_wired_in(doc):
    _, policy = only(doc, "aws_iam_policy")
    guardrail_name, _ = only(doc, "aws_bedrock_guardrail")
    parsed = json.loads(policy["policy"])

    assert statements(parsed)["ApplyGatewayGuardrail"]["Resource"] == [
        f"${{aws_bedrock_guardrail.{guardrail_name}.guardrail_arn}}"
    ]
    assert "*" not in json.dumps([s["Resource"] for s in parsed["Statement"]])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"model_ids": ()}, "model_ids"),
        ({"model_ids": ("amazon.*",)}, "model_ids"),
        ({"guardrail_arn": "*"}, "guardrail_arn"),
        ({"account_id": "1234"}, "account_id"),
        ({"region": "useast1"}, "region"),
    ],
)
def test_configs_that_would_widen_or_break_the_policy_are_refused(change, field):
    with pytest.raises(ValueError, match=f"BedrockAccessConfig.{field}"):
        access_policy(access(**change))
