"""What tracing one request to Phoenix costs: gateway/hooks' callback against LiteLLM's `arize_phoenix`.

    python -m gateway.perf.tracing_cost [--requests 2000] [--calls 400] [--rounds 3]

The proxy benchmark prices tracing as a whole, within ±2 ms of noise on a
shared machine; this tool times the two callbacks alone, in one process, on
the same call: LiteLLM (offline, mock response) builds a real logging payload
for a chat request through the proxy (caller metadata, proxy request, the
guardrail's pre- and post-call entries), then each callback records it N
times. Reported per request: CPU of the thread running the success handler
(the event loop's, in the proxy), and what the export thread then does
(spans, protobuf encoding CPU, bytes sent to Phoenix). Both export to an
exporter that only encodes, so no network. A second table runs mock chat calls
through LiteLLM with no callback, then each one, and reports the whole
process's CPU per call: the callback's full price, dispatch and GC included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

WARM_UP_CALLS = 20  # mock calls before the timed ones (imports, caches, first-call setup)
MODEL = "bedrock/amazon.nova-pro-v1:0"
QUESTION = "Summarise our refund policy for a customer who bought a laptop 40 days ago."
CALLBACK_LISTS = (
    "callbacks",
    "success_callback",
    "_async_success_callback",
    "failure_callback",
    "_async_failure_callback",
)
ANSWER = "Refunds are accepted within 30 days; after that the warranty covers repairs, not refunds."


@dataclass(frozen=True)
class Cost:
    label: str
    request_ms: float  # CPU per request in the success handler (on the event loop)
    spans: float  # spans exported per request
    encode_ms: float  # CPU per request spent encoding spans for OTLP (export thread)
    bytes: float  # OTLP payload per request


class EncodingExporter:
    """A span exporter that encodes like the OTLP exporter and counts, but sends nothing."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.spans = 0
        self.cpu_s = 0.0
        self.bytes = 0

    def export(self, spans):
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
        from opentelemetry.sdk.trace.export import SpanExportResult

        started = time.thread_time()
        self.bytes += len(encode_spans(spans).SerializeToString())
        self.cpu_s += time.thread_time() - started
        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def guardrail_run(mode: str, status: str, started: float) -> dict[str, Any]:
    return {
        "guardrail_name": "bedrock-guardrail",
        "guardrail_provider": "bedrock",
        "guardrail_mode": mode,
        "guardrail_status": status,
        "guardrail_response": {"action": "NONE", "outputs": [], "assessments": []},
        "start_time": started,
        "end_time": started + 0.004,
        "duration": 0.004,
    }


@contextlib.contextmanager
def only_callbacks(*callbacks: Any) -> Iterator[None]:
    """LiteLLM's global callback lists holding just `callbacks`, put back as they were afterwards.

    LiteLLM registers callbacks globally (per-call ones too) and skips a later one whose
    class it has seen, so every measurement sets the lists itself and restores them.
    """
    import litellm

    saved = {name: list(getattr(litellm, name)) for name in CALLBACK_LISTS}
    try:
        for name in CALLBACK_LISTS:
            getattr(litellm, name)[:] = []
        litellm.callbacks[:] = callbacks
        yield
    finally:
        for name, registered in saved.items():
            getattr(litellm, name)[:] = registered


def logged_call() -> tuple[dict, Any, Any, Any]:
    """LiteLLM's success-callback arguments for one proxied chat call (offline, mock response)."""
    import litellm
    from litellm.integrations.custom_logger import CustomLogger

    captured: list[tuple[dict, Any, Any, Any]] = []

    class Capture(CustomLogger):
        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
            captured.append((kwargs, response_obj, start_time, end_time))

    async def call() -> None:
        await litellm.acompletion(
            model=MODEL,
            messages=[
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": QUESTION},
            ],
            mock_response=ANSWER,
            metadata={"user_api_key_alias": "support-bot", "user_api_key_team_id": "team-support"},
            proxy_server_request={"url": "/v1/chat/completions", "method": "POST", "headers": {}, "body": {}},
        )
        for _ in range(100):
            if captured:
                return
            await asyncio.sleep(0.01)

    with only_callbacks(Capture()):
        asyncio.run(call())
    if not captured:
        raise RuntimeError("LiteLLM logged no success event for the mock call")
    kwargs, response, start, end = captured[0]
    payload = kwargs["standard_logging_object"]
    payload["guardrail_information"] = [
        guardrail_run("pre_call", "success", payload["startTime"]),
        guardrail_run("post_call", "success", payload["endTime"] - 0.005),
    ]
    return kwargs, response, start, end


def measure(
    label: str, record: Callable[[], None], flush: Callable[[], Any], exporter, requests: int
) -> Cost:
    for _ in range(20):
        record()  # warm-up: first-call imports and caches
    flush()
    exporter.reset()
    started = time.thread_time()  # this thread only: the export thread is counted by the exporter
    for _ in range(requests):
        record()
    request_s = time.thread_time() - started
    flush()
    return Cost(
        label=label,
        request_ms=request_s / requests * 1000,
        spans=exporter.spans / requests,
        encode_ms=exporter.cpu_s / requests * 1000,
        bytes=exporter.bytes / requests,
    )


