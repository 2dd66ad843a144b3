"""gateway/limits.py: the request-limit variables, their defaults and what a bad value says."""

from __future__ import annotations

import re

import pytest

from gateway import limits
from gateway.limits import DEFAULTS, LimitsError, RequestLimits, from_env


def test_unset_or_empty_variables_give_the_defaults():
    assert from_env({}) == DEFAULTS
    assert from_env(dict.fromkeys(limits.VARIABLES, " ")) == DEFAULTS


def test_the_defaults_fit_the_longest_context_and_keep_internals_private():
    # Nova Pro/Lite: 300k tokens; at most ~6 bytes a token as JSON text (\\uXXXX escapes).
    assert DEFAULTS.max_request_body_bytes >= 2 * 300_000 * 6
    assert DEFAULTS.max_tokens >= 10_000  # Nova's longest answer
    assert DEFAULTS.expose_internal_headers is False


def test_values_round_trip_through_the_container_variables():
    chosen = RequestLimits(
        max_request_body_mb=8,
        max_embedding_inputs=16,
        max_tokens=4096,
        max_cached_answer_kb=64,
        expose_internal_headers=True,
    )
    assert from_env(chosen.to_env()) == chosen
    assert set(chosen.to_env()) == set(limits.VARIABLES)


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        (
            limits.MAX_REQUEST_BODY_MB,
            "0",
            "GATEWAY_MAX_REQUEST_BODY_MB must be an integer from 1 to 64, got 0",
        ),
        (limits.MAX_TOKENS, "1e6", "GATEWAY_MAX_TOKENS must be an integer from 1 to 200000, got '1e6'"),
        (limits.MAX_EMBEDDING_INPUTS, "4096", "from 1 to 2048, got 4096"),
        (
            limits.EXPOSE_INTERNAL_HEADERS,
            "yes",
            "GATEWAY_EXPOSE_INTERNAL_HEADERS must be true or false, got 'yes'",
        ),
    ],
)
def test_a_bad_value_names_the_variable_and_what_is_allowed(name, raw, expected):
    with pytest.raises(LimitsError, match=re.escape(expected)):
        from_env({name: raw})


def test_bounds_are_looked_up_by_the_environment_file_key():
    assert limits.bounds("max_embedding_inputs") == (1, 2048)
    with pytest.raises(KeyError):
        limits.bounds("max_nothing")
