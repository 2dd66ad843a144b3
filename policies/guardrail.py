"""Load and validate `policies/guardrail.yaml`, the gateway's one guardrail definition.

Two consumers read it: `modules/bedrock.py` deploys it as a Bedrock guardrail and
the local Bedrock emulator enforces it. Both must agree, so neither keeps a copy:
both call `load_guardrail()`. This module imports only PyYAML so the emulator
starts fast, and it validates against Bedrock's own vocabulary (taken from the
CreateGuardrail API model) so a typo fails here, at synth time, not in a
deployment half an hour later.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATH = Path(__file__).with_name("guardrail.yaml")

STRENGTHS = ("NONE", "LOW", "MEDIUM", "HIGH")
CONTENT_FILTER_TYPES = ("SEXUAL", "VIOLENCE", "HATE", "INSULTS", "MISCONDUCT", "PROMPT_ATTACK")
# NONE (detect only) exists in Bedrock but would let PII through silently: not offered.
PII_ACTIONS = ("ANONYMIZE", "BLOCK")
MANAGED_WORD_LISTS = ("PROFANITY",)
# Bedrock's GuardrailPiiEntityType enum (botocore bedrock service model).
PII_ENTITY_TYPES = (
    "ADDRESS",
    "AGE",
    "AWS_ACCESS_KEY",
    "AWS_SECRET_KEY",
    "CA_HEALTH_NUMBER",
    "CA_SOCIAL_INSURANCE_NUMBER",
    "CREDIT_DEBIT_CARD_CVV",
    "CREDIT_DEBIT_CARD_EXPIRY",
    "CREDIT_DEBIT_CARD_NUMBER",
    "DRIVER_ID",
    "EMAIL",
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
    "IP_ADDRESS",
    "LICENSE_PLATE",
    "MAC_ADDRESS",
    "NAME",
    "PASSWORD",
    "PHONE",
    "PIN",
    "SWIFT_CODE",
    "UK_NATIONAL_HEALTH_SERVICE_NUMBER",
    "UK_NATIONAL_INSURANCE_NUMBER",
    "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER",
    "URL",
    "USERNAME",
    "US_BANK_ACCOUNT_NUMBER",
    "US_BANK_ROUTING_NUMBER",
    "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER",
    "US_PASSPORT_NUMBER",
    "US_SOCIAL_SECURITY_NUMBER",
    "VEHICLE_IDENTIFICATION_NUMBER",
)

# Bedrock's limits on the guardrail's strings (CreateGuardrail API).
_NAME_PATTERN = re.compile(r"^[0-9a-zA-Z_-]{1,50}$")
_DESCRIPTION_MAX = 200
_MESSAGING_MAX = 500

_TOP_LEVEL_KEYS = {
    "name",
    "description",
    "blocked_input_messaging",
    "blocked_outputs_messaging",
    "content_filters",
    "pii_entities",
    "managed_word_lists",
}


class GuardrailDefinitionError(ValueError):
    """The guardrail file is malformed; the message names the file and the field."""


@dataclass(frozen=True, kw_only=True)
class ContentFilter:
    """One Bedrock content filter: a harm category and how hard to filter it each way."""

    type: str
    input_strength: str
    output_strength: str


@dataclass(frozen=True, kw_only=True)
class PiiEntity:
    """One PII entity type and what to do when it is found."""

    type: str
    action: str


@dataclass(frozen=True, kw_only=True)
class GuardrailDefinition:
    """The validated guardrail: Bedrock's vocabulary, nothing provider-specific."""

    name: str
    description: str
    blocked_input_messaging: str
    blocked_outputs_messaging: str
    content_filters: tuple[ContentFilter, ...]
    pii_entities: tuple[PiiEntity, ...]
    managed_word_lists: tuple[str, ...]

    def digest(self) -> str:
        """A stable SHA-256 of the definition: changes exactly when the content changes."""
        canonical = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def load_guardrail(path: Path | str = DEFAULT_PATH) -> GuardrailDefinition:
    """Read and validate a guardrail YAML file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GuardrailDefinitionError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise GuardrailDefinitionError(f"{path}: not valid YAML: {exc}") from exc
    return parse_guardrail(data, source=str(path))


def parse_guardrail(data: Any, *, source: str = "<guardrail>") -> GuardrailDefinition:
    """Validate an already-parsed document; `source` names it in error messages."""
    check = _Checker(source)
    doc = check.mapping(data, "(document)")
    check.known_keys(doc, _TOP_LEVEL_KEYS, "(document)")

    name = check.string(doc, "name")
    if not _NAME_PATTERN.match(name):
        check.fail(
            "name", f"{name!r} must be 1-50 characters of letters, digits, '-' or '_' (Bedrock's rule)"
        )
    description = check.string(doc, "description", max_len=_DESCRIPTION_MAX)
    blocked_in = check.string(doc, "blocked_input_messaging", max_len=_MESSAGING_MAX)
    blocked_out = check.string(doc, "blocked_outputs_messaging", max_len=_MESSAGING_MAX)

    filters = tuple(
        _content_filter(check, item, f"content_filters[{i}]")
        for i, item in enumerate(check.sequence(doc, "content_filters"))
    )
    check.unique([f.type for f in filters], "content_filters", "type")

    pii = tuple(
        _pii_entity(check, item, f"pii_entities[{i}]")
        for i, item in enumerate(check.sequence(doc, "pii_entities"))
    )
    check.unique([p.type for p in pii], "pii_entities", "type")

    word_lists = tuple(
        check.choice(item, MANAGED_WORD_LISTS, f"managed_word_lists[{i}]")
        for i, item in enumerate(check.sequence(doc, "managed_word_lists"))
    )
    check.unique(list(word_lists), "managed_word_lists", "entry")

    if not (filters or pii or word_lists):
        check.fail(
            "(document)",
            "defines no policy: Bedrock needs at least one content filter, PII entity or word list",
        )

    return GuardrailDefinition(
        name=name,
        description=description,
        blocked_input_messaging=blocked_in,
        blocked_outputs_messaging=blocked_out,
        content_filters=filters,
        pii_entities=pii,
        managed_word_lists=word_lists,
    )


def _content_filter(check: _Checker, item: Any, where: str) -> ContentFilter:
    entry = check.mapping(item, where)
    check.known_keys(entry, {"type", "input_strength", "output_strength"}, where)
    kind = check.choice(check.required(entry, "type", where), CONTENT_FILTER_TYPES, f"{where}.type")
    strength_in = check.choice(
        check.required(entry, "input_strength", where), STRENGTHS, f"{where}.input_strength"
    )
    strength_out = check.choice(
        check.required(entry, "output_strength", where), STRENGTHS, f"{where}.output_strength"
    )
    if kind == "PROMPT_ATTACK" and strength_out != "NONE":
        check.fail(
            f"{where}.output_strength",
            "must be NONE for PROMPT_ATTACK (Bedrock filters prompt attacks on input only)",
        )
    return ContentFilter(type=kind, input_strength=strength_in, output_strength=strength_out)


def _pii_entity(check: _Checker, item: Any, where: str) -> PiiEntity:
    entry = check.mapping(item, where)
    check.known_keys(entry, {"type", "action"}, where)
    kind = check.choice(check.required(entry, "type", where), PII_ENTITY_TYPES, f"{where}.type")
    action = check.choice(check.required(entry, "action", where), PII_ACTIONS, f"{where}.action")
    return PiiEntity(type=kind, action=action)


class _Checker:
    """Small validation helpers that all raise with `<file>: <field>: <problem>`."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, problem: str) -> None:
        raise GuardrailDefinitionError(f"{self.source}: {field}: {problem}")

    def mapping(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(where, f"expected a mapping, got {type(value).__name__}")
        return value

    def known_keys(self, entry: Mapping[str, Any], allowed: set[str], where: str) -> None:
        unknown = sorted(set(map(str, entry)) - allowed)
        if unknown:
            self.fail(where, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")

    def required(self, entry: Mapping[str, Any], key: str, where: str) -> Any:
        if key not in entry:
            self.fail(f"{where}.{key}" if where != "(document)" else key, "is required")
        return entry[key]

    def string(self, doc: Mapping[str, Any], key: str, *, max_len: int | None = None) -> str:
        """A required top-level string."""
        value = self.required(doc, key, "(document)")
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"expected a non-empty string, got {value!r}")
        if max_len is not None and len(value) > max_len:
            self.fail(key, f"is {len(value)} characters; Bedrock allows at most {max_len}")
        return value

    def sequence(self, entry: Mapping[str, Any], key: str) -> list[Any]:
        value = entry.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(key, f"expected a list, got {type(value).__name__}")
        return value

    def choice(self, value: Any, allowed: tuple[str, ...], where: str) -> str:
        if not isinstance(value, str) or value not in allowed:
            self.fail(where, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def unique(self, values: list[str], where: str, what: str) -> None:
        seen: set[str] = set()
        for value in values:
            if value in seen:
                self.fail(where, f"{what} {value} appears more than once")
            seen.add(value)
