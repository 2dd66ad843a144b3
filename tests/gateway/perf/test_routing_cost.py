"""gateway/perf/routing_cost.py and the LiteLLM behaviour behind the routing decision."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from gateway.perf import routing_cost


def test_past_minutes_are_keyed_as_litellm_keys_its_usage_map():
    now = dt.datetime(2026, 12, 2, 4, 30)
    assert list(routing_cost.past_minutes(now, 2)) == ["2026-12-02-04-29", "2026-12-02-04-28"]


def test_litellm_cost_based_routing_never_prunes_its_usage_map():
    """Why the gateway routes by catalogue order: every old minute survives each request's rewrite."""
    from litellm.caching.dual_cache import DualCache
    from litellm.router_strategy.lowest_cost import LowestCostLoggingHandler

    async def after_one_request() -> dict:
        cache = DualCache()
        old = routing_cost.past_minutes(dt.datetime.now(), 90)
        await cache.async_set_cache("cost_map:g", {"d": dict(old)})
        strategy = LowestCostLoggingHandler(router_cache=cache)
        call = {"litellm_params": {"metadata": {"model_group": "g"}, "model_info": {"id": "d"}}}
        await strategy.async_log_success_event(call, None, None, None)
        return (await cache.async_get_cache("cost_map:g"))["d"], old

    usage, old = asyncio.run(after_one_request())
    assert set(old) < set(usage)
    assert len(usage) == 91


def test_the_tool_prints_one_row_per_map_age(capsys):
    assert routing_cost.main(["--minutes", "0,5", "--requests", "3"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "past minutes" in line]
    assert [row.split("map with")[1].split("past")[0].strip() for row in rows] == ["0", "5"]


@pytest.mark.parametrize("text", ["", "a,1", "-1"])
def test_bad_map_ages_are_refused_with_an_example(text, capsys):
    with pytest.raises(SystemExit):
        routing_cost.main(["--minutes", text])
    assert "0,60,1440" in capsys.readouterr().err
