"""`python -m gateway.perf.ttft` (`nox -s ttft`): is a streamed answer held back by the gateway?

    python -m gateway.perf.ttft [--requests 20] [--max-tokens 200] [--alias nova-pro]
                                [--latency realistic] [--enforce] [--reports reports/ttft]

Starts a local stack (full configuration, the emulator's realistic profile unless
`--latency instant`) and makes the same streamed call three ways, interleaved so
machine noise hits them alike:

- direct: ConverseStream to the emulator with boto3 (what the model itself costs);
- guardrail: one ApplyGuardrail round trip with the prompt (what the INPUT check costs);
- gateway: the official `openai` SDK, `stream=True`, through LiteLLM with the guardrail on.

For each it records time to first token (TTFT: the first chunk carrying text), the
total, and for streams the spread between the first and the last text chunk: an
answer released in one piece after an OUTPUT check of the whole text has a TTFT
close to its total and a spread near zero. The issue-19 target is gateway TTFT
p50 <= direct p50 + guardrail p50 + 25 ms and p95 <= direct p95 + guardrail p50 + 60 ms;
`--enforce` exits 1 when it is missed. Writes summary.json under `--reports`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from gateway.devstack.target import run_stack_command, strip_separator
from gateway.emulator.latency import REALISTIC, add_latency_argument

REPORTS = Path("reports/ttft")
PROMPT = "Please give a long answer about the history of the gateway."


def prompt() -> str:
    """The prompt with a fresh nonce: the gateway's response cache must never answer instead of the model."""
    return f"{PROMPT} (request {uuid.uuid4().hex})"


TARGET_P50_SLACK_MS = 25.0
TARGET_P95_SLACK_MS = 60.0


@dataclass(frozen=True)
class Sample:
    ttft_ms: float
    total_ms: float
    spread_ms: float  # first to last text chunk
    text_chunks: int
    # Gateway calls: when the emulator answered the INPUT check and sent the model's first token.
    input_check_done_ms: float | None = None
    model_first_token_ms: float | None = None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gateway.perf.ttft", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="calls per path (default 20)")
    parser.add_argument("--max-tokens", type=int, default=200, help="answer length in tokens (default 200)")
    parser.add_argument("--alias", default="nova-pro", help="chat alias to call (default nova-pro)")
    parser.add_argument("--reports", type=Path, default=REPORTS, help="output folder (default reports/ttft)")
    parser.add_argument("--enforce", action="store_true", help="exit 1 when the TTFT target is missed")
    add_latency_argument(parser, default=REALISTIC)
    args = parser.parse_args(argv)
    if args.requests < 2 or args.max_tokens < 1:
        parser.error("--requests must be >= 2 and --max-tokens >= 1")
    return args


def _timed_stream(pieces: Callable[[], object]) -> Sample:
    """Time an iterator of text pieces (None for chunks without text) from the call to its end."""
    began = time.perf_counter()
    first = last = None
    chunks = 0
    for text in pieces():
        if text:
            last = time.perf_counter()
            first = first or last
            chunks += 1
    end = time.perf_counter()
    if first is None or last is None:
        raise RuntimeError("the stream carried no text")
    return Sample((first - began) * 1000, (end - began) * 1000, (last - first) * 1000, chunks)


def direct_stream(client, model_id: str, max_tokens: int) -> Callable[[], Sample]:
    def call() -> Sample:
        def pieces():
            reply = client.converse_stream(
                modelId=model_id,
                messages=[{"role": "user", "content": [{"text": prompt()}]}],
                inferenceConfig={"maxTokens": max_tokens},
            )
            for event in reply["stream"]:
                yield event.get("contentBlockDelta", {}).get("delta", {}).get("text")

        return _timed_stream(pieces)

    return call


def guardrail_round_trip(client, guardrail_id: str, version: str) -> Callable[[], Sample]:
    def call() -> Sample:
        began = time.perf_counter()
        client.apply_guardrail(
            guardrailIdentifier=guardrail_id, guardrailVersion=version, source="INPUT",
            content=[{"text": {"text": prompt()}}],
        )  # fmt: skip
        elapsed = (time.perf_counter() - began) * 1000
        return Sample(elapsed, elapsed, 0.0, 0)

    return call


def emulator_calls_since(emulator_url: str, since: float) -> list[dict]:
    """The emulator's recent calls after `since` (its clock is this machine's), oldest first."""
    with urllib.request.urlopen(f"{emulator_url}/_emulator/stats", timeout=10) as reply:  # noqa: S310 - local
        return [call for call in json.load(reply)["recent"] if call["time"] > since]


def gateway_stream(client, alias: str, max_tokens: int, emulator_url: str) -> Callable[[], Sample]:
    """A streamed call through the gateway, with the profile of where its first token's time went."""

    def call() -> Sample:
        began = time.time()
        sample = streamed()
        calls = emulator_calls_since(emulator_url, began)
        guard = next((c["time"] for c in calls if c["operation"] == "ApplyGuardrail"), None)
        model = next((c["time"] for c in calls if c["operation"] == "ConverseStream"), None)
        return replace(
            sample,
            input_check_done_ms=None if guard is None else (guard - began) * 1000,
            model_first_token_ms=None if model is None else (model - began) * 1000,
        )

    def streamed() -> Sample:
        def pieces():
            stream = client.chat.completions.create(
                model=alias,
                messages=[{"role": "user", "content": prompt()}],
                max_tokens=max_tokens,
                stream=True,
            )
            for chunk in stream:
                yield chunk.choices[0].delta.content if chunk.choices else None

        return _timed_stream(pieces)

    return call


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summarize(samples: list[Sample]) -> dict[str, float]:
    ttft = [s.ttft_ms for s in samples]
    profile = {
        f"{name}_p50_ms": round(statistics.median(values), 1)
        for name in ("input_check_done", "model_first_token")
        if (values := [v for s in samples if (v := getattr(s, f"{name}_ms")) is not None])
    }
    return {
        **profile,
        "n": len(samples),
        "ttft_p50_ms": round(statistics.median(ttft), 1),
        "ttft_p95_ms": round(percentile(ttft, 0.95), 1),
        "total_p50_ms": round(statistics.median(s.total_ms for s in samples), 1),
        "spread_p50_ms": round(statistics.median(s.spread_ms for s in samples), 1),
        "text_chunks_p50": statistics.median(s.text_chunks for s in samples),
    }


