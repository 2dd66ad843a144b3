"""Wire format of the guardrail operations (restJson1): parse the request, shape the answer.

These are methods of moto's `BedrockResponse`: moto's server already routes every
signed `bedrock` request to that class and picks the method from the botocore
operation name, so adding the methods is all the routing needed.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.responses import BaseResponse

from .models import GuardrailBackend, guardrail_backends

SETTINGS_KEYS = (
    "name",
    "description",
    "topicPolicyConfig",
    "contentPolicyConfig",
    "wordPolicyConfig",
    "sensitiveInformationPolicyConfig",
    "contextualGroundingPolicyConfig",
    "automatedReasoningPolicyConfig",
    "crossRegionConfig",
    "blockedInputMessaging",
    "blockedOutputsMessaging",
    "kmsKeyId",
)

TYPE_RESPONSE = tuple[int, dict[str, str], str]


def _backend(response: BaseResponse) -> GuardrailBackend:
    return guardrail_backends[response.current_account][response.region]


def _identifier(response: BaseResponse) -> str:
    return response.uri_match["guardrailIdentifier"]


def _body(response: BaseResponse) -> dict[str, Any]:
    return json.loads(response.body) if response.body else {}


def _settings(params: dict[str, Any]) -> dict[str, Any]:
    return {key: params[key] for key in SETTINGS_KEYS if key in params}


def _accepted(payload: dict[str, Any]) -> TYPE_RESPONSE:
    # moto takes the status from the headers, not from the first element.
    return 202, {"status": "202", "Content-Type": "application/json"}, json.dumps(payload)


def _draft_accepted(guardrail: Any, **stamp: Any) -> TYPE_RESPONSE:
    """The answer to a change of the working draft: which guardrail, version DRAFT, and when."""
    return _accepted(
        {"guardrailId": guardrail.guardrail_id, "guardrailArn": guardrail.arn, "version": "DRAFT", **stamp}
    )


def create_guardrail(self: BaseResponse) -> TYPE_RESPONSE:
    params = _body(self)
    guardrail = _backend(self).create_guardrail(_settings(params), params.get("tags"))
    return _draft_accepted(guardrail, createdAt=guardrail.draft.created_at)


def get_guardrail(self: BaseResponse) -> str:
    version = self._get_param("guardrailVersion")
    return json.dumps(_backend(self).get_guardrail(_identifier(self), version))


def update_guardrail(self: BaseResponse) -> TYPE_RESPONSE:
    guardrail = _backend(self).update_guardrail(_identifier(self), _settings(_body(self)))
    return _draft_accepted(guardrail, updatedAt=guardrail.draft.updated_at)


def create_guardrail_version(self: BaseResponse) -> TYPE_RESPONSE:
    guardrail, version = _backend(self).create_guardrail_version(
        _identifier(self), _body(self).get("description")
    )
    return _accepted({"guardrailId": guardrail.guardrail_id, "version": version})


def delete_guardrail(self: BaseResponse) -> TYPE_RESPONSE:
    _backend(self).delete_guardrail(_identifier(self), self._get_param("guardrailVersion"))
    return _accepted({})


def list_guardrails(self: BaseResponse) -> str:
    identifier = self._get_param("guardrailIdentifier")
    return json.dumps({"guardrails": _backend(self).list_guardrails(identifier)})


HANDLERS = {
    "create_guardrail": create_guardrail,
    "get_guardrail": get_guardrail,
    "update_guardrail": update_guardrail,
    "create_guardrail_version": create_guardrail_version,
    "delete_guardrail": delete_guardrail,
    "list_guardrails": list_guardrails,
}
