"""Every request leaves a whole trace in Phoenix (request, guardrail runs, model call with its token
counts), read back through Phoenix's REST API."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping

import httpx

from gateway.smoke.checks.common import chat_text, ensure, require_local
from gateway.smoke.runner import CheckFailed
from gateway.smoke.target import Target

# Spans are exported in batches (OpenTelemetry's BatchSpanProcessor waits up to 5 s by default).
TRACE_TIMEOUT = 45.0


def trace_in_phoenix(target: Target) -> str:
    """The request's trace reaches Phoenix whole: the model call with its token counts, inside a
    request span, beside the guardrail's runs."""
    local = require_local(
        target,
        "reading traces back needs the local Phoenix (a deployed gateway's Phoenix is checked in its UI)",
    )
    alias = target.environment.aliases("chat")[0]
    marker = target.nonce("trace")
    response, _ = chat_text(target, alias, f"Trace this request ({marker})")
    expected_prompt = response.usage.prompt_tokens
    deadline = time.monotonic() + TRACE_TIMEOUT
    spans: list[dict] = []
    marked: list[str] = []
    missing = "the model call"
    while time.monotonic() < deadline:
        spans = _spans(local.phoenix_url, local.phoenix_project)
        marked = [str(span.get("name")) for span in spans if marker in json.dumps(span.get("attributes", {}))]
        call = next((span for span in spans if _is_call_for(span, marker)), None)
        if call is not None:
            attributes = _flatten(call.get("attributes", {}))
            prompt, completion = (
                attributes["llm.token_count.prompt"],
                attributes["llm.token_count.completion"],
            )
            ensure(
                int(prompt) > 0 and int(completion) > 0,
                f"zero token counts in the span: {prompt}/{completion}",
            )
            trace_id = call.get("context", {}).get("trace_id")
            trace = [span for span in spans if span.get("context", {}).get("trace_id") == trace_id]
            kinds = Counter(str(span.get("span_kind")) for span in trace)
            missing = ", ".join(kind for kind in ("CHAIN", "GUARDRAIL") if not kinds[kind])
            if not missing:
                return (
                    f"trace in project {local.phoenix_project!r}: {kinds['CHAIN']} request, "
                    f"{kinds['GUARDRAIL']} guardrail and {kinds['LLM']} model-call span(s); "
                    f"{call.get('name')!r}: {prompt} prompt + {completion} completion tokens "
                    f"(gateway said {expected_prompt} prompt)"
                )
        time.sleep(1.0)
    newest = ", ".join(repr(span.get("name")) for span in spans[:4]) or "none"
    raise CheckFailed(
        f"the request's trace was incomplete after {TRACE_TIMEOUT:.0f} s, missing: {missing} "
        f"({len(spans)} spans in project {local.phoenix_project!r}; with the request's marker: "
        f"{', '.join(marked) or 'none'}; newest: {newest})"
    )


def _is_call_for(span: Mapping, marker: str) -> bool:
    """The model-call span of the marked request: it carries the prompt and both token counts."""
    attributes = _flatten(span.get("attributes", {}))
    return (
        marker in json.dumps(attributes)
        and attributes.get("llm.token_count.prompt") is not None
        and attributes.get("llm.token_count.completion") is not None
    )


def _spans(phoenix_url: str, project: str) -> list[dict]:
    response = httpx.get(
        f"{phoenix_url}/v1/projects/{project}/spans", params={"limit": 200}, timeout=10, trust_env=False
    )
    if response.status_code == 404:
        return []  # the project appears with its first span
    response.raise_for_status()
    return response.json().get("data", [])


def _flatten(value: Mapping, prefix: str = "") -> dict[str, object]:
    """Phoenix may return attributes nested (`llm: {token_count: …}`) or dotted; compare them dotted."""
    flat: dict[str, object] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            flat.update(_flatten(item, f"{name}."))
        else:
            flat[name] = item
    return flat
