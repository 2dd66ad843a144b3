"""Phoenix tracing: OpenInference spans per request, built from LiteLLM's logging payload.

Wired in gateway/config.yaml as `callbacks: ["gateway.hooks.phoenix_tracing.phoenix_tracing"]`.
Spans go out through arize-phoenix-otel's BatchSpanProcessor (batched OTLP export on
its own thread) to PHOENIX_COLLECTOR_ENDPOINT, in the PHOENIX_PROJECT_NAME project,
with PHOENIX_API_KEY as a bearer token, as with LiteLLM's `arize_phoenix` callback.

Why not that callback: per request it builds the full attribute set twice (a
proxy parent span and the request span, messages serialized for each), then
metric attributes although no metric is exported: 1.1 to 1.7 ms of CPU per
request with its export, against 0.4 to 0.55 ms for this one, and 6.3 KB sent to
Phoenix against 2.6 KB (`nox -s costs -- tracing`). This callback reads
`standard_logging_object`, which LiteLLM builds for every request anyway, and
starts each span with its attributes in one call: per request a CHAIN span
covering what the caller waited, with the model call (LLM or EMBEDDING) and
one GUARDRAIL span per guardrail run as children; a caller's `traceparent` puts
the request into the caller's trace, but its sampling flag does not switch the
gateway's trace off (the gateway keeps a trace of every request).

Content (prompt, answer, error texts, text-bearing request parameters) is recorded
only when GATEWAY_TRACE_CONTENT is `true` (the entrypoint resolves and exports it;
unset here means off) and LiteLLM's `turn_off_message_logging` is off. The decision
is the process's, never the request's: LiteLLM lets a client re-enable logging with
a `litellm-disable-message-redaction` header, which this callback does not read.
Without content a span keeps metadata, tokens, cost, and for a failure only the
error's class and status code (an error's text can quote the prompt: guardrail
findings, LiteLLM's "Messages:" suffix). Error texts with content are LiteLLM's
redacted ones.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import litellm
from litellm._logging import redact_string
from litellm.integrations.custom_logger import CustomLogger
from litellm.litellm_core_utils.llm_cost_calc.guardrail_cost import guardrail_information_cost
from openinference.semconv.resource import ResourceAttributes
from openinference.semconv.trace import (
    MessageAttributes,
    OpenInferenceMimeTypeValues,
    OpenInferenceSpanKindValues,
    SpanAttributes,
)
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway import trace_content

logger = logging.getLogger(__name__)

TRACER_NAME = "gateway.hooks.phoenix_tracing"
PROVIDER = "aws"
# Keeps one span's error text bounded; the full error is in the proxy's logs.
MAX_ERROR_CHARS = 2000
EMBEDDING_CALLS = frozenset({"embedding", "aembedding"})
JSON = OpenInferenceMimeTypeValues.JSON.value
# Who called, for filtering traces by team or key in Phoenix (never the key or its hash).
CALLER_FIELDS = (
    "user_api_key_alias",
    "user_api_key_team_id",
    "user_api_key_team_alias",
    "user_api_key_user_id",
    "user_api_key_org_id",
)
_PROPAGATOR = TraceContextTextMapPropagator()


def _dumps(value: object) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _model_name(payload: Mapping[str, Any]) -> str:
    """The Bedrock model id as Phoenix prices it: without LiteLLM's `bedrock/` routing prefix."""
    model = str(payload.get("model") or "")
    provider = payload.get("custom_llm_provider")
    return model.removeprefix(f"{provider}/") if provider else model


def tracer_provider(processor: SpanProcessor, project_name: str) -> TracerProvider:
    """The OpenTelemetry SDK's provider, with Phoenix's project attribute and `processor`.

    Not phoenix.otel's own provider: its OpenInference tracer re-applies every attribute
    through a masking wrapper and draws each trace and span id from the OS (`secrets`),
    together about 1 ms per request in the proxy (py-spy); these spans are built here,
    and prompts are left out by this callback itself when message logging is off.
    """
    provider = TracerProvider(
        # Not the SDK's default (follow the parent): a caller's unsampled traceparent would
        # otherwise leave the gateway without a trace of the request.
        sampler=ALWAYS_ON,
        resource=Resource.create({ResourceAttributes.PROJECT_NAME: project_name}),
    )
    provider.add_span_processor(processor)
    return provider


def _plain(value: object) -> str:
    """An enum's value (LiteLLM logs GuardrailEventHooks members), else the text."""
    return str(getattr(value, "value", value) or "")


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1e9)


