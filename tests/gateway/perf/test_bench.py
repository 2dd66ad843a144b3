"""The benchmark's statistics, report, driver, and its direct caller against the real emulator."""

import asyncio
import json
import secrets

import httpx
import pytest

from gateway.emulator.server import start_emulator
from gateway.emulator.sigv4 import Credentials
from gateway.perf.bench_load import (
    direct_call,
    direct_stream,
    drive,
    gateway_call,
    guardrail_call,
    unique_prompt,
)
from gateway.perf.bench_stats import (
    LevelResult,
    Sample,
    cpu_ratios,
    differences,
    percentile,
    ratios,
    summarise,
    table,
    write_results,
)


# ------------------------------------------------------------------ percentiles
@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 95, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 50, 3.0),
        ([4.0, 1.0, 3.0, 2.0], 0, 1.0),
        ([4.0, 1.0, 3.0, 2.0], 100, 4.0),
        (list(range(1, 101)), 95, 95.05),
        (list(range(1, 101)), 99, 99.01),
    ],
)
def test_percentiles_interpolate_linearly_between_ranks(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def test_a_percentile_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_a_percentile_outside_0_to_100_is_an_error():
    with pytest.raises(ValueError, match="0-100"):
        percentile([1.0], 101)


# ------------------------------------------------------------------ summaries
def test_rounds_are_pooled_into_one_result_per_target_and_level():
    samples = [
        Sample(latencies_s=[0.010, 0.020], errors=1, elapsed_s=1.0, overheads_ms=[5.0, 7.0]),
        Sample(latencies_s=[0.030, 0.040], errors=0, elapsed_s=1.0, overheads_ms=[9.0]),
    ]
    result = summarise("gateway-full", 5, samples, rss_mib=420.44)
    assert (result.requests, result.errors) == (5, 1)
    assert result.throughput_rps == 2.0  # successful requests per second of run time
    assert result.p50_ms == 25.0 and result.overhead_p50_ms == 7.0
    assert result.gateway_rss_mib == 420.4


def test_a_level_where_every_request_failed_has_no_latency_figures():
    result = summarise("direct", 1, [Sample(latencies_s=[], errors=3, elapsed_s=0.5, overheads_ms=[])])
    assert result.throughput_rps == 0.0 and result.p95_ms is None and result.overhead_p50_ms is None


def _result(target, level, rps, p50=10.0, p95=20.0):
    return LevelResult(
        target=target, concurrency=level, requests=100, errors=0, elapsed_s=1.0, throughput_rps=rps,
        p50_ms=p50, p95_ms=p95, p99_ms=p95, overhead_p50_ms=None, overhead_p95_ms=None, gateway_rss_mib=None,
    )  # fmt: skip


def test_full_over_bare_ratio_is_given_per_level_both_measured():
    results = [
        _result("gateway-full", 1, 50), _result("gateway-bare", 1, 100),
        _result("gateway-full", 20, 90), _result("gateway-bare", 20, 100),
        _result("gateway-full", 5, 60),
    ]  # fmt: skip
    assert ratios(results, "gateway-full", "gateway-bare") == {1: 0.5, 20: 0.9}


def test_added_latency_is_the_gateway_minus_the_direct_call():
    results = [
        _result("direct", 5, 900, p50=2.0, p95=4.0),
        _result("gateway-full", 5, 90, p50=12.5, p95=30.0),
    ]
    assert differences(results, "gateway-full", "direct") == {5: {"p50_ms": 10.5, "p95_ms": 26.0}}


def test_results_are_written_as_json_with_the_run_details(tmp_path):
    path = write_results(
        tmp_path / "bench" / "results.json", [_result("direct", 1, 100)], {"alias": "nova-pro"}
    )
    data = json.loads(path.read_text())
    assert data["alias"] == "nova-pro"
    assert data["results"][0]["target"] == "direct" and data["results"][0]["throughput_rps"] == 100


def test_the_table_has_a_line_per_result():
    lines = table([_result("direct", 1, 100), _result("gateway-full", 1, 50)]).splitlines()
    assert len(lines) == 4 and lines[3].split()[:2] == ["gateway-full", "1"]


# ------------------------------------------------------------------ driver
def test_the_driver_sends_exactly_the_requested_count_and_counts_failures():
    seen = []

    async def call(client, prompt):
        seen.append(prompt)
        return len(seen) % 4 != 0, 3.0

    sample = asyncio.run(drive(call, concurrency=3, requests=20, max_seconds=60, run_id="r"))
    assert len(seen) == 20 and len(set(seen)) == 20  # unique prompts: the cache can never answer
    assert sample.errors == 5 and len(sample.latencies_s) == 15 and sample.overheads_ms == [3.0] * 15


def test_the_driver_counts_transport_errors_as_failures():
    async def call(client, prompt):
        raise httpx.ConnectError("refused")

    sample = asyncio.run(drive(call, concurrency=2, requests=4, max_seconds=60, run_id="r"))
    assert sample.errors == 4 and sample.latencies_s == []


def test_unique_prompts_differ_per_request():
    assert unique_prompt("a", 1) != unique_prompt("a", 2) != unique_prompt("b", 2)


# ------------------------------------------------------------------ callers
def test_direct_calls_are_signed_so_the_emulator_accepts_them():
    credentials = Credentials("AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
    with start_emulator(credentials, region="us-east-1") as emulator:
        call = direct_call(
            emulator.url,
            "us.amazon.nova-pro-v1:0",
            credentials.access_key,
            credentials.secret_key,
            "us-east-1",
        )
        sample = asyncio.run(drive(call, concurrency=2, requests=4, max_seconds=60, run_id="t"))
        wrong = direct_call(
            emulator.url, "us.amazon.nova-pro-v1:0", credentials.access_key, "wrong", "us-east-1"
        )
        rejected = asyncio.run(drive(wrong, concurrency=1, requests=1, max_seconds=60, run_id="t"))
    assert sample.errors == 0 and len(sample.latencies_s) == 4
    assert rejected.errors == 1


def test_guardrail_round_trips_are_signed_so_the_emulator_answers_them():
    credentials = Credentials("AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
    with start_emulator(credentials, region="us-east-1") as emulator:
        keys = (credentials.access_key, credentials.secret_key, "us-east-1")
        call = guardrail_call(emulator.url, "local-guardrail", "1", *keys)
        sample = asyncio.run(drive(call, concurrency=2, requests=4, max_seconds=60, run_id="g"))
        wrong = guardrail_call(
            emulator.url, "local-guardrail", "1", credentials.access_key, "wrong", "us-east-1"
        )
        rejected = asyncio.run(drive(wrong, concurrency=1, requests=1, max_seconds=60, run_id="g"))
        checked = emulator.backend.stats()["guardrail"]["calls"]
    assert sample.errors == 0 and len(sample.latencies_s) == 4
    assert rejected.errors == 1
    assert checked == {"INPUT": 4}


def test_direct_streams_are_signed_and_time_their_first_text():
    credentials = Credentials("AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
    with start_emulator(credentials, region="us-east-1") as emulator:
        stream = direct_stream(
            emulator.url,
            "us.amazon.nova-pro-v1:0",
            credentials.access_key,
            credentials.secret_key,
            "us-east-1",
        )

        async def one():
            async with httpx.AsyncClient(timeout=30) as client:
                return await stream(client, unique_prompt("s", 1))

        ok, overhead, first = asyncio.run(one())
    assert ok and overhead is None and first is not None and first > 0


def test_the_gateway_caller_reads_litellms_overhead_header():
    def handler(request):
        body = json.loads(request.content)
        assert body["model"] == "nova-pro" and request.headers["authorization"] == "Bearer k"
        reply = {"choices": [{"message": {"content": "ok"}}]}
        return httpx.Response(200, json=reply, headers={"x-litellm-overhead-duration-ms": "6.5"})

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await gateway_call("http://gateway", "k", "nova-pro")(client, "hi")

    assert asyncio.run(go()) == (True, 6.5)


def test_cpu_per_request_covers_every_handled_request_across_rounds():
    samples = [
        Sample(latencies_s=[0.01] * 9, errors=1, elapsed_s=1.0, overheads_ms=[], cpu_s=0.05),
        Sample(latencies_s=[0.01] * 10, errors=0, elapsed_s=1.0, overheads_ms=[], cpu_s=0.07),
    ]
    assert summarise("gateway-bare", 5, samples).gateway_cpu_ms_per_request == 6.0  # 120 ms / 20 requests


def test_bare_over_full_cpu_per_request_predicts_the_throughput_ratio():
    import dataclasses

    full = dataclasses.replace(_result("gateway-full", 20, 80), gateway_cpu_ms_per_request=10.0)
    bare = dataclasses.replace(_result("gateway-bare", 20, 100), gateway_cpu_ms_per_request=8.0)
    assert cpu_ratios([full, bare], "gateway-full", "gateway-bare") == {20: 0.8}
