"""ApplyGuardrail: enforce the project's guardrail definition (policies/guardrail.yaml) locally.

The definition is the same file the infrastructure deploys, loaded through
`policies.guardrail.load_guardrail()`; nothing about its contents is repeated
here. What lives here is detection, which is approximate on purpose: small
lexicons and regular expressions stand in for Bedrock's classifiers. The
response contract (actions, assessments, outputs, usage) is exact, because that
is what LiteLLM's Bedrock guardrail hook acts on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.emulator.exceptions import ValidationException
from policies.guardrail import GuardrailDefinition, load_guardrail

# Bedrock's semantics: a filter of strength S blocks detections whose confidence is at least S's threshold.
_CONFIDENCE_RANK = {"NONE": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}
_BLOCKS_FROM = {"LOW": 3, "MEDIUM": 2, "HIGH": 1}  # strength -> lowest confidence rank it blocks
_TEXT_UNIT_CHARS = 1000  # Bedrock bills guardrails per 1,000 characters


def _lexicon(*entries: tuple[str, str]) -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(pattern, re.IGNORECASE), confidence) for pattern, confidence in entries)


_GROUPS = (
    r"(?:immigrants|refugees|foreigners|women|men|muslims|jews|christians|hindus|atheists|black people"
    r"|white people|asians|gays|lesbians|trans people|disabled people)"
)
# type -> [(pattern, confidence)]; phrases of intent, not topics, so texts *about* history or war pass.
CONTENT_LEXICONS = {
    "HATE": _lexicon(
        (
            rf"\b(?:all|those|these)\s+{_GROUPS}\s+(?:are|is)\s+(?:vermin|animals|subhuman|inferior|parasites|filth)",
            "HIGH",
        ),
        (rf"\b{_GROUPS}\s+should\s+(?:be\s+)?(?:exterminated|eradicated|wiped out|killed|gassed)", "HIGH"),
        (rf"\bi\s+hate\s+(?:all\s+)?{_GROUPS}", "HIGH"),
        (r"\b(?:racial|ethnic)\s+cleansing\s+is\s+(?:good|justified|necessary)", "HIGH"),
        (rf"\b{_GROUPS}\s+are\s+(?:stupid|dirty|criminals|lazy)", "MEDIUM"),
    ),
    "INSULTS": _lexicon(
        (
            r"\byou(?:'re|\s+are)\s+(?:a|an|such\s+an?)?\s*(?:stupid\s+|worthless\s+|useless\s+)*"
            r"(?:idiot|moron|imbecile|loser|piece of (?:garbage|trash|junk))",
            "HIGH",
        ),
        (r"\b(?:shut up|go to hell),?\s+you\b", "HIGH"),
        (r"\byou(?:'re|\s+are)\s+(?:so\s+|really\s+)?(?:stupid|dumb|pathetic|worthless|useless)\b", "MEDIUM"),
        (r"\b(?:idiot|moron|imbecile)\b", "LOW"),
    ),
    "SEXUAL": _lexicon(
        (r"\b(?:explicit|graphic|hardcore)\s+(?:sex|sexual)\b", "HIGH"),
        (r"\b(?:porn(?:ography|ographic)?|nude\s+(?:photos|pictures|images))\b", "HIGH"),
        (r"\b(?:erotic|sexually\s+explicit)\s+(?:story|stories|content|scene)", "HIGH"),
        (r"\bsexual\s+(?:acts?|fantas(?:y|ies))\b", "MEDIUM"),
    ),
    "VIOLENCE": _lexicon(
        (
            r"\bhow\s+(?:do|can|could|would|should)\s+i\s+(?:kill|murder|stab|strangle|poison|hurt|shoot)\b",
            "HIGH",
        ),
        (
            r"\b(?:kill|murder|stab|strangle|behead|shoot|torture)\s+(?:him|her|them|you|someone|somebody|everyone"
            r"|people|my\s+\w+|a\s+(?:person|child|man|woman))\b",
            "HIGH",
        ),
        (r"\b(?:build|make|assemble)\s+(?:a\s+)?(?:pipe\s+)?(?:bomb|explosive device|ied)\b", "HIGH"),
        (r"\b(?:mass\s+shooting|school\s+shooting)\s+(?:plan|instructions)", "HIGH"),
        (r"\bi\s+(?:want|am going)\s+to\s+(?:hurt|beat up|attack)\b", "MEDIUM"),
    ),
    "MISCONDUCT": _lexicon(
        (
            r"\bhow\s+(?:do|can|could|would|to)\s+(?:i\s+)?(?:steal|shoplift|launder\s+money|embezzle|forge)\b",
            "HIGH",
        ),
        (
            r"\b(?:make|cook|synthesi[sz]e|produce)\s+(?:meth|methamphetamine|cocaine|heroin|fentanyl)\b",
            "HIGH",
        ),
        (
            r"\b(?:hack|break)\s+into\s+(?:someone'?s?|my\s+\w+'?s?|an?|the)\s+\w*\s*(?:account|email|computer|network"
            r"|phone)",
            "HIGH",
        ),
        (
            r"\b(?:credit\s+card|identity|insurance|tax)\s+fraud\s+(?:tips|guide|without getting caught)",
            "HIGH",
        ),
        (r"\bwithout\s+getting\s+caught\b", "MEDIUM"),
        (r"\bevade\s+(?:taxes|the police|law enforcement)\b", "MEDIUM"),
    ),
    "PROMPT_ATTACK": _lexicon(
        (
            r"\b(?:ignore|forget|disregard|override)\s+(?:all\s+)?(?:of\s+)?(?:the\s+|your\s+|my\s+)?"
            r"(?:previous|prior|above|earlier|preceding|system)\s+(?:instructions|prompts?|rules|directions)",
            "HIGH",
        ),
        (
            r"\b(?:disregard|ignore|forget|bypass)\s+(?:your|the)\s+(?:system\s+prompt|instructions|guidelines|rules"
            r"|guardrails|safety)",
            "HIGH",
        ),
        (
            r"\b(?:reveal|show|print|repeat|leak|output)\s+(?:me\s+)?(?:your|the)\s+(?:system\s+prompt|hidden"
            r"\s+instructions|initial\s+instructions)",
            "HIGH",
        ),
        (
            r"\byou\s+are\s+now\s+(?:dan|in\s+developer\s+mode|jailbroken|unrestricted|an?\s+unfiltered)",
            "HIGH",
        ),
        (r"\bdo\s+anything\s+now\b", "HIGH"),
        (
            r"\b(?:pretend|act\s+as\s+if)\s+you\s+(?:have|had)\s+no\s+(?:rules|restrictions|guidelines|filters)",
            "HIGH",
        ),
        (r"\bjailbreak\b", "MEDIUM"),
    ),
}

# Bedrock's managed PROFANITY list, approximated.
PROFANITY = re.compile(
    r"\b(?:fuck(?:ing|er|ed)?|shit(?:ty)?|bitch(?:es)?|asshole|bastard|motherfucker|dickhead)\b",
    re.IGNORECASE,
)


def _luhn(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


@dataclass(frozen=True)
class PiiDetector:
    pattern: re.Pattern[str]
    accept: Callable[[str], bool] = lambda _match: True


# PII types the emulator can detect; other types in the definition are enforced by AWS only (README.md).
PII_DETECTORS = {
    "EMAIL": PiiDetector(re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")),
    "PHONE": PiiDetector(
        re.compile(r"(?<![\w+])(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{3}\)|\d{3})[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)")
    ),
    "US_SOCIAL_SECURITY_NUMBER": PiiDetector(
        re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
    ),
    "CREDIT_DEBIT_CARD_NUMBER": PiiDetector(re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), _luhn),
    "AWS_ACCESS_KEY": PiiDetector(re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
    "AWS_SECRET_KEY": PiiDetector(
        re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
        lambda s: any(c.islower() for c in s) and any(c.isupper() for c in s) and any(c.isdigit() for c in s),
    ),
    "IP_ADDRESS": PiiDetector(
        re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")
    ),
    "URL": PiiDetector(re.compile(r"\bhttps?://[^\s<>\"']+")),
    "MAC_ADDRESS": PiiDetector(re.compile(r"\b(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}\b")),
}
# When two detectors claim the same characters, the more specific one wins.
_PII_PRIORITY = (
    "EMAIL",
    "URL",
    "AWS_ACCESS_KEY",
    "AWS_SECRET_KEY",
    "CREDIT_DEBIT_CARD_NUMBER",
    "US_SOCIAL_SECURITY_NUMBER",
    "MAC_ADDRESS",
    "IP_ADDRESS",
    "PHONE",
)
_PII_ACTIONS = {"ANONYMIZE": "ANONYMIZED", "BLOCK": "BLOCKED"}


def load_definition() -> GuardrailDefinition:
    """The project's one guardrail definition (policies/guardrail.yaml)."""
    return load_guardrail()


