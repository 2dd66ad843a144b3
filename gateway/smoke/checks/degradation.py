"""Degrading fast when a dependency fails: throttled or failing models, a hung Redis, a slow guardrail.

One row per line of issue 14's table (docs/gateway.md, "Retries, cooldowns and timeouts"). Each row
injects its fault through the emulator's fault API (or SIGSTOPs the local Redis), asserts the status
and body a client gets, and reports the latency it measured against its target; a row fails on
latency only past twice the target, so a busy 2-core machine does not make it flaky. Faults are
cleared after every row, and a row that cooled a deployment down waits until that deployment
answers again, so the checks after it find every model in rotation.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import statistics
import time
from collections.abc import Callable, Iterator

import httpx

from gateway import render
from gateway.smoke.checks.common import ensure, openai_error, require_local
from gateway.smoke.checks.emulator import set_faults, stats
from gateway.smoke.runner import Skip
from gateway.smoke.target import Target

# The gateway's own settings (the image carries the same gateway/config.yaml).
_BASE = render.load_base()
COOLDOWN_S = float(_BASE["router_settings"]["cooldown_time"])
GUARDRAIL_TIMEOUT_S = float(_BASE["guardrails"][0]["litellm_params"]["timeout"])

FALLBACK_P50_TARGET_S = 3.0
ALL_DOWN_TARGET_S = 5.0
REDIS_HUNG_EXTRA_TARGET_S = 1.0  # what a hung Redis may add to a request
MARGIN = 2.0  # a row fails only past MARGIN x its target
FALLBACK_REQUESTS = 8
REDIS_HUNG_REQUESTS = 12
# What an error body must not show a client: Bedrock's names, ids, ARNs, endpoints.
INTERNAL_MARKERS = ("bedrock", "arn:", "amazonaws", "http://", "https://", "deployment", "litellm")


def _clear_faults(target: Target) -> None:
    assert target.local is not None
    httpx.delete(
        f"{target.local.emulator_url}/_emulator/faults", timeout=10, trust_env=False
    ).raise_for_status()


@contextlib.contextmanager
def _faults(target: Target, *plans: dict) -> Iterator[None]:
    """The plans while the block runs, then no fault at all (even if the block failed)."""
    try:
        for plan in plans:
            set_faults(target, plan)
        yield
    finally:
        _clear_faults(target)


def _chat_with_fallback(target: Target):
    """The first chat alias with a fallback, its fallback alias, and the Bedrock ids behind each."""
    chat = [m for m in target.environment.models if m.mode == "chat"]
    model = next((m for m in chat if m.fallbacks), None)
    if model is None:
        raise Skip("no chat alias in the catalogue has a fallback")
    return model, model.fallbacks[0]


def _ids(target: Target, alias: str) -> set[str]:
    return {m.model_id for m in target.environment.models if m.alias == alias}


def _chain(target: Target, alias: str) -> list[str]:
    """`alias` and every alias its fallbacks reach, in order (what "all models down" must cover)."""
    by_alias = {m.alias: m for m in target.environment.models}
    chain, queue = [], [alias]
    while queue:
        name = queue.pop(0)
        if name in chain or name not in by_alias:
            continue
        chain.append(name)
        queue.extend(f for m in target.environment.models if m.alias == name for f in m.fallbacks)
    return chain


def _post_chat(target: Target, alias: str, label: str, **extra) -> tuple[httpx.Response, float]:
    body = {
        "model": alias,
        "messages": [{"role": "user", "content": f"Say hello ({target.nonce(label)})"}],
        "max_tokens": 16,
        **extra,
    }
    began = time.monotonic()
    response = target.http.post("/v1/chat/completions", json=body, headers=target.auth())
    return response, time.monotonic() - began


def _calls(snapshot: dict, model_ids: set[str]) -> tuple[int, int]:
    """(calls, errors) the emulator counted for these model ids."""
    calls = sum(sum(ops.values()) for name, ops in snapshot["calls"].items() if name in model_ids)
    errors = sum(sum(codes.values()) for name, codes in snapshot["errors"].items() if name in model_ids)
    return calls, errors


def _within(seconds: float, target_s: float, what: str) -> str:
    """The figure against its target; fails only past MARGIN x the target."""
    ensure(
        seconds <= MARGIN * target_s,
        f"{what} took {seconds:.2f} s, more than {MARGIN:g}x the {target_s:g} s target",
    )
    return f"{what} {seconds:.2f} s (target {target_s:g} s{'' if seconds <= target_s else ', OVER'})"


def _await_answer_from(target: Target, alias: str, deadline_s: float) -> float:
    """Wait until `alias`'s own model answers again (its cooldown over); returns the seconds waited."""
    ids = _ids(target, alias)
    began = time.monotonic()
    while True:
        before = _calls(stats(target), ids)
        response, _ = _post_chat(target, alias, "recovered")
        after = _calls(stats(target), ids)
        if response.status_code == 200 and after[0] - before[0] > after[1] - before[1]:
            return time.monotonic() - began
        ensure(
            time.monotonic() - began < deadline_s,
            f"{alias} was not tried again within {deadline_s:.0f} s of its fault clearing "
            f"(last answer {response.status_code}: {response.text[:200]})",
        )
        time.sleep(1.0)


