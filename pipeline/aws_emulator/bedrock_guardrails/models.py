"""Bedrock guardrails as moto state: a draft plus immutable numbered versions.

moto 5.2.5 has no guardrail operations at all (CreateGuardrail answers HTTP 500),
so `aws_bedrock_guardrail` and `aws_bedrock_guardrail_version` could not take part
in a local apply. This backend keeps what the API keeps: the draft configuration,
a snapshot per published version, and the tags (in moto's own Bedrock tagger, so
TagResource/ListTagsForResource keep working through moto's existing handlers).
"""

from __future__ import annotations

import copy
import string
from datetime import UTC, datetime
from typing import Any

from moto.bedrock.models import bedrock_backends
from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.common_models import BaseModel
from moto.moto_api._internal import mock_random

from .exceptions import ConflictException, ResourceNotFoundException, ValidationException

DRAFT = "DRAFT"

# request key -> response key, per policy: the API takes `…Config` lists and returns them renamed.
POLICY_SHAPES: dict[str, tuple[str, dict[str, str]]] = {
    "topicPolicyConfig": ("topicPolicy", {"topicsConfig": "topics", "tierConfig": "tier"}),
    "contentPolicyConfig": ("contentPolicy", {"filtersConfig": "filters", "tierConfig": "tier"}),
    "wordPolicyConfig": (
        "wordPolicy",
        {"wordsConfig": "words", "managedWordListsConfig": "managedWordLists"},
    ),
    "sensitiveInformationPolicyConfig": (
        "sensitiveInformationPolicy",
        {"piiEntitiesConfig": "piiEntities", "regexesConfig": "regexes"},
    ),
    "contextualGroundingPolicyConfig": (
        "contextualGroundingPolicy",
        {"filtersConfig": "filters", "tierConfig": "tier"},
    ),
    "automatedReasoningPolicyConfig": ("automatedReasoningPolicy", {}),
}


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _as_policy(config_key: str, config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    response_key, renames = POLICY_SHAPES[config_key]
    return response_key, {renames.get(key, key): copy.deepcopy(value) for key, value in config.items()}


class GuardrailSnapshot(BaseModel):
    """One state of a guardrail's configuration: the draft, or a published version."""

    def __init__(self, version: str, settings: dict[str, Any], description: str | None) -> None:
        self.version = version
        self.settings = copy.deepcopy(settings)
        self.description = description
        self.created_at = _now()
        self.updated_at = self.created_at


class Guardrail(BaseModel):
    def __init__(self, account_id: str, region_name: str, settings: dict[str, Any]) -> None:
        self.guardrail_id = "".join(
            mock_random.choice(string.ascii_lowercase + string.digits) for _ in range(12)
        )
        self.arn = f"arn:aws:bedrock:{region_name}:{account_id}:guardrail/{self.guardrail_id}"
        self.region_name = region_name
        self.draft = GuardrailSnapshot(DRAFT, settings, settings.get("description"))
        self.versions: dict[str, GuardrailSnapshot] = {}
        self.next_version = 1

    @property
    def name(self) -> str:
        return self.draft.settings["name"]

    def snapshot(self, version: str | None) -> GuardrailSnapshot:
        if not version or version == DRAFT:
            return self.draft
        if version not in self.versions:
            raise ResourceNotFoundException(f"Guardrail {self.guardrail_id} has no version {version}.")
        return self.versions[version]

    def describe(self, version: str | None) -> dict[str, Any]:
        """The GetGuardrail answer for one version."""
        snap = self.snapshot(version)
        settings = snap.settings
        answer: dict[str, Any] = {
            "name": settings["name"],
            "guardrailId": self.guardrail_id,
            "guardrailArn": self.arn,
            "version": snap.version,
            "status": "READY",
            "createdAt": snap.created_at,
            "updatedAt": snap.updated_at,
            "blockedInputMessaging": settings["blockedInputMessaging"],
            "blockedOutputsMessaging": settings["blockedOutputsMessaging"],
        }
        # Always present: the provider treats a missing description as unknown after apply.
        answer["description"] = snap.description or ""
        for config_key in POLICY_SHAPES:
            if settings.get(config_key):
                response_key, policy = _as_policy(config_key, settings[config_key])
                answer[response_key] = policy
        if settings.get("kmsKeyId"):
            answer["kmsKeyArn"] = self._kms_key_arn(settings["kmsKeyId"])
        if settings.get("crossRegionConfig"):
            profile = settings["crossRegionConfig"]["guardrailProfileIdentifier"]
            answer["crossRegionDetails"] = {
                "guardrailProfileId": profile.split("/")[-1],
                "guardrailProfileArn": profile,
            }
        return answer

    def summary(self, version: str | None) -> dict[str, Any]:
        full = self.describe(version)
        keys = ("name", "description", "version", "status", "createdAt", "updatedAt", "crossRegionDetails")
        return {"id": self.guardrail_id, "arn": self.arn, **{k: full[k] for k in keys if k in full}}

    def _kms_key_arn(self, key: str) -> str:
        if key.startswith("arn:"):
            return key
        account = self.arn.split(":")[4]
        return f"arn:aws:kms:{self.region_name}:{account}:key/{key}"


class GuardrailBackend(BaseBackend):
    """Guardrails of one account and region; reset with every other moto backend."""

    REQUIRED = ("name", "blockedInputMessaging", "blockedOutputsMessaging")

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.guardrails: dict[str, Guardrail] = {}

    @property
    def _tagger(self) -> Any:
        return bedrock_backends[self.account_id][self.region_name].tagger

    def _validate(self, settings: dict[str, Any]) -> None:
        missing = [key for key in self.REQUIRED if not settings.get(key)]
        if missing:
            raise ValidationException(f"Missing required parameters: {', '.join(missing)}")
        if not any(settings.get(key) for key in POLICY_SHAPES):
            raise ValidationException("A guardrail needs at least one policy configured.")

    def _find(self, identifier: str) -> Guardrail:
        guardrail_id = identifier.split("/")[-1]
        if guardrail_id not in self.guardrails:
            raise ResourceNotFoundException(f"Guardrail {identifier} was not found.")
        return self.guardrails[guardrail_id]

    def guardrail_arns(self) -> list[str]:
        return [guardrail.arn for guardrail in self.guardrails.values()]

    def create_guardrail(self, settings: dict[str, Any], tags: list[dict[str, str]] | None) -> Guardrail:
        self._validate(settings)
        if any(existing.name == settings["name"] for existing in self.guardrails.values()):
            raise ConflictException(f"A guardrail named {settings['name']} already exists.")
        guardrail = Guardrail(self.account_id, self.region_name, settings)
        self.guardrails[guardrail.guardrail_id] = guardrail
        if tags:
            self._tagger.tag_resource(guardrail.arn, [{"Key": t["key"], "Value": t["value"]} for t in tags])
        return guardrail

    def get_guardrail(self, identifier: str, version: str | None) -> dict[str, Any]:
        return self._find(identifier).describe(version)

    def update_guardrail(self, identifier: str, settings: dict[str, Any]) -> Guardrail:
        """Replace the draft wholesale, as the API does (unspecified policies are removed)."""
        self._validate(settings)
        guardrail = self._find(identifier)
        created_at = guardrail.draft.created_at
        guardrail.draft = GuardrailSnapshot(DRAFT, settings, settings.get("description"))
        guardrail.draft.created_at = created_at
        return guardrail

    def create_guardrail_version(self, identifier: str, description: str | None) -> tuple[Guardrail, str]:
        guardrail = self._find(identifier)
        version = str(guardrail.next_version)
        guardrail.next_version += 1
        guardrail.versions[version] = GuardrailSnapshot(version, guardrail.draft.settings, description)
        return guardrail, version

    def delete_guardrail(self, identifier: str, version: str | None) -> None:
        """Without a version the whole guardrail goes; with one, only that published version."""
        guardrail = self._find(identifier)
        if version:
            if version == DRAFT:
                raise ValidationException("The DRAFT version is deleted with the guardrail itself.")
            guardrail.snapshot(version)
            del guardrail.versions[version]
            return
        self._tagger.delete_all_tags_for_resource(guardrail.arn)
        del self.guardrails[guardrail.guardrail_id]

    def list_guardrails(self, identifier: str | None) -> list[dict[str, Any]]:
        """With an identifier: every version of that guardrail; without: the drafts of all."""
        if identifier:
            guardrail = self._find(identifier)
            return [guardrail.summary(DRAFT)] + [guardrail.summary(v) for v in guardrail.versions]
        return [guardrail.summary(DRAFT) for guardrail in self.guardrails.values()]


guardrail_backends = BackendDict(GuardrailBackend, "bedrock")