class PhoenixTracing(CustomLogger):
    """Writes each finished call (success or failure) as OpenInference spans to Phoenix."""

    def __init__(
        self, tracer_provider: TracerProvider, record_messages: Callable[[], bool] | None = None
    ) -> None:
        super().__init__()
        self.tracer_provider = tracer_provider
        self.tracer: Tracer = tracer_provider.get_tracer(TRACER_NAME)
        # The container's setting, read once (unset: off); LiteLLM's flag asked per call, since the
        # proxy sets litellm.turn_off_message_logging after loading callbacks. (Not named
        # `message_logging`: LiteLLM reads that attribute of a callback to redact its payload.)
        allowed = os.environ.get(trace_content.VARIABLE, "").strip().lower() == "true"
        self.record_messages = record_messages or (lambda: allowed and not litellm.turn_off_message_logging)

    @classmethod
    def from_environment(cls) -> PhoenixTracing:
        """Tracing to the Phoenix the environment names, exported in batches by arize-phoenix-otel.

        The endpoint and protocol are read the way LiteLLM's `arize_phoenix` callback read them
        (its own function), so PHOENIX_COLLECTOR_ENDPOINT means what it meant before: left to
        itself, phoenix.otel would send an HTTP collector URL without a path to the gRPC port.
        """
        from litellm.integrations.arize.arize_phoenix import ArizePhoenixLogger
        from phoenix.otel import BatchSpanProcessor

        target = ArizePhoenixLogger.get_arize_phoenix_config()
        api_key = os.environ.get("PHOENIX_API_KEY")
        processor = BatchSpanProcessor(
            endpoint=target.endpoint,
            protocol="grpc" if target.protocol == "otlp_grpc" else "http/protobuf",
            headers={"authorization": f"Bearer {api_key}"} if api_key else None,
        )
        return cls(tracer_provider(processor, target.project_name))

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._trace(kwargs, error=None)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._trace(kwargs, error=kwargs.get("exception"))

    def _trace(self, kwargs: Mapping[str, Any], error: BaseException | None) -> None:
        # A tracing fault must never fail or slow the request it describes: log it and go on.
        try:
            payload = kwargs.get("standard_logging_object")
            if not isinstance(payload, Mapping):
                return
            self.record(payload, parent=self._caller_context(kwargs), error=error)
        except Exception:
            logger.exception("gateway tracing: could not record a span")

    def record(
        self, payload: Mapping[str, Any], *, parent: Context | None = None, error: BaseException | None = None
    ):
        """The request's span, with the model call and each guardrail run as children; returns it.

        The request span runs from the first guardrail check to the last, so Phoenix's latency
        for a trace is what the caller waited, and its children break it down by phase.
        """
        failed = error is not None or payload.get("status") == "failure"
        with_messages = self.record_messages()  # asked once: every span must agree
        error_text = _error_text(payload, error, with_messages)
        status = Status(StatusCode.ERROR, error_text) if failed else Status(StatusCode.OK)
        runs = [run for run in payload.get("guardrail_information") or () if isinstance(run, Mapping)]
        call_start, call_end = _ns(payload.get("startTime")), _ns(payload.get("endTime"))
        starts = [t for t in (call_start, *(_ns(run.get("start_time")) for run in runs)) if t is not None]
        ends = [t for t in (call_end, *(_ns(run.get("end_time")) for run in runs)) if t is not None]
        shared = self.shared_attributes(payload)
        alias = payload.get("model_group") or payload.get("model")
        request = self.tracer.start_span(
            name=f"request {alias}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={**shared, **self.request_attributes(payload, with_messages)},
            start_time=min(starts, default=None),
        )
        request.set_status(status)
        if error is not None:
            frames = "".join(traceback.format_tb(error.__traceback__))  # where, without the message
            request.record_exception(
                error, attributes={"exception.message": error_text, "exception.stacktrace": frames}
            )
        inside = set_span_in_context(request)
        call = self.tracer.start_span(
            name=f"{payload.get('call_type') or 'call'} {alias}",
            context=inside,
            attributes={**shared, **self.call_attributes(payload, with_messages)},
            start_time=call_start,
        )
        call.set_status(status)
        call.end(end_time=call_end)
        for run in runs:
            self._guardrail_span(run, inside)
        request.end(end_time=max(ends, default=None))
        return request

    @staticmethod
    def shared_attributes(payload: Mapping[str, Any]) -> dict[str, Any]:
        """What both the request and the call span carry: alias, caller, tags (never the key or its hash)."""
        metadata = payload.get("metadata") or {}
        caller = {field: metadata.get(field) for field in CALLER_FIELDS if metadata.get(field)}
        attributes: dict[str, Any] = {
            SpanAttributes.METADATA: _dumps(
                {
                    "model_alias": payload.get("model_group"),
                    "deployment_id": payload.get("model_id"),
                    "call_id": payload.get("litellm_call_id") or payload.get("id"),
                    "cache_hit": bool(payload.get("cache_hit")),
                    "stream": bool(payload.get("stream")),
                    **caller,
                }
            ),
            "gateway.model_alias": payload.get("model_group") or "",
            "gateway.cache_hit": bool(payload.get("cache_hit")),
        }
        user = payload.get("end_user") or metadata.get("user_api_key_user_id")
        if user:
            attributes[SpanAttributes.USER_ID] = str(user)
        tags = [str(tag) for tag in payload.get("request_tags") or ()]
        if tags:
            attributes[SpanAttributes.TAG_TAGS] = tags
        return attributes

    @staticmethod
    def request_attributes(payload: Mapping[str, Any], with_messages: bool) -> dict[str, Any]:
        """The request span: a CHAIN whose input and output are the question and the answer as text,
        with what the request cost against budgets (model and guardrail together)."""
        attributes: dict[str, Any] = {
            SpanAttributes.OPENINFERENCE_SPAN_KIND: OpenInferenceSpanKindValues.CHAIN.value,
            "gateway.cost.total": float(payload.get("response_cost") or 0.0),
            "gateway.cost.guardrail": guardrail_information_cost(payload.get("guardrail_information")),
        }
        if not with_messages:
            return attributes
        messages = payload.get("messages")
        if isinstance(messages, Sequence) and not isinstance(messages, str) and messages:
            last = messages[-1]
            question = last.get("content") if isinstance(last, Mapping) else last
            attributes[SpanAttributes.INPUT_VALUE] = (
                question if isinstance(question, str) else _dumps(question)
            )
        elif isinstance(messages, str):
            attributes[SpanAttributes.INPUT_VALUE] = messages
        answer = _answer(payload)
        if answer is not None and isinstance(answer.get("content"), str):
            attributes[SpanAttributes.OUTPUT_VALUE] = answer["content"]
        return attributes

    @staticmethod
    def call_attributes(payload: Mapping[str, Any], with_messages: bool) -> dict[str, Any]:
        """OpenInference attributes of the model call: model, tokens, cost and (unless off) messages."""
        embedding = payload.get("call_type") in EMBEDDING_CALLS
        kind = OpenInferenceSpanKindValues.EMBEDDING if embedding else OpenInferenceSpanKindValues.LLM
        model = _model_name(payload)
        attributes: dict[str, Any] = {
            SpanAttributes.OPENINFERENCE_SPAN_KIND: kind.value,
            SpanAttributes.LLM_PROVIDER: PROVIDER,
            SpanAttributes.LLM_MODEL_NAME: model,
            SpanAttributes.LLM_TOKEN_COUNT_PROMPT: payload.get("prompt_tokens") or 0,
            SpanAttributes.LLM_TOKEN_COUNT_COMPLETION: payload.get("completion_tokens") or 0,
            SpanAttributes.LLM_TOKEN_COUNT_TOTAL: payload.get("total_tokens") or 0,
            SpanAttributes.LLM_COST_TOTAL: model_cost(payload),
            SpanAttributes.LLM_INVOCATION_PARAMETERS: _dumps(
                _invocation_parameters(payload.get("model_parameters") or {}, with_messages)
            ),
        }
        if embedding:
            attributes[SpanAttributes.EMBEDDING_MODEL_NAME] = model
        if with_messages:
            attributes.update(PhoenixTracing.message_attributes(payload))
        return attributes

    @staticmethod
    def message_attributes(payload: Mapping[str, Any]) -> dict[str, Any]:
        """The prompt and the answer, as Phoenix shows them (no embedding vectors)."""
        attributes: dict[str, Any] = {}
        messages = payload.get("messages")
        if messages is not None:
            attributes[SpanAttributes.INPUT_VALUE] = (
                messages if isinstance(messages, str) else _dumps(messages)
            )
            attributes[SpanAttributes.INPUT_MIME_TYPE] = "text/plain" if isinstance(messages, str) else JSON
        if isinstance(messages, Sequence) and not isinstance(messages, str):
            for index, message in enumerate(messages):
                if isinstance(message, Mapping):
                    attributes.update(_message(SpanAttributes.LLM_INPUT_MESSAGES, index, message))
        answer = _answer(payload)
        if answer is not None:
            content = answer.get("content")
            text = content if isinstance(content, str) and content else None
            attributes[SpanAttributes.OUTPUT_VALUE] = text or _dumps(answer)
            attributes[SpanAttributes.OUTPUT_MIME_TYPE] = "text/plain" if text else JSON
            attributes.update(_message(SpanAttributes.LLM_OUTPUT_MESSAGES, 0, answer))
        return attributes

    def _guardrail_span(self, run: Mapping[str, Any], context: Context) -> None:
        modes = run.get("guardrail_mode")
        mode = ",".join(_plain(m) for m in modes) if isinstance(modes, list) else _plain(modes)
        status = str(run.get("guardrail_status") or "")
        attributes = {
            SpanAttributes.OPENINFERENCE_SPAN_KIND: OpenInferenceSpanKindValues.GUARDRAIL.value,
            "guardrail.name": str(run.get("guardrail_name") or ""),
            "guardrail.provider": str(run.get("guardrail_provider") or ""),
            "guardrail.mode": mode,
            "guardrail.status": status,
        }
        if run.get("guardrail_cost") is not None:
            attributes["guardrail.cost"] = float(run["guardrail_cost"])
        if run.get("masked_entity_count"):
            attributes["guardrail.masked_entity_count"] = _dumps(run["masked_entity_count"])
        span = self.tracer.start_span(
            name=f"guardrail {run.get('guardrail_name') or ''} {mode}".strip(),
            context=context,
            attributes=attributes,
            start_time=_ns(run.get("start_time")),
        )
        # Intervening (blocking, masking) is the guardrail working; only an unanswered check is an error.
        failed = status == "guardrail_failed_to_respond"
        span.set_status(Status(StatusCode.ERROR, status) if failed else Status(StatusCode.OK))
        span.end(end_time=_ns(run.get("end_time")))

    @staticmethod
    def _caller_context(kwargs: Mapping[str, Any]) -> Context | None:
        """The caller's trace (W3C `traceparent`), so the gateway's spans join it."""
        litellm_params = kwargs.get("litellm_params") or {}
        request = litellm_params.get("proxy_server_request") or {}
        headers = request.get("headers") or {}
        if "traceparent" not in headers:
            return None
        return _PROPAGATOR.extract(headers)


