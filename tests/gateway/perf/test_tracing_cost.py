"""gateway/perf/tracing_cost.py: both Phoenix callbacks timed on one real LiteLLM logging payload."""

from __future__ import annotations

import pytest

from gateway.perf import tracing_cost


@pytest.fixture(scope="module")
def call():
    return tracing_cost.logged_call()


def test_the_payload_is_litellms_own_with_the_guardrails_two_runs(call):
    kwargs, _, _, _ = call
    payload = kwargs["standard_logging_object"]
    assert payload["model"].endswith("amazon.nova-pro-v1:0")
    assert payload["completion_tokens"] > 0
    assert [run["guardrail_mode"] for run in payload["guardrail_information"]] == ["pre_call", "post_call"]


def test_both_callbacks_export_every_span_they_record(call, monkeypatch):
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "1000")
    ours, stock = tracing_cost.measure_both(call, requests=5)
    assert (ours.label, stock.label) == ("gateway/hooks", "litellm arize_phoenix")
    assert ours.spans == 4.0  # the request, the model call and its two guardrail runs
    assert stock.spans >= 2.0  # LiteLLM's: a proxy parent span, the call, its guardrail span
    assert ours.bytes > 0 and stock.bytes > 0


def test_the_tool_prints_both_tables_one_row_per_round_and_the_medians(capsys, monkeypatch):
    # main() sets both for the process it runs in; put them back afterwards for the other tests.
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "2048")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    assert tracing_cost.main(["--requests", "3", "--calls", "2", "--rounds", "2"]) == 0
    out = capsys.readouterr().out
    first, second = out.split("[2/2]")
    rows = [line.split() for line in first.splitlines() if line.strip()[:1].isdigit()]
    assert [(row[0], row[1]) for row in rows] == [
        ("1", "gateway/hooks"), ("1", "litellm"), ("2", "gateway/hooks"), ("2", "litellm"),
    ]  # fmt: skip
    assert [line.split()[0] for line in second.splitlines() if line.strip()[:1].isdigit()] == ["1", "2"]
    assert "median added per call: gateway/hooks" in second


def test_timing_through_litellm_runs_only_the_given_callback_and_restores_the_lists():
    import litellm
    from litellm.integrations.custom_logger import CustomLogger

    class Counting(CustomLogger):
        calls = 0

        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
            Counting.calls += 1

    before = {name: list(getattr(litellm, name)) for name in tracing_cost.CALLBACK_LISTS}
    tracing_cost.through_litellm(Counting(), calls=2)
    assert Counting.calls == tracing_cost.WARM_UP_CALLS + 2  # warm-up and timed calls, each logged once
    assert {name: list(getattr(litellm, name)) for name in tracing_cost.CALLBACK_LISTS} == before


@pytest.mark.parametrize("flag", ["--requests", "--calls", "--rounds"])
def test_a_count_below_one_is_refused(flag, capsys):
    with pytest.raises(SystemExit):
        tracing_cost.main([flag, "0"])
    assert "at least 1" in capsys.readouterr().err
