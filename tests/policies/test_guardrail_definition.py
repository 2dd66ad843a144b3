"""policies/guardrail.py: the shipped definition loads, and malformed ones are refused clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from policies.guardrail import (
    DEFAULT_PATH,
    PII_ENTITY_TYPES,
    GuardrailDefinitionError,
    load_guardrail,
    parse_guardrail,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shipped_yaml() -> dict:
    return yaml.safe_load(DEFAULT_PATH.read_text())


def _with(doc: dict, **changes) -> dict:
    return {**doc, **changes}


def test_shipped_definition_matches_its_yaml_file(shipped_yaml):
    definition = load_guardrail()

    assert definition.name == shipped_yaml["name"]
    assert [(f.type, f.input_strength, f.output_strength) for f in definition.content_filters] == [
        (f["type"], f["input_strength"], f["output_strength"]) for f in shipped_yaml["content_filters"]
    ]
    assert [(p.type, p.action) for p in definition.pii_entities] == [
        (p["type"], p["action"]) for p in shipped_yaml["pii_entities"]
    ]
    assert list(definition.managed_word_lists) == shipped_yaml["managed_word_lists"]


def test_shipped_definition_filters_prompt_attacks_on_input_only():
    filters = {f.type: f for f in load_guardrail().content_filters}

    assert filters["PROMPT_ATTACK"].input_strength == "HIGH"
    assert filters["PROMPT_ATTACK"].output_strength == "NONE"


def test_definition_is_immutable():
    definition = load_guardrail()

    with pytest.raises(AttributeError):
        definition.name = "changed"  # type: ignore[misc]


def test_digest_is_stable_and_follows_content(shipped_yaml):
    first = parse_guardrail(shipped_yaml)
    again = parse_guardrail(yaml.safe_load(DEFAULT_PATH.read_text()))
    changed = parse_guardrail(_with(shipped_yaml, blocked_input_messaging="Something else."))

    assert first.digest() == again.digest()
    assert first.digest() != changed.digest()


def test_error_names_the_file_and_the_field(tmp_path, shipped_yaml):
    bad = _with(
        shipped_yaml,
        content_filters=[{"type": "HATE", "input_strength": "EXTREME", "output_strength": "HIGH"}],
    )
    path = tmp_path / "guardrail.yaml"
    path.write_text(yaml.safe_dump(bad))

    with pytest.raises(GuardrailDefinitionError) as error:
        load_guardrail(path)

    assert str(path) in str(error.value)
    assert "content_filters[0].input_strength" in str(error.value)
    assert "'EXTREME'" in str(error.value)


def test_prompt_attack_with_an_output_strength_is_refused(shipped_yaml):
    bad = _with(
        shipped_yaml,
        content_filters=[{"type": "PROMPT_ATTACK", "input_strength": "HIGH", "output_strength": "LOW"}],
    )

    with pytest.raises(
        GuardrailDefinitionError, match=r"content_filters\[0\]\.output_strength: must be NONE"
    ):
        parse_guardrail(bad)


def test_unknown_content_filter_type_is_refused(shipped_yaml):
    bad = _with(
        shipped_yaml,
        content_filters=[{"type": "RUDENESS", "input_strength": "HIGH", "output_strength": "HIGH"}],
    )

    with pytest.raises(GuardrailDefinitionError, match=r"content_filters\[0\]\.type: 'RUDENESS'"):
        parse_guardrail(bad)


def test_unknown_pii_entity_type_is_refused(shipped_yaml):
    bad = _with(shipped_yaml, pii_entities=[{"type": "SHOE_SIZE", "action": "BLOCK"}])

    with pytest.raises(GuardrailDefinitionError, match=r"pii_entities\[0\]\.type: 'SHOE_SIZE'"):
        parse_guardrail(bad)


def test_every_bedrock_pii_entity_type_is_accepted(shipped_yaml):
    doc = _with(shipped_yaml, pii_entities=[{"type": t, "action": "ANONYMIZE"} for t in PII_ENTITY_TYPES])

    assert len(parse_guardrail(doc).pii_entities) == len(PII_ENTITY_TYPES)


@pytest.mark.parametrize("action", ["NONE", "REDACT", "anonymize"])
def test_pii_action_other_than_anonymize_or_block_is_refused(shipped_yaml, action):
    bad = _with(shipped_yaml, pii_entities=[{"type": "EMAIL", "action": action}])

    with pytest.raises(GuardrailDefinitionError, match=r"pii_entities\[0\]\.action"):
        parse_guardrail(bad)


def test_duplicate_pii_entity_is_refused(shipped_yaml):
    bad = _with(
        shipped_yaml,
        pii_entities=[{"type": "EMAIL", "action": "BLOCK"}, {"type": "EMAIL", "action": "ANONYMIZE"}],
    )

    with pytest.raises(GuardrailDefinitionError, match="EMAIL appears more than once"):
        parse_guardrail(bad)


def test_unknown_managed_word_list_is_refused(shipped_yaml):
    with pytest.raises(GuardrailDefinitionError, match=r"managed_word_lists\[0\]"):
        parse_guardrail(_with(shipped_yaml, managed_word_lists=["SLANG"]))


def test_unknown_top_level_key_is_refused(shipped_yaml):
    with pytest.raises(GuardrailDefinitionError, match=r"unknown key.*topic_policies"):
        parse_guardrail(_with(shipped_yaml, topic_policies=[]))


def test_missing_blocked_messaging_is_refused(shipped_yaml):
    bad = {k: v for k, v in shipped_yaml.items() if k != "blocked_outputs_messaging"}

    with pytest.raises(GuardrailDefinitionError, match="blocked_outputs_messaging: is required"):
        parse_guardrail(bad)


@pytest.mark.parametrize("name", ["has spaces", "x" * 51, ""])
def test_name_outside_bedrock_rules_is_refused(shipped_yaml, name):
    with pytest.raises(GuardrailDefinitionError, match="name"):
        parse_guardrail(_with(shipped_yaml, name=name))


def test_non_string_strength_is_refused(shipped_yaml):
    bad = _with(
        shipped_yaml, content_filters=[{"type": "HATE", "input_strength": 3, "output_strength": "HIGH"}]
    )

    with pytest.raises(GuardrailDefinitionError, match="input_strength: 3 is not one of"):
        parse_guardrail(bad)


def test_definition_without_any_policy_is_refused(shipped_yaml):
    bad = _with(shipped_yaml, content_filters=[], pii_entities=[], managed_word_lists=[])

    with pytest.raises(GuardrailDefinitionError, match="no policy"):
        parse_guardrail(bad)


def test_unparsable_yaml_is_reported_with_its_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")

    with pytest.raises(GuardrailDefinitionError, match=f"{path}: not valid YAML"):
        load_guardrail(path)


def test_loader_imports_neither_cdktf_nor_jsii():
    """The emulator imports the loader; it must stay light."""
    code = (
        "import sys, policies.guardrail; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'cdktf', 'jsii', 'constructs'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("field", "limit"), [("description", 200), ("blocked_input_messaging", 500)])
def test_text_longer_than_bedrock_allows_is_refused(shipped_yaml, field, limit):
    with pytest.raises(GuardrailDefinitionError, match=rf"{field}: is {limit + 1} characters"):
        parse_guardrail(_with(shipped_yaml, **{field: "x" * (limit + 1)}))