def verdict(summary: dict[str, dict[str, float]]) -> dict[str, object]:
    """The issue-19 target against this run's direct and guardrail figures."""
    direct, guardrail, gateway = summary["direct"], summary["guardrail"], summary["gateway"]
    limit_p50 = direct["ttft_p50_ms"] + guardrail["ttft_p50_ms"] + TARGET_P50_SLACK_MS
    limit_p95 = direct["ttft_p95_ms"] + guardrail["ttft_p50_ms"] + TARGET_P95_SLACK_MS
    return {
        "limit_p50_ms": round(limit_p50, 1),
        "limit_p95_ms": round(limit_p95, 1),
        "added_p50_ms": round(gateway["ttft_p50_ms"] - direct["ttft_p50_ms"], 1),
        "added_p95_ms": round(gateway["ttft_p95_ms"] - direct["ttft_p95_ms"], 1),
        "met": gateway["ttft_p50_ms"] <= limit_p50 and gateway["ttft_p95_ms"] <= limit_p95,
    }


def model_id_of(environment, alias: str) -> str:
    """The first Bedrock model behind `alias` in the stack's catalogue (the one the gateway tries first)."""
    for model in environment.models:
        if model.alias == alias:
            return model.model_id
    raise SystemExit(f"alias {alias!r} is not in the environment's model catalogue")


def measure(args: argparse.Namespace) -> int:
    import boto3
    import openai
    from botocore.config import Config

    from gateway.devstack import LocalStack
    from gateway.devstack.stack import LOCAL_GUARDRAIL_ID, LOCAL_GUARDRAIL_VERSION

    with LocalStack(variant="full", latency=args.latency) as stack:
        emulator = stack.emulator
        bedrock = boto3.client(
            "bedrock-runtime",
            endpoint_url=stack.emulator_url,
            region_name=stack.environment.region,
            aws_access_key_id=emulator.access_key,
            aws_secret_access_key=emulator.secret_key,
            config=Config(retries={"max_attempts": 1}),
        )
        gateway = openai.OpenAI(base_url=f"{stack.proxy_url}/v1", api_key=stack.master_key, max_retries=0)
        paths = {
            "direct": direct_stream(bedrock, model_id_of(stack.environment, args.alias), args.max_tokens),
            "guardrail": guardrail_round_trip(bedrock, LOCAL_GUARDRAIL_ID, LOCAL_GUARDRAIL_VERSION),
            "gateway": gateway_stream(gateway, args.alias, args.max_tokens, stack.emulator_url),
        }
        for call in paths.values():  # warm-up: connections, LiteLLM's first-call imports
            call()
        samples: dict[str, list[Sample]] = {name: [] for name in paths}
        for index in range(args.requests):
            for name, call in paths.items():
                samples[name].append(call())
            print(f"\r{index + 1}/{args.requests} rounds", end="", flush=True)
        print()
    summary = {name: summarize(values) for name, values in samples.items()}
    result = {
        "latency_profile": args.latency,
        "alias": args.alias,
        "max_tokens": args.max_tokens,
        "summary": summary,
        "target": verdict(summary),
        "samples": {name: [asdict(s) for s in values] for name, values in samples.items()},
    }
    args.reports.mkdir(parents=True, exist_ok=True)
    (args.reports / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    print(report(result))
    return 1 if args.enforce and not result["target"]["met"] else 0


def report(result: dict[str, object]) -> str:
    summary, target = result["summary"], result["target"]
    lines = [
        f"time to first token, {result['alias']}, {result['max_tokens']}-token answers, "
        f"latency profile {result['latency_profile']}",
        f"{'path':<10} {'n':>3} {'TTFT p50':>9} {'TTFT p95':>9} {'total p50':>10} {'spread p50':>11} "
        f"{'chunks':>6}",
    ]
    for name, s in summary.items():
        lines.append(
            f"{name:<10} {s['n']:>3} {s['ttft_p50_ms']:>9.1f} {s['ttft_p95_ms']:>9.1f} "
            f"{s['total_p50_ms']:>10.1f} {s['spread_p50_ms']:>11.1f} {s['text_chunks_p50']:>6}"
        )
    gateway = summary["gateway"]
    if "model_first_token_p50_ms" in gateway:
        lines.append(
            f"gateway profile (p50, from the request's start): INPUT check answered at "
            f"{gateway['input_check_done_p50_ms']} ms, the model's first token sent at "
            f"{gateway['model_first_token_p50_ms']} ms, the client's first token at "
            f"{gateway['ttft_p50_ms']} ms"
        )
    lines.append(
        f"target: gateway TTFT p50 <= {target['limit_p50_ms']} ms and p95 <= {target['limit_p95_ms']} ms "
        f"(added over direct: p50 {target['added_p50_ms']} ms, p95 {target['added_p95_ms']} ms): "
        + ("met" if target["met"] else "MISSED")
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(strip_separator(list(sys.argv[1:] if argv is None else argv)))
    return run_stack_command(measure, args)


if __name__ == "__main__":
    sys.exit(main())
