"""Every request leaves a trace in Phoenix with its token counts, read back through Phoenix's REST API."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import httpx

from gateway.smoke.checks.common import chat_text, ensure, require_local
from gateway.smoke.runner import CheckFailed
from gateway.smoke.target import Target

# Spans are exported in batches (OpenTelemetry's BatchSpanProcessor waits up to 5 s by default).
TRACE_TIMEOUT = 45.0


def trace_in_phoenix(target: Target) -> str:
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
    while time.monotonic() < deadline:
        spans = _spans(local.phoenix_url, local.phoenix_project)
        marked = []
        for span in spans:
            attributes = _flatten(span.get("attributes", {}))
            if marker not in json.dumps(attributes):
                continue
            marked.append(str(span.get("name")))
            prompt = attributes.get("llm.token_count.prompt")
            completion = attributes.get("llm.token_count.completion")
            if prompt is None or completion is None:
                continue  # e.g. a guardrail or parent span carrying the prompt text only
            ensure(
                int(prompt) > 0 and int(completion) > 0,
                f"zero token counts in the span: {prompt}/{completion}",
            )
            return (
                f"span {span.get('name')!r} in project {local.phoenix_project!r}: "
                f"{prompt} prompt + {completion} completion tokens (gateway said {expected_prompt} prompt)"
            )
        time.sleep(1.0)
    newest = ", ".join(repr(span.get("name")) for span in spans[:4]) or "none"
    raise CheckFailed(
        f"no span with token counts for the request appeared in {TRACE_TIMEOUT:.0f} s "
        f"({len(spans)} spans in project {local.phoenix_project!r}; with the request's marker: "
        f"{', '.join(marked) or 'none'}; newest: {newest})"
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
