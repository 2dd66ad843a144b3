"""What LiteLLM's cost-based routing costs per request as its usage map ages.

    python -m gateway.perf.routing_cost [--minutes 0,60,1440] [--requests 300]

LiteLLM 1.108.7's `cost-based-routing` keeps one usage map per model group
(`cost_map:<alias>`: deployment -> minute -> tpm/rpm). Every request reads it to
choose a deployment and rewrites it after the call, and no code prunes old
minutes; in Redis the key expires only after 60 s without traffic. A gateway
that never idles for a minute therefore carries every minute since its last
quiet spell. This tool pre-fills the map with N past minutes (a day of steady
traffic is 1,440) and times the strategy's own two calls per request, in
memory only (the router's Redis, when configured, also ships the whole map as
JSON on every write). It is why gateway/config.yaml routes by catalogue order
instead (docs/gateway.md, Routing). Prints CPU milliseconds per request.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import time
from collections.abc import Sequence

GROUP = "bench-group"
DEPLOYMENT_ID = "deployment-1"
MODEL = "bedrock/us.amazon.nova-pro-v1:0"


def past_minutes(now: dt.datetime, minutes: int) -> dict[str, dict[str, int]]:
    """A usage map for one deployment, one entry per past minute, keyed as LiteLLM keys them."""
    return {
        (now - dt.timedelta(minutes=m + 1)).strftime("%Y-%m-%d-%H-%M"): {"tpm": 1000, "rpm": 30}
        for m in range(minutes)
    }


async def cpu_ms_per_request(minutes: int, requests: int) -> float:
    """Choose a deployment and log the success `requests` times over a map aged `minutes`."""
    import litellm
    from litellm.caching.dual_cache import DualCache
    from litellm.router_strategy.lowest_cost import LowestCostLoggingHandler

    cache = DualCache()
    strategy = LowestCostLoggingHandler(router_cache=cache)
    now = dt.datetime.now()
    await cache.async_set_cache(f"cost_map:{GROUP}", {DEPLOYMENT_ID: past_minutes(now, minutes)})
    response = litellm.ModelResponse(
        usage=litellm.Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)
    )
    call = {"litellm_params": {"metadata": {"model_group": GROUP}, "model_info": {"id": DEPLOYMENT_ID}}}
    deployments = [
        {"model_name": GROUP, "litellm_params": {"model": MODEL}, "model_info": {"id": DEPLOYMENT_ID}}
    ]
    messages = [{"role": "user", "content": "What does the gateway add?"}]
    await strategy.async_get_available_deployments(GROUP, deployments, messages=messages)  # warm-up
    started = time.process_time()
    for _ in range(requests):
        await strategy.async_get_available_deployments(GROUP, deployments, messages=messages)
        await strategy.async_log_success_event(call, response, now, now)
    return (time.process_time() - started) / requests * 1000


def parse_minutes(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--minutes takes whole numbers, e.g. 0,60,1440: {error}") from error
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError("--minutes takes one or more whole numbers >= 0, e.g. 0,60,1440")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.perf.routing_cost", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--minutes", type=parse_minutes, default=[0, 60, 1440], help="map ages (default 0,60,1440)"
    )
    parser.add_argument("--requests", type=int, default=300, help="requests timed per age (default 300)")
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # offline: LiteLLM's bundled prices
    print(f"cost-based-routing bookkeeping, {args.requests} requests per map age (CPU, in memory)")
    for index, minutes in enumerate(args.minutes, start=1):
        ms = asyncio.run(cpu_ms_per_request(minutes, args.requests))
        print(f"  [{index}/{len(args.minutes)}] map with {minutes:5d} past minutes: {ms:7.3f} ms per request")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