class GuardrailEngine:
    """Evaluates ApplyGuardrail requests against one definition; stateless, so thread-safe."""

    def __init__(self, definition: GuardrailDefinition) -> None:
        self.definition = definition
        self.unsupported_pii = tuple(p.type for p in definition.pii_entities if p.type not in PII_DETECTORS)
        order = {kind: i for i, kind in enumerate(_PII_PRIORITY)}
        self._pii = sorted(
            ((p.type, _PII_ACTIONS[p.action]) for p in definition.pii_entities if p.type in PII_DETECTORS),
            key=lambda item: order.get(item[0], len(order)),
        )

    def apply(self, body: object) -> dict[str, object]:
        source, texts = _parse_request(body)
        filters, words, pii, outputs = [], [], [], []
        for text in texts:
            filters.extend(self._content_filters(source, text))
            words.extend(self._managed_words(text))
            masked, found = self._pii_entities(text)
            pii.extend(found)
            outputs.append({"text": masked})
        blocked = any(f["action"] == "BLOCKED" for f in [*filters, *words, *pii])
        intervened = bool(filters or words or pii)
        assessment: dict[str, object] = {}
        if filters:
            assessment["contentPolicy"] = {"filters": filters}
        if words:
            assessment["wordPolicy"] = {"customWords": [], "managedWordLists": words}
        if pii:
            assessment["sensitiveInformationPolicy"] = {"piiEntities": pii, "regexes": []}
        messaging = (
            self.definition.blocked_input_messaging
            if source == "INPUT"
            else self.definition.blocked_outputs_messaging
        )
        characters = sum(len(t) for t in texts)
        response: dict[str, object] = {
            "usage": self._usage(characters),
            "action": "GUARDRAIL_INTERVENED" if intervened else "NONE",
            "outputs": [{"text": messaging}] if blocked else (outputs if intervened else []),
            "assessments": [assessment] if intervened else [],
            "guardrailCoverage": {"textCharacters": {"guarded": characters, "total": characters}},
        }
        if intervened:
            response["actionReason"] = "Guardrail blocked." if blocked else "Guardrail masked."
        return response

    def _content_filters(self, source: str, text: str) -> list[dict[str, object]]:
        hits = []
        for content_filter in self.definition.content_filters:
            strength = content_filter.input_strength if source == "INPUT" else content_filter.output_strength
            if strength == "NONE":
                continue
            confidences = [
                c for pattern, c in CONTENT_LEXICONS.get(content_filter.type, ()) if pattern.search(text)
            ]
            if not confidences:
                continue
            confidence = max(confidences, key=_CONFIDENCE_RANK.__getitem__)
            if _CONFIDENCE_RANK[confidence] >= _BLOCKS_FROM[strength]:
                hits.append(
                    {
                        "type": content_filter.type,
                        "confidence": confidence,
                        "filterStrength": strength,
                        "action": "BLOCKED",
                        "detected": True,
                    }
                )
        return hits

    def _managed_words(self, text: str) -> list[dict[str, object]]:
        if "PROFANITY" not in self.definition.managed_word_lists:
            return []
        return [
            {"match": m.group(), "type": "PROFANITY", "action": "BLOCKED", "detected": True}
            for m in PROFANITY.finditer(text)
        ]

    def _pii_entities(self, text: str) -> tuple[str, list[dict[str, object]]]:
        """Find PII (non-overlapping, most specific type first) and mask what is to be anonymized."""
        claimed: list[tuple[int, int, str, str]] = []
        for kind, action in self._pii:
            detector = PII_DETECTORS[kind]
            for match in detector.pattern.finditer(text):
                start, end = match.span()
                if detector.accept(match.group()) and all(end <= s or start >= e for s, e, _, _ in claimed):
                    claimed.append((start, end, kind, action))
        claimed.sort()
        found, pieces, cursor = [], [], 0
        for start, end, kind, action in claimed:
            found.append({"match": text[start:end], "type": kind, "action": action, "detected": True})
            pieces.append(text[cursor:start])
            pieces.append(f"{{{kind}}}" if action == "ANONYMIZED" else text[start:end])
            cursor = end
        pieces.append(text[cursor:])
        return "".join(pieces), found

    def _usage(self, characters: int) -> dict[str, int]:
        units = math.ceil(characters / _TEXT_UNIT_CHARS) if characters else 0
        return {
            "topicPolicyUnits": 0,
            "contentPolicyUnits": units if self.definition.content_filters else 0,
            "wordPolicyUnits": units if self.definition.managed_word_lists else 0,
            "sensitiveInformationPolicyUnits": units if self.definition.pii_entities else 0,
            "sensitiveInformationPolicyFreeUnits": 0,
            "contextualGroundingPolicyUnits": 0,
        }


def _parse_request(body: object) -> tuple[str, Sequence[str]]:
    """Validate an ApplyGuardrail body as AWS does and return the source and its text items."""
    if not isinstance(body, dict):
        raise ValidationException("The request body must be a JSON object.")
    source = body.get("source")
    if source not in ("INPUT", "OUTPUT"):
        raise ValidationException(
            "1 validation error detected: Value at 'source' failed to satisfy constraint: "
            "Member must satisfy enum value set: [INPUT, OUTPUT]"
        )
    content = body.get("content")
    if not isinstance(content, list):
        raise ValidationException(
            "1 validation error detected: Value null at 'content' failed to satisfy constraint: "
            "Member must not be null"
        )
    texts = []
    for index, item in enumerate(content):
        if not isinstance(item, dict):
            raise ValidationException(f"content[{index}] must be an object.")
        if "image" in item:
            continue  # image filters are not emulated
        text = item.get("text")
        if not isinstance(text, dict) or not isinstance(text.get("text"), str):
            raise ValidationException(f"content[{index}].text.text must be a string.")
        texts.append(text["text"])
    return source, texts