def tracers() -> tuple[Any, EncodingExporter, Any, EncodingExporter]:
    """Both callbacks, each with its own encoding exporter: (ours, its exporter, LiteLLM's, its exporter)."""
    from litellm.integrations.arize.arize_phoenix import ArizePhoenixLogger
    from litellm.integrations.opentelemetry import OpenTelemetryConfig
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from gateway.hooks.phoenix_tracing import PhoenixTracing, tracer_provider

    ours_exporter, stock_exporter = EncodingExporter(), EncodingExporter()
    # The gateway's own provider (as from_environment builds it), only the exporter differs.
    provider = tracer_provider(BatchSpanProcessor(ours_exporter), "tracing-cost")
    ours = PhoenixTracing(provider, record_messages=lambda: True)
    stock = ArizePhoenixLogger(
        config=OpenTelemetryConfig(exporter=stock_exporter), callback_name="arize_phoenix"
    )
    return ours, ours_exporter, stock, stock_exporter


def measure_both(call: tuple[dict, Any, Any, Any], requests: int) -> list[Cost]:
    kwargs, response, start, end = call
    ours, ours_exporter, stock, stock_exporter = tracers()
    return [
        measure(
            "gateway/hooks",
            lambda: ours._trace(kwargs, None),
            ours.tracer_provider.force_flush,
            ours_exporter,
            requests,
        ),
        measure(
            "litellm arize_phoenix",
            lambda: stock._handle_success(kwargs, response, start, end),
            stock.flush_tracer_providers,
            stock_exporter,
            requests,
        ),
    ]


def through_litellm(callback: Any | None, calls: int) -> float:
    """Process CPU ms per mock chat call with only `callback` registered (None: no callback).

    Whole-process CPU (every thread: LiteLLM's logging tasks, the export thread), so it
    includes what the in-process figures leave out: dispatch, payload building, GC.
    """
    import litellm

    async def run(n: int) -> None:
        for i in range(n):
            await litellm.acompletion(
                model=MODEL,
                messages=[{"role": "user", "content": f"{QUESTION} ({i})"}],
                mock_response=ANSWER,
                metadata={"user_api_key_alias": "support-bot"},
            )
        await asyncio.sleep(0.2)  # let the last success handlers finish inside the measurement

    with only_callbacks(*([callback] if callback is not None else [])):
        asyncio.run(run(WARM_UP_CALLS))
        started = _process_cpu_s()
        asyncio.run(run(calls))
        return (_process_cpu_s() - started) / calls * 1000


def _process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.perf.tracing_cost", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--requests", type=int, default=2000, help="requests recorded per callback (default 2000)"
    )
    parser.add_argument(
        "--calls", type=int, default=400, help="mock LiteLLM calls per callback, second table (default 400)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds, alternating the callbacks (default 3)")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.rounds < 1 or args.calls < 1:
        parser.error("--requests, --calls and --rounds must be at least 1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # offline: LiteLLM's bundled prices
    # The batch processors hold every span of a round: a full queue would drop spans, not time them.
    os.environ["OTEL_BSP_MAX_QUEUE_SIZE"] = str(max(args.requests, args.calls) * 8 + 1000)
    call = logged_call()
    print(f"[1/2] the callbacks alone, {args.requests} requests per callback and round (CPU, one process)")
    print(f"{'round':>5}  {'callback':<22} {'request ms':>10} {'spans':>6} {'encode ms':>9} {'bytes':>7}")
    for round_ in range(1, args.rounds + 1):
        for cost in measure_both(call, args.requests):
            print(
                f"{round_:>5}  {cost.label:<22} {cost.request_ms:>10.3f} {cost.spans:>6.1f} "
                f"{cost.encode_ms:>9.3f} {cost.bytes:>7.0f}"
            )
        sys.stdout.flush()
    print(f"[2/2] through LiteLLM's logging, {args.calls} mock calls each (process CPU ms per call)")
    print(f"{'round':>5}  {'no callback':>12} {'gateway/hooks':>16} {'litellm arize_phoenix':>22}")
    labels = ("none", "ours", "stock")
    added: dict[str, list[float]] = {"ours": [], "stock": []}
    for round_ in range(1, args.rounds + 1):
        ours, _, stock, _ = tracers()
        callbacks = {"none": None, "ours": ours, "stock": stock}
        turn = (round_ - 1) % len(labels)
        order = labels[turn:] + labels[:turn]  # rotated: LiteLLM's own cost drifts upward over a run
        ms = {label: through_litellm(callbacks[label], args.calls) for label in order}
        for label in added:
            added[label].append(ms[label] - ms["none"])
        print(
            f"{round_:>5}  {ms['none']:>12.2f} {ms['ours']:>8.2f} ({ms['ours'] - ms['none']:+.2f}) "
            f"{ms['stock']:>14.2f} ({ms['stock'] - ms['none']:+.2f})"
        )
        sys.stdout.flush()
    print(
        f"median added per call: gateway/hooks {statistics.median(added['ours']):+.2f} ms, "
        f"litellm arize_phoenix {statistics.median(added['stock']):+.2f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
