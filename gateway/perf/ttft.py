"""`python -m gateway.perf.ttft` (`nox -s ttft`): is a streamed answer held back by the gateway?

    python -m gateway.perf.ttft [--requests 20] [--max-tokens 200] [--alias nova-pro]
                                [--latency realistic] [--enforce] [--reports reports/ttft]

Starts a local stack (full configuration, the emulator's realistic profile unless
`--latency instant`) and makes the same streamed call three ways, interleaved so
machine noise hits them alike, for two answers: a long one (the emulator's "long answer"
trigger, `--max-tokens` tokens) and the bench's short one (its question, 64 tokens at most;
a short answer ends before the OUTPUT check's first window fills, issue 19.2):

- direct: ConverseStream to the emulator with boto3 (what the model itself costs);
- guardrail: one ApplyGuardrail round trip with the prompt (what the INPUT check costs);
- gateway: the official `openai` SDK, `stream=True`, through LiteLLM with the guardrail on.

For each it records time to first token (TTFT: the first chunk carrying text), the
total, and for streams the spread between the first and the last text chunk: an
answer released in one piece after an OUTPUT check of the whole text has a TTFT
close to its total and a spread near zero. The issue-19 target, for each answer, is gateway
TTFT p50 <= direct p50 + guardrail p50 + 25 ms and p95 <= direct p95 + guardrail p50 + 60 ms;
`--enforce` exits 1 when either answer misses it. Writes summary.json under `--reports`.
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
from gateway.perf import bench_report
from gateway.perf.bench_load import MAX_TOKENS as SHORT_MAX_TOKENS
from gateway.perf.bench_load import QUESTION as SHORT_PROMPT

REPORTS = Path("reports/ttft")
LONG_PROMPT = "Please give a long answer about the history of the gateway."


@dataclass(frozen=True)
class Answer:
    """One kind of answer the run times: its prompt (a nonce is added per call) and max tokens."""

    prompt: str
    max_tokens: int

    def fresh_prompt(self) -> str:
        """A fresh nonce per call: the gateway's response cache must never answer instead of the model."""
        return f"{self.prompt} (request {uuid.uuid4().hex})"


def answers(long_max_tokens: int) -> dict[str, Answer]:
    """The long answer (streams for seconds) and the bench's short one (64 tokens at most)."""
    return {"long": Answer(LONG_PROMPT, long_max_tokens), "short": Answer(SHORT_PROMPT, SHORT_MAX_TOKENS)}


TARGET_P50_SLACK_MS = bench_report.TTFT_P50_SLACK_MS
TARGET_P95_SLACK_MS = bench_report.TTFT_P95_SLACK_MS


@dataclass(frozen=True)
class Sample:
    ttft_ms: float
    total_ms: float
    spread_ms: float  # first to last text chunk
    text_chunks: int
    # Gateway calls, from the emulator's call log: when the INPUT check arrived and was answered, when the
    # model call arrived and its first token left.
    input_check_done_ms: float | None = None
    model_first_token_ms: float | None = None
    input_check_sent_ms: float | None = None
    model_called_ms: float | None = None

    def segments(self) -> dict[str, float]:
        """Where a gateway call's time to first token went, part by part (empty without the call log)."""
        marks = (self.input_check_sent_ms, self.input_check_done_ms, self.model_called_ms)
        if None in marks or self.model_first_token_ms is None:
            return {}
        sent, done, called = marks
        return {
            "proxy_before_check": sent,
            "check": done - sent,
            "proxy_before_model": called - done,
            "model_ttft": self.model_first_token_ms - called,
            "to_client": self.ttft_ms - self.model_first_token_ms,
        }

    def proxy_own_ms(self) -> float | None:
        """The proxy's three parts of this call's time to first token (None without the call log)."""
        parts = self.segments()
        return sum(parts[name] for name in PROXY_PARTS) if parts else None


