"""Every request leaves a whole trace in Phoenix (request, guardrail runs, model call with its token
counts), and without trace content none of its text, read back through Phoenix's REST API.

Each request is found by its trace id, which the check sets with a W3C `traceparent` header (the
gateway joins the caller's trace): the prompt's own text may not be in the spans to search for.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import Mapping

import httpx
import openai

from gateway.smoke.checks.common import ensure, require_local
from gateway.smoke.checks.guardrail import PROMPT_ATTACK
from gateway.smoke.runner import CheckFailed, Skip
from gateway.smoke.target import Target

# Spans are exported in batches (OpenTelemetry's BatchSpanProcessor waits up to 5 s by default).
TRACE_TIMEOUT = 45.0
# Reading the whole project back for a leak stops here (1,000 spans a page).
MAX_PAGES = 20


def trace_in_phoenix(target: Target) -> str:
    """The request's trace reaches Phoenix whole: the model call with its token counts, inside a
    request span, beside the guardrail's runs."""
    local = require_local(
        target,
        "reading traces back needs the local Phoenix (a deployed gateway's Phoenix is checked in its UI)",
    )
    alias = target.environment.aliases("chat")[0]
    trace_id, headers = _traceparent()
    response = target.client().chat.completions.create(
        model=alias,
        messages=[{"role": "user", "content": f"Trace this request ({target.nonce('trace')})"}],
        max_tokens=64,
        extra_headers=headers,
    )
    expected_prompt = response.usage.prompt_tokens
    deadline = time.monotonic() + TRACE_TIMEOUT
    spans: list[dict] = []
    trace: list[dict] = []
    missing = "the model call"
    while time.monotonic() < deadline:
        spans = _spans(local.phoenix_url, local.phoenix_project)
        trace = _spans(local.phoenix_url, local.phoenix_project, trace_id=trace_id)
        call = next((span for span in trace if _is_model_call(span)), None)
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
        f"({len(spans)} spans in project {local.phoenix_project!r}; in the request's trace {trace_id}: "
        f"{', '.join(repr(span.get('name')) for span in trace) or 'none'}; newest: {newest})"
    )


def trace_content_withheld(target: Target) -> str:
    """Without trace content (dev's and prod's setting), requests are traced with tokens and cost, and no
    span holds their text: not the prompt, the answer, the guardrail's findings or the error."""
    local = require_local(
        target,
        "reading traces back needs the local Phoenix (a deployed gateway's Phoenix is checked in its UI)",
    )
    if local.trace_content:
        raise Skip(
            "the local gateway records trace content (GATEWAY_TRACE_CONTENT=true, as its environment file "
            "says): there is no text to withhold"
        )
    alias = target.environment.aliases("chat")[0]
    marker = target.nonce("withheld")
    prompts = {
        "answered": f"Repeat after me: {marker}",  # the emulator echoes the prompt into its answer
        "masked": f"Write to {marker}@example.com about my invoice",  # the guardrail's finding quotes it
        "blocked": f"{PROMPT_ATTACK} {marker}",  # refused: the error text could quote the prompt
    }
    traces: dict[str, str] = {}
    for label, prompt in prompts.items():
        trace_id, headers = _traceparent()
        try:
            target.client().chat.completions.create(
                model=alias,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=64,
                extra_headers=headers,
            )
            ensure(
                label != "blocked", "the prompt attack was answered (HTTP 200), so nothing failed to trace"
            )
        except openai.BadRequestError:
            ensure(label == "blocked", f"the {label} request was refused (HTTP 400)")
        traces[label] = trace_id
    deadline = time.monotonic() + TRACE_TIMEOUT
    found: dict[str, list[dict]] = {}
    while time.monotonic() < deadline:
        found = {
            label: _spans(local.phoenix_url, local.phoenix_project, trace_id=t) for label, t in traces.items()
        }
        complete = all(_kinds(trace)["CHAIN"] for trace in found.values())
        if complete and any(_is_model_call(span) for span in found["answered"]):
            break
        time.sleep(1.0)
    else:
        seen = ", ".join(f"{label}: {len(trace)} span(s)" for label, trace in found.items())
        raise CheckFailed(f"the requests' traces were incomplete after {TRACE_TIMEOUT:.0f} s ({seen})")
    everything = _project_spans(local.phoenix_url, local.phoenix_project)
    leaks = [
        f"{span.get('name')!r} (trace {span.get('context', {}).get('trace_id')})"
        for span in everything
        if marker in json.dumps(span)
    ]
    ensure(not leaks, f"the prompt's marker {marker!r} is in {len(leaks)} span(s): {', '.join(leaks[:5])}")
    call = _flatten(next(span for span in found["answered"] if _is_model_call(span)).get("attributes", {}))
    shape = "; ".join(f"{label} {dict(sorted(_kinds(trace).items()))}" for label, trace in found.items())
    return (
        f"traced without text: {shape}; answered {call['llm.token_count.prompt']}+"
        f"{call['llm.token_count.completion']} tokens; marker in none of the {len(everything)} spans"
    )


def _traceparent() -> tuple[str, dict[str, str]]:
    """A new trace id and the W3C header that makes the gateway's spans part of that trace."""
    trace_id = secrets.token_hex(16)
    return trace_id, {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}


def _kinds(trace: list[dict]) -> Counter:
    return Counter(str(span.get("span_kind")) for span in trace)


def _is_model_call(span: Mapping) -> bool:
    """The model-call span: it carries both token counts."""
    attributes = _flatten(span.get("attributes", {}))
    return (
        attributes.get("llm.token_count.prompt") is not None
        and attributes.get("llm.token_count.completion") is not None
    )


def _spans(phoenix_url: str, project: str, *, trace_id: str | None = None) -> list[dict]:
    """The newest 200 spans of the project, or of one trace."""
    return _page(phoenix_url, project, trace_id=trace_id)[0]


def _page(
    phoenix_url: str,
    project: str,
    *,
    trace_id: str | None = None,
    cursor: str | None = None,
    limit: int = 200,
) -> tuple[list[dict], str | None]:
    params: dict[str, object] = {"limit": limit}
    if trace_id:
        params["trace_id"] = trace_id
    if cursor:
        params["cursor"] = cursor
    response = httpx.get(
        f"{phoenix_url}/v1/projects/{project}/spans", params=params, timeout=10, trust_env=False
    )
    if response.status_code == 404:
        return [], None  # the project appears with its first span
    response.raise_for_status()
    body = response.json()
    return body.get("data", []), body.get("next_cursor")


def _project_spans(phoenix_url: str, project: str) -> list[dict]:
    """Every span of the project (up to MAX_PAGES pages), newest first."""
    spans: list[dict] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page, cursor = _page(phoenix_url, project, cursor=cursor, limit=1000)
        spans.extend(page)
        if not cursor:
            break
    return spans


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