def throttled_model_falls_back_fast(target: Target) -> str:
    """nova-pro throttled: every request is answered by its fallback, p50 under 3 s; nova-pro is skipped
    while it fails (a handful of throttles for the whole window, not 4 per request) and is tried again,
    and answers, once its cooldown is over."""
    require_local(target, "the emulator's fault API is needed to make Bedrock throttle")
    model, fallback = _chat_with_fallback(target)
    ids, fallback_ids = _ids(target, model.alias), _ids(target, fallback)
    plans = [{"model_id": i, "error_rate": 1, "status": 429} for i in ids]
    before = stats(target)
    latencies, answered_by = [], set()
    with _faults(target, *plans):
        window = time.monotonic()
        for _ in range(FALLBACK_REQUESTS):
            response, seconds = _post_chat(target, model.alias, "throttled")
            ensure(
                response.status_code == 200,
                f"{model.alias} throttled: HTTP {response.status_code}: {response.text[:300]}",
            )
            latencies.append(seconds)
            answered_by.add(response.json().get("model"))
        window = time.monotonic() - window
    after = stats(target)
    throttles = _calls(after, ids)[1] - _calls(before, ids)[1]
    fallback_calls = _calls(after, fallback_ids)[0] - _calls(before, fallback_ids)[0]
    ensure(
        fallback_calls >= FALLBACK_REQUESTS, f"{fallback} answered {fallback_calls} of {FALLBACK_REQUESTS}"
    )
    # Skipped while failing: at most one probe per cooldown window (plus the first throttle).
    allowed = math.ceil(window / COOLDOWN_S) + 1
    ensure(
        throttles <= allowed,
        f"{model.alias} was called {throttles} times while throttled over {window:.1f} s; with a "
        f"{COOLDOWN_S:g} s cooldown at most {allowed} (it is not being skipped)",
    )
    p50 = statistics.median(latencies)
    figure = _within(p50, FALLBACK_P50_TARGET_S, f"fallback p50 over {len(latencies)} requests")
    waited = _await_answer_from(target, model.alias, deadline_s=COOLDOWN_S * 3 + 10)
    return (
        f"{figure}, max {max(latencies):.2f} s; {model.alias} throttled {throttles}x in {window:.1f} s "
        f"(skipped while cooling down), answered by {sorted(map(str, answered_by))}; "
        f"{model.alias} answered again {waited:.1f} s after the fault cleared (cooldown {COOLDOWN_S:g} s)"
    )


def fallback_answer_names_the_alias(target: Target) -> str:
    """A fallback answer's `model` is the alias that answered (not the Bedrock id), plain and streamed,
    as a normal answer's is the alias asked for."""
    require_local(target, "the emulator's fault API is needed to force a fallback")
    model, fallback = _chat_with_fallback(target)
    plans = [{"model_id": i, "error_rate": 1, "status": 429} for i in _ids(target, model.alias)]
    normal, _ = _post_chat(target, fallback, "normal")
    ensure(normal.status_code == 200, f"{fallback}: HTTP {normal.status_code}: {normal.text[:200]}")
    ensure(
        normal.json().get("model") == fallback,
        f"a normal answer of {fallback} says model={normal.json().get('model')!r}",
    )
    with _faults(target, *plans):
        plain, _ = _post_chat(target, model.alias, "fallback-plain")
        ensure(plain.status_code == 200, f"{model.alias}: HTTP {plain.status_code}: {plain.text[:200]}")
        plain_model = plain.json().get("model")
        streamed_models = _streamed_models(target, model.alias)
    ensure(
        plain_model == fallback,
        f"the plain fallback answer says model={plain_model!r}, expected the alias {fallback!r}",
    )
    ensure(
        streamed_models == {fallback},
        f"the streamed fallback answer's chunks say model={sorted(streamed_models)}, expected {fallback!r}",
    )
    _await_answer_from(target, model.alias, deadline_s=COOLDOWN_S * 3 + 10)
    return f"{model.alias} throttled -> plain and streamed answers say model={fallback!r}; normal answer too"


def _streamed_models(target: Target, alias: str) -> set[str]:
    body = {
        "model": alias,
        "messages": [{"role": "user", "content": f"Say hello ({target.nonce('fallback-sse')})"}],
        "max_tokens": 16,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    models, text = set(), ""
    with target.http.stream("POST", "/v1/chat/completions", json=body, headers=target.auth()) as response:
        ensure(response.status_code == 200, f"{alias} streamed: HTTP {response.status_code}")
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[len("data: ") :])
            models.add(chunk.get("model"))
            for choice in chunk.get("choices") or []:
                text += (choice.get("delta") or {}).get("content") or ""
    ensure(text.strip(), f"{alias} streamed: empty answer")
    return models