# The parts that are the proxy's own work (the rest is the guardrail's and the model's time).
PROXY_PARTS = ("proxy_before_check", "proxy_before_model", "to_client")
# What each segment of Sample.segments() is, in the report's words.
SEGMENTS = {
    "proxy_before_check": "proxy before the INPUT check",
    "check": "the check",
    "proxy_before_model": "proxy from its verdict to the model call",
    "model_ttft": "the model's own TTFT",
    "to_client": "first token to the client",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gateway.perf.ttft", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="calls per path (default 20)")
    parser.add_argument(
        "--max-tokens", type=int, default=200, help="the long answer's length in tokens (default 200)"
    )
    parser.add_argument("--alias", default="nova-pro", help="chat alias to call (default nova-pro)")
    parser.add_argument("--reports", type=Path, default=REPORTS, help="output folder (default reports/ttft)")
    parser.add_argument(
        "--enforce", action="store_true", help="exit 1 when either answer misses the TTFT target"
    )
    add_latency_argument(parser, default=REALISTIC)
    args = parser.parse_args(argv)
    if args.requests < 2 or args.max_tokens < 1:
        parser.error("--requests must be >= 2 and --max-tokens >= 1")
    return args


def _timed_stream(
    pieces: Callable[[], object], clock: Callable[[], float] = time.perf_counter, began: float | None = None
) -> Sample:
    """Time an iterator of text pieces (None for chunks without text) from the call to its end.

    A gateway call passes the wall clock and its start, so its marks and the emulator's share one clock.
    """
    began = clock() if began is None else began
    first = last = None
    chunks = 0
    for text in pieces():
        if text:
            last = clock()
            first = first or last
            chunks += 1
    end = clock()
    if first is None or last is None:
        raise RuntimeError("the stream carried no text")
    return Sample((first - began) * 1000, (end - began) * 1000, (last - first) * 1000, chunks)


def direct_stream(client, model_id: str, answer: Answer) -> Callable[[], Sample]:
    def call() -> Sample:
        def pieces():
            reply = client.converse_stream(
                modelId=model_id,
                messages=[{"role": "user", "content": [{"text": answer.fresh_prompt()}]}],
                inferenceConfig={"maxTokens": answer.max_tokens},
            )
            for event in reply["stream"]:
                yield event.get("contentBlockDelta", {}).get("delta", {}).get("text")

        return _timed_stream(pieces)

    return call


def guardrail_round_trip(client, guardrail_id: str, version: str, answer: Answer) -> Callable[[], Sample]:
    def call() -> Sample:
        began = time.perf_counter()
        client.apply_guardrail(
            guardrailIdentifier=guardrail_id, guardrailVersion=version, source="INPUT",
            content=[{"text": {"text": answer.fresh_prompt()}}],
        )  # fmt: skip
        elapsed = (time.perf_counter() - began) * 1000
        return Sample(elapsed, elapsed, 0.0, 0)

    return call


def emulator_recent_calls(emulator_url: str) -> list[dict]:
    """The emulator's last calls, oldest first (its clock is this machine's; call_marks picks a call's)."""
    with urllib.request.urlopen(f"{emulator_url}/_emulator/stats", timeout=10) as reply:  # noqa: S310 - local
        return json.load(reply)["recent"]


def call_marks(calls: list[dict], began: float) -> dict[str, float]:
    """One gateway call's marks (ms from `began`) from the emulator's log, or none when they do not fit.

    The tool's calls are sequential on their own stack, so the first INPUT check and the first model
    call that arrived after `began` are this call's. They fit when the check was answered before the
    model was called, as the gateway orders them; anything else (a retry, foreign traffic) is left out
    rather than split wrongly.
    """
    arrived = [c for c in calls if "received" in c and c["received"] >= began]
    guard = next((c for c in arrived if c["operation"] == "ApplyGuardrail"), None)
    model = next((c for c in arrived if c["operation"] == "ConverseStream"), None)
    if guard is None or model is None or guard["time"] > model["received"]:
        return {}
    return {
        "input_check_sent_ms": (guard["received"] - began) * 1000,
        "input_check_done_ms": (guard["time"] - began) * 1000,
        "model_called_ms": (model["received"] - began) * 1000,
        "model_first_token_ms": (model["time"] - began) * 1000,
    }


def gateway_stream(client, alias: str, answer: Answer, emulator_url: str) -> Callable[[], Sample]:
    """A streamed call through the gateway, with the profile of where its first token's time went."""

    def call() -> Sample:
        began = time.time()
        sample = streamed(began)
        return replace(sample, **call_marks(emulator_recent_calls(emulator_url), began))

    def streamed(began: float) -> Sample:
        def pieces():
            stream = client.chat.completions.create(
                model=alias,
                messages=[{"role": "user", "content": answer.fresh_prompt()}],
                max_tokens=answer.max_tokens,
                stream=True,
            )
            for chunk in stream:
                yield chunk.choices[0].delta.content if chunk.choices else None

        return _timed_stream(pieces, clock=time.time, began=began)

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
    split = [segments for s in samples if (segments := s.segments())]
    if split:
        # Medians of parts do not add up to the median whole; the proxy's own share is also taken per call.
        own = [v for s in samples if (v := s.proxy_own_ms()) is not None]
        profile["segments_p50_ms"] = {
            name: round(statistics.median(parts[name] for parts in split), 1) for name in SEGMENTS
        }
        profile["proxy_own_p50_ms"] = round(statistics.median(own), 1)
        profile["proxy_own_p95_ms"] = round(percentile(own, 0.95), 1)
        profile["split_n"] = len(split)
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
    """The issue-19 target for one answer, against this run's direct and guardrail figures for it."""
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
        model_id = model_id_of(stack.environment, args.alias)
        kinds = answers(args.max_tokens)
        paths = {
            (kind, path): call
            for kind, answer in kinds.items()
            for path, call in (
                ("direct", direct_stream(bedrock, model_id, answer)),
                (
                    "guardrail",
                    guardrail_round_trip(bedrock, LOCAL_GUARDRAIL_ID, LOCAL_GUARDRAIL_VERSION, answer),
                ),
                ("gateway", gateway_stream(gateway, args.alias, answer, stack.emulator_url)),
            )
        }
        for call in paths.values():  # warm-up: connections, LiteLLM's first-call imports
            call()
        samples: dict[tuple[str, str], list[Sample]] = {key: [] for key in paths}
        for index in range(args.requests):
            for key, call in paths.items():
                samples[key].append(call())
            print(f"\r{index + 1}/{args.requests} rounds", end="", flush=True)
        print()
    summary = {
        kind: {path: summarize(values) for (k, path), values in samples.items() if k == kind}
        for kind in kinds
    }
    targets = {kind: verdict(paths_summary) for kind, paths_summary in summary.items()}
    result = {
        "latency_profile": args.latency,
        "alias": args.alias,
        "answers": {kind: asdict(answer) for kind, answer in kinds.items()},
        "summary": summary,
        "target": {**targets, "met": all(t["met"] for t in targets.values())},
        "samples": {
            kind: {path: [asdict(s) for s in values] for (k, path), values in samples.items() if k == kind}
            for kind in kinds
        },
    }
    args.reports.mkdir(parents=True, exist_ok=True)
    (args.reports / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    print(report(result))
    return 1 if args.enforce and not result["target"]["met"] else 0


def report(result: dict[str, object]) -> str:
    """The table (each answer's direct, guardrail and gateway rows together), profiles and verdicts."""
    lengths = ", ".join(f"{kind} {a['max_tokens']}" for kind, a in result["answers"].items())
    lines = [
        f"time to first token, {result['alias']}, answers of at most {lengths} tokens, "
        f"latency profile {result['latency_profile']}",
        f"{'answer':<6} {'path':<10} {'n':>3} {'TTFT p50':>9} {'TTFT p95':>9} {'total p50':>10} "
        f"{'spread p50':>11} {'chunks':>6}",
    ]
    for kind, paths in result["summary"].items():
        for name, s in paths.items():
            lines.append(
                f"{kind:<6} {name:<10} {s['n']:>3} {s['ttft_p50_ms']:>9.1f} {s['ttft_p95_ms']:>9.1f} "
                f"{s['total_p50_ms']:>10.1f} {s['spread_p50_ms']:>11.1f} {s['text_chunks_p50']:>6}"
            )
    for kind, paths in result["summary"].items():
        gateway, target = paths["gateway"], result["target"][kind]
        if "model_first_token_p50_ms" in gateway:
            lines.append(
                f"{kind} answer, gateway profile (p50, from the request's start): INPUT check answered at "
                f"{gateway['input_check_done_p50_ms']} ms, the model's first token sent at "
                f"{gateway['model_first_token_p50_ms']} ms, the client's first token at "
                f"{gateway['ttft_p50_ms']} ms"
            )
        if "segments_p50_ms" in gateway:
            parts = gateway["segments_p50_ms"]
            lines.append(
                f"{kind} answer, split ({gateway['split_n']} of {gateway['n']} calls; p50 of each part, "
                "which do not add up to the TTFT p50): "
                + "; ".join(f"{SEGMENTS[name]} {parts[name]} ms" for name in SEGMENTS)
            )
            lines.append(
                f"{kind} answer, the proxy's own parts summed per call (before the check, verdict to model "
                f"call, first token to client): p50 {gateway['proxy_own_p50_ms']} ms, "
                f"p95 {gateway['proxy_own_p95_ms']} ms"
            )
        lines.append(
            f"{kind} answer, target: gateway TTFT p50 <= {target['limit_p50_ms']} ms and p95 <= "
            f"{target['limit_p95_ms']} ms (added over direct: p50 {target['added_p50_ms']} ms, "
            f"p95 {target['added_p95_ms']} ms): " + ("met" if target["met"] else "MISSED")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(strip_separator(list(sys.argv[1:] if argv is None else argv)))
    return run_stack_command(measure, args)


if __name__ == "__main__":
    sys.exit(main())
