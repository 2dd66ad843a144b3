"""`nox -s ttft`: the issue-19 target is judged against the same run's direct and guardrail figures."""

from __future__ import annotations

from dataclasses import replace

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


def test_the_report_judges_the_long_and_the_short_answer_each_and_shows_where_the_time_went():
    long = _summary([470, 470, 470, 600])
    long["gateway"] = summarize(
        [Sample(470, 1470, 900, 50, input_check_done_ms=160, model_first_token_ms=440) for _ in range(4)]
    )
    short = _summary([900, 900, 900, 900])  # held back: over the limit
    targets = {"long": verdict(long), "short": verdict(short)}
    answers = {kind: {"prompt": "p", "max_tokens": n} for kind, n in (("long", 200), ("short", 64))}
    text = ttft.report({"alias": "nova-pro", "answers": answers, "latency_profile": "realistic",
                        "summary": {"long": long, "short": short}, "target": targets})  # fmt: skip

    assert "long 200, short 64 tokens" in text
    assert sum(line.startswith(("long ", "short ")) for line in text.splitlines()) >= 6  # 3 paths each
    assert "long answer, gateway profile" in text and "INPUT check answered at 160.0 ms" in text
    verdicts = [line for line in text.splitlines() if "target:" in line]
    assert verdicts[0].startswith("long") and verdicts[0].endswith(": met")
    assert verdicts[1].startswith("short") and verdicts[1].endswith(": MISSED")


def test_the_short_answer_is_the_benchs_streamed_question_and_the_long_one_takes_max_tokens():
    from gateway.perf import bench_load

    kinds = ttft.answers(400)
    assert kinds["long"].max_tokens == 400 and "long answer" in kinds["long"].prompt
    assert (kinds["short"].prompt, kinds["short"].max_tokens) == (bench_load.QUESTION, bench_load.MAX_TOKENS)
    assert kinds["short"].fresh_prompt() != kinds["short"].fresh_prompt()  # the cache never answers


def test_it_defaults_to_the_realistic_profile_and_refuses_a_single_request():
    assert ttft.parse_args([]).latency == "realistic"
    with pytest.raises(SystemExit):
        ttft.parse_args(["--requests", "1"])


def test_a_gateway_call_is_split_into_the_proxy_s_parts_and_the_upstream_s():
    sample = Sample(
        560, 2000, 1500, 59,
        input_check_sent_ms=15, input_check_done_ms=205, model_called_ms=230, model_first_token_ms=530,
    )  # fmt: skip

    assert sample.segments() == {
        "proxy_before_check": 15,
        "check": 190,
        "proxy_before_model": 25,
        "model_ttft": 300,
        "to_client": 30,
    }
    assert Sample(560, 2000, 1500, 59, input_check_done_ms=205, model_first_token_ms=530).segments() == {}


def _split_sample(i: int) -> Sample:
    marks = {"input_check_sent_ms": 10 + i, "input_check_done_ms": 160 + i, "model_called_ms": 180 + i}
    return Sample(470 + i, 1470, 900, 50, model_first_token_ms=440 + i, **marks)


def test_the_report_prints_the_median_of_each_part():
    long = _summary([470, 470, 470, 600])
    long["gateway"] = summarize([_split_sample(i) for i in range(3)])
    answers = {"long": {"prompt": "p", "max_tokens": 200}}
    text = ttft.report({"alias": "nova-pro", "answers": answers, "latency_profile": "realistic",
                        "summary": {"long": long}, "target": {"long": verdict(long)}})  # fmt: skip

    assert long["gateway"]["segments_p50_ms"]["proxy_before_model"] == 20
    assert "proxy before the INPUT check 11 ms; the check 150 ms; proxy from its verdict" in text


def _log(operation: str, received: float, time: float) -> dict:
    return {"operation": operation, "model_id": "m", "status": 200, "received": received, "time": time}


def test_a_call_s_marks_are_the_first_check_and_model_call_that_arrived_after_it_started():
    calls = [
        _log("ApplyGuardrail", 99.9, 100.1),  # the previous call's OUTPUT check, answered after `began`
        _log("ApplyGuardrail", 100.010, 100.200),
        _log("ConverseStream", 100.210, 100.500),
        _log("ApplyGuardrail", 100.600, 100.800),  # this call's OUTPUT check
    ]

    marks = ttft.call_marks(calls, began=100.0)

    assert {k: round(v, 3) for k, v in marks.items()} == {
        "input_check_sent_ms": 10.0,
        "input_check_done_ms": 200.0,
        "model_called_ms": 210.0,
        "model_first_token_ms": 500.0,
    }


@pytest.mark.parametrize(
    "calls",
    [
        [_log("ConverseStream", 100.2, 100.5)],  # no INPUT check in the log (evicted, or none made)
        [_log("ApplyGuardrail", 100.01, 100.3), _log("ConverseStream", 100.2, 100.5)],  # model before verdict
    ],
    ids=["no-check", "out-of-order"],
)
def test_a_log_that_does_not_fit_the_gateway_s_order_is_not_split(calls):
    assert ttft.call_marks(calls, began=100.0) == {}


def test_the_proxy_s_own_share_is_summed_per_call_not_from_the_part_medians():
    samples = [  # the proxy's parts: (5, 5, 30), (30, 5, 5), (5, 30, 5): 40 ms each call
        Sample(
            600,
            900,
            300,
            5,
            input_check_sent_ms=a,
            input_check_done_ms=a + 200,
            model_called_ms=a + 200 + b,
            model_first_token_ms=a + 200 + b + 300,
        )
        for a, b in ((5, 5), (30, 5), (5, 30))
    ]
    samples = [
        replace(s, ttft_ms=s.model_first_token_ms + c) for s, c in zip(samples, (30, 5, 5), strict=True)
    ]

    summary = summarize(samples)

    assert summary["proxy_own_p50_ms"] == 40.0
    assert sum(summary["segments_p50_ms"][name] for name in ttft.PROXY_PARTS) == 15.0
