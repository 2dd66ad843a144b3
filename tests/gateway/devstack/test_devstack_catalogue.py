"""The stack hands the gateway the environment's catalogue exactly as the infrastructure does."""

from __future__ import annotations

import json

from gateway import render
from gateway.devstack.catalogue import load_environment


def test_gateway_models_is_accepted_by_the_gateways_own_parser():
    env = load_environment("dev")
    parsed = render.catalogue_from_json(env.gateway_models_json())
    assert [m.alias for m in parsed] == [m.alias for m in env.models]


def test_gateway_models_carries_every_catalogue_field():
    env = load_environment("dev")
    entries = json.loads(env.gateway_models_json())
    assert all(set(entry) == {"alias", "model_id", "mode", "fallbacks"} for entry in entries)


def test_an_alias_listed_twice_is_one_public_alias():
    env = load_environment("dev")
    listed = [m.alias for m in env.models]
    assert len(env.aliases()) == len(set(listed)) < len(listed)  # dev's "chat" group has two deployments


def test_aliases_can_be_filtered_by_mode():
    env = load_environment("dev")
    assert env.aliases("embedding") == ["titan-embed"]
    assert "titan-embed" not in env.aliases("chat")