def _error_text(payload: Mapping[str, Any], error: BaseException | None, with_messages: bool) -> str:
    """What a failed span says. With content: LiteLLM's redacted error_str (the exception's own text
    may hold a key or a header). Without: the error's class and status code only."""
    if with_messages:
        text = str(payload.get("error_str") or redact_string(str(error or "")) or "failed")
        return text[:MAX_ERROR_CHARS]
    information = payload.get("error_information")
    information = information if isinstance(information, Mapping) else {}
    kind = information.get("error_class") or (type(error).__name__ if error is not None else "")
    code = information.get("error_code") or getattr(error, "status_code", None)
    what = f"{kind or 'error'} ({code})" if code else str(kind or "error")
    return f"{what}; error text withheld (trace content off)"


def _invocation_parameters(parameters: Mapping[str, Any], with_messages: bool) -> Mapping[str, Any]:
    """The request's parameters; without content only numbers and booleans (a stop sequence, a tool's
    description or a response schema is the caller's text)."""
    if with_messages:
        return parameters
    return {k: v for k, v in parameters.items() if isinstance(v, int | float | bool) or v is None}


def model_cost(payload: Mapping[str, Any]) -> float:
    """The model call's own cost. LiteLLM's `response_cost` also holds the guardrail's (what budgets
    count); left in, a prompt the guardrail blocked would show a cost on a model that was never called.
    """
    total = float(payload.get("response_cost") or 0.0)
    return max(total - guardrail_information_cost(payload.get("guardrail_information")), 0.0)


def _answer(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The model's first answer message in a chat payload; None for embeddings and failures."""
    response = payload.get("response")
    choices = response.get("choices") if isinstance(response, Mapping) else None
    if not choices or not isinstance(choices[0], Mapping):
        return None
    return choices[0].get("message") or {}


def _message(prefix: str, index: int, message: Mapping[str, Any]) -> dict[str, Any]:
    base = f"{prefix}.{index}."
    attributes = {base + MessageAttributes.MESSAGE_ROLE: str(message.get("role") or "")}
    content = message.get("content")
    if isinstance(content, str):
        attributes[base + MessageAttributes.MESSAGE_CONTENT] = content
    elif content is not None:
        attributes[base + MessageAttributes.MESSAGE_CONTENT] = _dumps(content)
    return attributes


_instance: PhoenixTracing | None = None


def __getattr__(name: str) -> PhoenixTracing:
    """`phoenix_tracing`, made on first use: LiteLLM resolves the config's dotted name with getattr."""
    global _instance
    if name != "phoenix_tracing":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _instance is None:
        _instance = PhoenixTracing.from_environment()
    return _instance
