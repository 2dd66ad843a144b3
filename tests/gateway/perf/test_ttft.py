"""`nox -s ttft`: the issue-19 target is judged against the same run's direct and guardrail figures."""

from __future__ import annotations

import pytest

from gateway.perf import ttft
from gateway.perf.ttft import Sample, summarize, verdict


def _samples(*ttfts: float) -> list[Sample]:
    return [Sample(ttft_ms=t, total_ms=t + 1000, spread_ms=900, text_chunks=50) for t in ttfts]


def _summary(gateway: list[float]) -> dict:
    return {
        "direct": summarize(_samples(300, 300, 300, 400)),
        "guardrail": summarize(_samples(150, 150, 150, 200)),
        "gateway": summarize(_samples(*gateway)),
    }


def test_the_target_is_direct_plus_one_guardrail_round_trip_plus_the_slack():
    result = verdict(_summary([470, 470, 470, 600]))

    assert result["limit_p50_ms"] == 300 + 150 + ttft.TARGET_P50_SLACK_MS
    assert result["limit_p95_ms"] == 400 + 150 + ttft.TARGET_P95_SLACK_MS
    assert result["added_p50_ms"] == 170 and result["met"] is True


@pytest.mark.parametrize("gateway", [[480, 480, 480, 600], [470, 470, 470, 620]], ids=["p50", "p95"])
def test_a_gateway_over_either_limit_misses_the_target(gateway):
    assert verdict(_summary(gateway))["met"] is False


def test_the_report_says_met_or_missed_and_shows_where_the_time_went():
    summary = _summary([470, 470, 470, 600])
    profiled = [
        Sample(470, 1470, 900, 50, input_check_done_ms=160, model_first_token_ms=440) for _ in range(4)
    ]
    summary["gateway"] = summarize(profiled)
    text = ttft.report({"alias": "nova-pro", "max_tokens": 200, "latency_profile": "realistic",
                        "summary": summary, "target": verdict(summary)})  # fmt: skip

    assert text.rstrip().endswith("met")
    assert "INPUT check answered at 160.0 ms" in text and "first token sent at 440.0 ms" in text


def test_it_defaults_to_the_realistic_profile_and_refuses_a_single_request():
    assert ttft.parse_args([]).latency == "realistic"
    with pytest.raises(SystemExit):
        ttft.parse_args(["--requests", "1"])