def all_models_down_503(target: Target) -> str:
    """Every model of an alias's fallback chain returns 503: the client gets 503 within 5 s, with
    Retry-After and a message naming the alias, not Bedrock's internals; the same again once the
    models are cooling down; and the alias answers again after the cooldown."""
    require_local(target, "the emulator's fault API is needed to make Bedrock fail")
    model, _ = _chat_with_fallback(target)
    chain = _chain(target, model.alias)
    ids = {i for alias in chain for i in _ids(target, alias)}
    plans = [{"model_id": i, "error_rate": 1, "status": 503} for i in sorted(ids)]
    latencies, retry_afters = [], []
    with _faults(target, *plans):
        for _ in range(3):
            response, seconds = _post_chat(target, model.alias, "all-down")
            latencies.append(seconds)
            error = openai_error(response, {503})
            retry_after = response.headers.get("retry-after", "")
            ensure(
                retry_after.isdigit() and int(retry_after) > 0,
                f"no positive Retry-After header on the 503 (got {retry_after!r})",
            )
            retry_afters.append(int(retry_after))
            message = error["message"]
            ensure(model.alias in message, f"the 503 message does not name {model.alias!r}: {message!r}")
            leaked = [
                m for m in (*ids, *INTERNAL_MARKERS) if m.lower() in json.dumps(response.json()).lower()
            ]
            ensure(not leaked, f"the 503 body shows internals {leaked}: {response.text[:300]}")
    figure = _within(max(latencies), ALL_DOWN_TARGET_S, "slowest all-down 503")
    waited = _await_answer_from(target, model.alias, deadline_s=max(retry_afters) * 3 + 10)
    return (
        f"{figure} ({', '.join(f'{s:.2f}' for s in latencies)} s; chain {' -> '.join(chain)}), "
        f"Retry-After {sorted(set(retry_afters))} s; {model.alias} answered again {waited:.1f} s later"
    )


def redis_hung_costs_under_a_second(target: Target) -> str:
    """Redis stopped (SIGSTOP: connections accepted, never answered): every request is still answered,
    none more than 1 s slower than with Redis up (cache, rate limiter and router all give up fast)."""
    local = require_local(target, "the local Redis process is needed to hang it")
    if not local.redis_pid:
        raise Skip("the local stack did not report its Redis pid")
    alias = _chat_with_fallback(target)[0].alias
    baseline = []
    for _ in range(3):
        response, seconds = _post_chat(target, alias, "redis-baseline")
        ensure(response.status_code == 200, f"before the hang: HTTP {response.status_code}")
        baseline.append(seconds)
    usual = statistics.median(baseline)
    latencies: list[float] = []
    _signal(local.redis_pid, signal.SIGSTOP)
    try:
        for _ in range(REDIS_HUNG_REQUESTS):
            response, seconds = _post_chat(target, alias, "redis-hung")
            latencies.append(seconds)
            ensure(
                response.status_code == 200,
                f"with Redis hung: HTTP {response.status_code} after {seconds:.2f} s: {response.text[:200]}",
            )
    finally:
        _signal(local.redis_pid, signal.SIGCONT)
    after, _ = _post_chat(target, alias, "redis-resumed")
    ensure(after.status_code == 200, f"after Redis resumed: HTTP {after.status_code}")
    worst = max(latencies)
    figure = _within(worst - usual, REDIS_HUNG_EXTRA_TARGET_S, "worst extra latency with Redis hung")
    return (
        f"{figure}: worst request {worst:.2f} s vs {usual:.2f} s usual; "
        f"{len(latencies)} requests answered 200 (median {statistics.median(latencies):.2f} s)"
    )


def _signal(pid: int, sig: signal.Signals) -> None:
    ensure(os.path.exists(f"/proc/{pid}"), f"the Redis process {pid} is gone")
    os.kill(pid, sig)


def guardrail_timeout_504(target: Target) -> str:
    """The guardrail answers after 30 s: the request fails closed (no model call) with 504 and a message
    saying the content check timed out, after the guardrail's timeout, not after 30 s."""
    require_local(target, "the emulator's fault API is needed to slow the guardrail down")
    alias = _chat_with_fallback(target)[0].alias
    model_ids = {m.model_id for m in target.environment.models}
    before = stats(target)
    with _faults(target, {"guardrail": True, "latency_ms": 30_000}):
        response, seconds = _post_chat(target, alias, "guardrail-slow")
    error = openai_error(response, {503, 504})
    ensure(
        "timed out" in error["message"].lower() and "content check" in error["message"].lower(),
        f"the message does not say the content check timed out: {error['message']!r}",
    )
    model_calls = _calls(stats(target), model_ids)[0] - _calls(before, model_ids)[0]
    ensure(model_calls == 0, f"the model was called {model_calls} time(s) although the check never answered")
    figure = _within(seconds, GUARDRAIL_TIMEOUT_S + 1, "guardrail timeout answer")
    return f"{response.status_code} {error['message']!r}; {figure}; the model was not called"


def rows() -> list[Callable[[Target], str]]:
    """Every row of this module, in the order they run."""
    return [
        fallback_answer_names_the_alias,
        throttled_model_falls_back_fast,
        all_models_down_503,
        redis_hung_costs_under_a_second,
        guardrail_timeout_504,
    ]
