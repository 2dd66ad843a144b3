"""gateway/trace_content.py: which collectors may receive prompt and answer text."""

from __future__ import annotations

import pytest

from gateway import trace_content


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://phoenix.llm-gateway.internal/v1/traces",
        "https://ip-10-20-1-5.ec2.internal:6006/v1/traces",
        "https://PHOENIX.INTERNAL./v1/traces",
        "https://10.20.3.4/v1/traces",
        "https://172.16.0.9/v1/traces",
        "https://192.168.1.2:6006",
        "grpc://10.20.3.4:4317",
        "10.20.3.4:4317",
        "http://127.0.0.1:6006/v1/traces",
        "http://localhost:6006",
        "http://[::1]:6006",
    ],
)
def test_private_addresses_and_internal_names_are_inside(endpoint):
    assert trace_content.collector_is_external(endpoint) is False
    assert trace_content.default_capture(endpoint) is True


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://app.phoenix.arize.com/v1/traces",
        "https://phoenix.example.com/v1/traces",
        "https://internal.example.com/v1/traces",  # "internal" as a label, not the suffix
        "https://phoenix.internal.example.com/v1/traces",
        "https://10.20.3.4.nip.io/v1/traces",  # public DNS that resolves to a private address
        "https://internal-phoenix-123.us-east-1.elb.amazonaws.com/v1/traces",
        "https://52.1.2.3/v1/traces",
        "https://172.32.0.1/v1/traces",  # just outside 172.16/12
        "https://198.51.100.7/v1/traces",  # documentation range: not RFC 1918
        "",
        "https:///v1/traces",
    ],
)
def test_everything_else_is_outside(endpoint):
    assert trace_content.collector_is_external(endpoint) is True
    assert trace_content.default_capture(endpoint) is False


def test_the_host_is_where_the_url_connects_not_what_it_mentions():
    assert trace_content.collector_host("https://app.phoenix.arize.com@10.0.0.1/v1/traces") == "10.0.0.1"
    assert trace_content.collector_is_external("https://app.phoenix.arize.com@10.0.0.1/v1/traces") is False


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, None), ("", None), (" ", None), ("true", True), ("FALSE", False)]
)
def test_the_variable_is_true_false_or_unset(raw, expected):
    assert trace_content.parse(raw) is expected


@pytest.mark.parametrize("raw", ["yes", "1", "on", "off"])
def test_any_other_value_is_refused_naming_the_variable(raw):
    with pytest.raises(ValueError, match=f"GATEWAY_TRACE_CONTENT must be true or false, got '{raw}'"):
        trace_content.parse(raw)
