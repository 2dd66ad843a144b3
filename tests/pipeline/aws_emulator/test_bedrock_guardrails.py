"""The Bedrock guardrail control plane added to moto, through boto3 and as raw HTTP."""

from __future__ import annotations

import json

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

CONTENT = {
    "filtersConfig": [
        {"type": "HATE", "inputStrength": "HIGH", "outputStrength": "HIGH"},
        {"type": "PROMPT_ATTACK", "inputStrength": "HIGH", "outputStrength": "NONE"},
    ]
}
PII = {"piiEntitiesConfig": [{"type": "EMAIL", "action": "ANONYMIZE"}]}


def _create(bedrock, name="content-filter", **extra):
    return bedrock.create_guardrail(
        name=name,
        blockedInputMessaging="blocked input",
        blockedOutputsMessaging="blocked output",
        contentPolicyConfig=CONTENT,
        sensitiveInformationPolicyConfig=PII,
        **extra,
    )


def test_create_returns_a_draft_with_an_id_and_arn(emulator):
    created = _create(emulator.client("bedrock"))
    assert created["version"] == "DRAFT"
    assert created["guardrailArn"].endswith(f":guardrail/{created['guardrailId']}")


def test_get_returns_the_policies_in_their_response_shape(emulator):
    bedrock = emulator.client("bedrock")
    guardrail_id = _create(bedrock)["guardrailId"]
    got = bedrock.get_guardrail(guardrailIdentifier=guardrail_id)
    assert got["status"] == "READY"
    assert [f["type"] for f in got["contentPolicy"]["filters"]] == ["HATE", "PROMPT_ATTACK"]
    assert got["sensitiveInformationPolicy"]["piiEntities"] == [{"type": "EMAIL", "action": "ANONYMIZE"}]
    assert "wordPolicy" not in got


def test_get_accepts_the_arn_as_identifier(emulator):
    bedrock = emulator.client("bedrock")
    created = _create(bedrock)
    assert (
        bedrock.get_guardrail(guardrailIdentifier=created["guardrailArn"])["guardrailId"]
        == created["guardrailId"]
    )


def test_a_published_version_keeps_the_configuration_it_was_published_with(emulator):
    bedrock = emulator.client("bedrock")
    guardrail_id = _create(bedrock)["guardrailId"]
    assert bedrock.create_guardrail_version(guardrailIdentifier=guardrail_id)["version"] == "1"
    bedrock.update_guardrail(
        guardrailIdentifier=guardrail_id,
        name="content-filter",
        blockedInputMessaging="changed",
        blockedOutputsMessaging="blocked output",
        contentPolicyConfig=CONTENT,
    )
    v1 = bedrock.get_guardrail(guardrailIdentifier=guardrail_id, guardrailVersion="1")
    draft = bedrock.get_guardrail(guardrailIdentifier=guardrail_id)
    assert (v1["version"], v1["blockedInputMessaging"]) == ("1", "blocked input")
    assert draft["blockedInputMessaging"] == "changed"
    assert "sensitiveInformationPolicy" not in draft  # an update replaces the whole draft


def test_versions_are_numbered_in_order(emulator):
    bedrock = emulator.client("bedrock")
    guardrail_id = _create(bedrock)["guardrailId"]
    versions = [
        bedrock.create_guardrail_version(guardrailIdentifier=guardrail_id)["version"] for _ in range(3)
    ]
    assert versions == ["1", "2", "3"]


def test_deleting_a_version_keeps_the_guardrail(emulator):
    bedrock = emulator.client("bedrock")
    guardrail_id = _create(bedrock)["guardrailId"]
    bedrock.create_guardrail_version(guardrailIdentifier=guardrail_id)
    bedrock.delete_guardrail(guardrailIdentifier=guardrail_id, guardrailVersion="1")
    with pytest.raises(ClientError) as error:
        bedrock.get_guardrail(guardrailIdentifier=guardrail_id, guardrailVersion="1")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert bedrock.get_guardrail(guardrailIdentifier=guardrail_id)["version"] == "DRAFT"


def test_deleting_the_guardrail_makes_it_not_found(emulator):
    bedrock = emulator.client("bedrock")
    guardrail_id = _create(bedrock)["guardrailId"]
    bedrock.delete_guardrail(guardrailIdentifier=guardrail_id)
    with pytest.raises(ClientError) as error:
        bedrock.get_guardrail(guardrailIdentifier=guardrail_id)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_list_shows_drafts_or_the_versions_of_one_guardrail(emulator):
    bedrock = emulator.client("bedrock")
    first = _create(bedrock, name="one")["guardrailId"]
    _create(bedrock, name="two")
    bedrock.create_guardrail_version(guardrailIdentifier=first)
    assert sorted(g["name"] for g in bedrock.list_guardrails()["guardrails"]) == ["one", "two"]
    assert [g["version"] for g in bedrock.list_guardrails(guardrailIdentifier=first)["guardrails"]] == [
        "DRAFT",
        "1",
    ]


def test_tags_given_at_creation_are_listed_and_can_be_changed(emulator):
    bedrock = emulator.client("bedrock")
    arn = _create(bedrock, tags=[{"key": "team", "value": "platform"}])["guardrailArn"]
    bedrock.tag_resource(resourceARN=arn, tags=[{"key": "env", "value": "dev"}])
    bedrock.untag_resource(resourceARN=arn, tagKeys=["team"])
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "env", "value": "dev"}]


def test_a_guardrail_without_any_policy_is_refused(emulator):
    with pytest.raises(ClientError) as error:
        emulator.client("bedrock").create_guardrail(
            name="empty", blockedInputMessaging="x", blockedOutputsMessaging="y"
        )
    assert error.value.response["Error"]["Code"] == "ValidationException"


def test_a_duplicate_name_is_a_conflict(emulator):
    bedrock = emulator.client("bedrock")
    _create(bedrock)
    with pytest.raises(ClientError) as error:
        _create(bedrock)
    assert error.value.response["Error"]["Code"] == "ConflictException"


def test_reset_forgets_guardrails(emulator):
    bedrock = emulator.client("bedrock")
    _create(bedrock)
    emulator.reset()
    assert bedrock.list_guardrails()["guardrails"] == []


def _signed(emulator, method, path, body=None):
    """A SigV4-signed request as any SDK would send it (moto routes Bedrock by the signing name)."""
    request = AWSRequest(
        method=method,
        url=f"{emulator.endpoint}{path}",
        data=json.dumps(body) if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials("testing", "testing"), "bedrock", "us-east-1").add_auth(request)
    return requests.request(method, request.url, headers=dict(request.headers), data=request.body, timeout=10)


def test_raw_http_create_answers_202_and_get_answers_200_with_json(emulator):
    body = {
        "name": "raw",
        "blockedInputMessaging": "in",
        "blockedOutputsMessaging": "out",
        "wordPolicyConfig": {"managedWordListsConfig": [{"type": "PROFANITY"}]},
    }
    created = _signed(emulator, "POST", "/guardrails", body)
    assert created.status_code == 202
    got = _signed(emulator, "GET", f"/guardrails/{created.json()['guardrailId']}")
    assert got.status_code == 200
    assert got.json()["wordPolicy"] == {"managedWordLists": [{"type": "PROFANITY"}]}
