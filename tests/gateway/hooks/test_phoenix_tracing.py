"""The Phoenix tracing callback: what each call leaves in the trace, read from an in-memory exporter."""

from __future__ import annotations

import asyncio
import http.server
import json
import secrets
import threading
import time
from typing import ClassVar

import litellm
import pytest
from litellm.types.guardrails import GuardrailEventHooks
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from gateway.hooks import phoenix_tracing
from gateway.hooks.phoenix_tracing import PhoenixTracing

MODEL = "amazon.nova-pro-v1:0"
# Shaped like a LiteLLM key, made at run time so that no key-shaped string sits in the repository.
FAKE_KEY = "sk-" + secrets.token_hex(16)
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exporter) -> PhoenixTracing:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return PhoenixTracing(provider, record_messages=lambda: True)


def payload(**overrides) -> dict:
    """The fields of LiteLLM's standard_logging_object the callback reads, as a chat call fills them."""
    base = {
        "id": "chatcmpl-1",
        "litellm_call_id": "call-1",
        "call_type": "acompletion",
        "status": "success",
        "model": MODEL,
        "model_group": "nova-pro",
        "model_id": "deployment-1",
        "prompt_tokens": 12,
        "completion_tokens": 3,
        "total_tokens": 15,
        "response_cost": 0.00042,
        "startTime": 1_700_000_000.0,
        "endTime": 1_700_000_000.25,
        "cache_hit": False,
        "stream": False,
        "end_user": None,
        "request_tags": ["team-a"],
        "model_parameters": {"temperature": 0, "max_tokens": 64},
        "metadata": {
            "user_api_key_alias": "checkout-service",
            "user_api_key_team_id": "team-a",
            "user_api_key_hash": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        },
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "response": {"choices": [{"message": {"role": "assistant", "content": "Paris"}}]},
        "guardrail_information": None,
        "error_str": None,
    }
    return {**base, **overrides}


def spans(exporter: InMemorySpanExporter) -> dict:
    return {span.name: span for span in exporter.get_finished_spans()}


def call_span(exporter: InMemorySpanExporter, name: str = "acompletion nova-pro"):
    return spans(exporter)[name]


def log_with_traceparent(tracing: PhoenixTracing, traceparent: str) -> None:
    """A successful call as the proxy logs it when the client sent a W3C `traceparent` header."""
    kwargs = {
        "standard_logging_object": payload(),
        "litellm_params": {"proxy_server_request": {"headers": {"traceparent": traceparent}}},
    }
    asyncio.run(tracing.async_log_success_event(kwargs, None, None, None))


def test_a_request_is_a_chain_span_with_the_model_call_as_its_llm_child(tracing, exporter):
    tracing.record(payload())
    assert set(spans(exporter)) == {"request nova-pro", "acompletion nova-pro"}
    request, call = spans(exporter)["request nova-pro"], call_span(exporter)
    assert request.attributes["openinference.span.kind"] == "CHAIN"
    assert request.parent is None
    assert call.parent.span_id == request.context.span_id
    assert call.attributes["openinference.span.kind"] == "LLM"
    assert request.status.status_code is call.status.status_code is StatusCode.OK


def test_the_model_call_span_carries_model_tokens_and_cost(tracing, exporter):
    tracing.record(payload())
    attributes = call_span(exporter).attributes
    assert attributes["llm.model_name"] == MODEL
    assert attributes["llm.provider"] == "aws"
    assert attributes["llm.token_count.prompt"] == 12
    assert attributes["llm.token_count.completion"] == 3
    assert attributes["llm.token_count.total"] == 15
    assert attributes["llm.cost.total"] == pytest.approx(0.00042)


def test_the_model_call_span_lasts_as_long_as_the_call(tracing, exporter):
    tracing.record(payload())
    call = call_span(exporter)
    assert call.start_time == 1_700_000_000 * 10**9
    assert call.end_time - call.start_time == pytest.approx(250_000_000, abs=1_000)  # float seconds in


def test_the_request_span_lasts_from_the_first_guardrail_check_to_the_last(tracing, exporter):
    runs = [
        {"guardrail_name": "g", "guardrail_mode": "pre_call", "guardrail_status": "success",
         "start_time": 1_699_999_999.9, "end_time": 1_699_999_999.95},
        {"guardrail_name": "g", "guardrail_mode": "post_call", "guardrail_status": "success",
         "start_time": 1_700_000_000.26, "end_time": 1_700_000_000.3},
    ]  # fmt: skip
    tracing.record(payload(guardrail_information=runs))
    request = spans(exporter)["request nova-pro"]
    assert request.start_time == pytest.approx(1_699_999_999.9e9, abs=1_000)
    assert request.end_time == pytest.approx(1_700_000_000.3e9, abs=1_000)


def test_both_spans_name_the_caller_but_never_the_key_or_its_hash(tracing, exporter):
    tracing.record(payload())
    for span in exporter.get_finished_spans():
        metadata = json.loads(span.attributes["metadata"])
        assert metadata["user_api_key_alias"] == "checkout-service"
        assert metadata["user_api_key_team_id"] == "team-a"
        assert metadata["model_alias"] == "nova-pro"
        assert "88dc28d0" not in json.dumps(dict(span.attributes))
        assert list(span.attributes["tag.tags"]) == ["team-a"]


def test_prompt_and_answer_are_recorded_as_openinference_messages(tracing, exporter):
    tracing.record(payload())
    attributes = call_span(exporter).attributes
    assert attributes["llm.input_messages.0.message.role"] == "user"
    assert attributes["llm.input_messages.0.message.content"] == "What is the capital of France?"
    assert attributes["llm.output_messages.0.message.content"] == "Paris"
    assert json.loads(attributes["input.value"])[0]["content"] == "What is the capital of France?"
    assert attributes["input.mime_type"] == "application/json"
    assert attributes["output.value"] == "Paris"


def test_an_answer_in_content_blocks_is_recorded_as_json_not_as_a_raw_list(tracing, exporter):
    blocks = {"role": "assistant", "content": [{"type": "text", "text": "Paris"}]}
    tracing.record(payload(response={"choices": [{"message": blocks}]}))
    attributes = call_span(exporter).attributes
    assert json.loads(attributes["output.value"]) == blocks
    assert attributes["output.mime_type"] == "application/json"


def test_a_text_answer_is_marked_as_plain_text(tracing, exporter):
    tracing.record(payload())
    assert call_span(exporter).attributes["output.mime_type"] == "text/plain"


def test_the_request_span_shows_the_question_and_the_answer_as_text(tracing, exporter):
    tracing.record(payload())
    attributes = spans(exporter)["request nova-pro"].attributes
    assert attributes["input.value"] == "What is the capital of France?"
    assert attributes["output.value"] == "Paris"


def test_with_message_logging_off_no_prompt_or_answer_reaches_the_trace(exporter):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    PhoenixTracing(provider, record_messages=lambda: False).record(payload())
    for span in exporter.get_finished_spans():
        assert "France" not in json.dumps(dict(span.attributes))
        assert "Paris" not in json.dumps(dict(span.attributes))
    assert call_span(exporter).attributes["llm.token_count.prompt"] == 12


def test_message_logging_follows_litellms_turn_off_setting(exporter, monkeypatch):
    monkeypatch.setenv("GATEWAY_TRACE_CONTENT", "true")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = PhoenixTracing(provider)
    monkeypatch.setattr(litellm, "turn_off_message_logging", True)
    tracing.record(payload())
    assert all("input.value" not in span.attributes for span in exporter.get_finished_spans())


# ---------------------------------------------------------------- trace content (GATEWAY_TRACE_CONTENT)
SECRET_PROMPT = "My card 4111 1111 1111 1111 expires soon"
SECRET_ANSWER = "Your card ending 1111 is noted"


def content_setting(exporter, monkeypatch, value: str | None) -> PhoenixTracing:
    """The callback as the proxy makes it, with GATEWAY_TRACE_CONTENT as the entrypoint exported it."""
    if value is None:
        monkeypatch.delenv("GATEWAY_TRACE_CONTENT", raising=False)
    else:
        monkeypatch.setenv("GATEWAY_TRACE_CONTENT", value)
    monkeypatch.setattr(litellm, "turn_off_message_logging", False)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return PhoenixTracing(provider)


def secret_payload(**overrides) -> dict:
    """A call whose text is everywhere LiteLLM puts it: messages, answer, parameters, guardrail, error."""
    guardrail_run = {
        "guardrail_name": "bedrock-guardrail",
        "guardrail_mode": "pre_call",
        "guardrail_status": "guardrail_intervened",
        "masked_entity_count": {"CREDIT_DEBIT_CARD_NUMBER": 1},
        "guardrail_response": {
            "assessments": [{"match": SECRET_PROMPT}],
            "outputs": [{"text": SECRET_PROMPT}],
        },
        "start_time": 1_700_000_000.0,
        "end_time": 1_700_000_000.01,
    }
    text_parameters = {"stop": [SECRET_PROMPT[:12]], "tools": [{"function": {"description": SECRET_PROMPT}}]}
    base = payload(
        messages=[{"role": "system", "content": "Be brief"}, {"role": "user", "content": SECRET_PROMPT}],
        response={"choices": [{"message": {"role": "assistant", "content": SECRET_ANSWER}}]},
        model_parameters={"temperature": 0.2, "max_tokens": 64, "stream": False, **text_parameters},
        guardrail_information=[guardrail_run],
    )
    return {**base, **overrides}


def everything_recorded(exporter) -> str:
    """Every attribute, event and status text of every finished span, as one string."""
    return json.dumps(
        [
            {
                "name": span.name,
                "attributes": dict(span.attributes),
                "status": span.status.description,
                "events": [{"name": e.name, "attributes": dict(e.attributes)} for e in span.events],
            }
            for span in exporter.get_finished_spans()
        ],
        default=str,
    )


@pytest.mark.parametrize("setting", [None, "false"])
def test_without_trace_content_no_text_reaches_any_span(exporter, monkeypatch, setting):
    content_setting(exporter, monkeypatch, setting).record(secret_payload())
    recorded = everything_recorded(exporter)
    assert SECRET_PROMPT[:12] not in recorded and SECRET_ANSWER not in recorded and "Be brief" not in recorded
    assert (
        "input.value" not in recorded
        and "output.value" not in recorded
        and "llm.input_messages" not in recorded
    )


def test_without_trace_content_spans_keep_metadata_tokens_and_cost(exporter, monkeypatch):
    content_setting(exporter, monkeypatch, "false").record(secret_payload(response_cost=0.00042))
    call = call_span(exporter).attributes
    assert (call["llm.token_count.prompt"], call["llm.token_count.completion"]) == (12, 3)
    assert call["llm.cost.total"] == pytest.approx(0.00042)
    assert json.loads(call["llm.invocation_parameters"]) == {
        "temperature": 0.2,
        "max_tokens": 64,
        "stream": False,
    }
    assert json.loads(call["metadata"])["user_api_key_alias"] == "checkout-service"
    guardrail = spans(exporter)["guardrail bedrock-guardrail pre_call"].attributes
    assert json.loads(guardrail["guardrail.masked_entity_count"]) == {"CREDIT_DEBIT_CARD_NUMBER": 1}


def test_without_trace_content_a_failure_keeps_only_its_class_and_status_code(exporter, monkeypatch):
    error = litellm.exceptions.BadRequestError(
        f"Violated guardrail policy. Messages: `{SECRET_PROMPT}`", model=MODEL, llm_provider="bedrock"
    )
    failed = secret_payload(
        status="failure",
        response=None,
        error_str=f"litellm.BadRequestError: Violated guardrail policy {SECRET_PROMPT}",
        error_information={
            "error_class": "BadRequestError",
            "error_code": "400",
            "error_message": SECRET_PROMPT,
        },
    )
    content_setting(exporter, monkeypatch, "false").record(failed, error=error)
    request = spans(exporter)["request nova-pro"]
    assert request.status.status_code is StatusCode.ERROR
    assert request.status.description.startswith("BadRequestError (400); error text withheld")
    [event] = request.events
    assert event.attributes["exception.type"].endswith("BadRequestError")
    assert SECRET_PROMPT[:12] not in everything_recorded(exporter)


def test_trace_content_on_records_the_text(exporter, monkeypatch):
    content_setting(exporter, monkeypatch, "true").record(secret_payload())
    attributes = call_span(exporter).attributes
    assert attributes["llm.input_messages.1.message.content"] == SECRET_PROMPT
    assert attributes["llm.output_messages.0.message.content"] == SECRET_ANSWER
    assert "stop" in json.loads(attributes["llm.invocation_parameters"])


def test_trace_content_on_still_yields_to_litellms_turn_off_setting(exporter, monkeypatch):
    tracing = content_setting(exporter, monkeypatch, "true")
    monkeypatch.setattr(litellm, "turn_off_message_logging", True)
    tracing.record(secret_payload())
    assert SECRET_PROMPT[:12] not in everything_recorded(exporter)


@pytest.mark.parametrize("value", ["yes", "1", "TRUE-ish"])
def test_only_true_turns_trace_content_on(exporter, monkeypatch, value):
    content_setting(exporter, monkeypatch, value).record(secret_payload())
    assert SECRET_PROMPT[:12] not in everything_recorded(exporter)


def test_each_guardrail_run_is_a_child_span_of_the_request(tracing, exporter):
    guardrail = {"guardrail_name": "bedrock-guardrail", "guardrail_provider": "bedrock"}
    runs = [
        {**guardrail, "guardrail_mode": GuardrailEventHooks.pre_call, "guardrail_status": "success",
         "start_time": 1_700_000_000.01, "end_time": 1_700_000_000.02},
        {**guardrail, "guardrail_mode": "post_call", "guardrail_status": "guardrail_intervened",
         "masked_entity_count": {"EMAIL": 1}, "start_time": 1_700_000_000.2, "end_time": 1_700_000_000.24},
    ]  # fmt: skip
    tracing.record(payload(guardrail_information=runs))
    by_name = spans(exporter)
    request = by_name["request nova-pro"]
    pre, post = (
        by_name["guardrail bedrock-guardrail pre_call"],
        by_name["guardrail bedrock-guardrail post_call"],
    )
    assert pre.parent.span_id == post.parent.span_id == request.context.span_id
    assert pre.attributes["openinference.span.kind"] == "GUARDRAIL"
    assert pre.attributes["guardrail.mode"] == "pre_call"  # LiteLLM logs the hook as an enum member
    assert post.attributes["guardrail.status"] == "guardrail_intervened"
    assert json.loads(post.attributes["guardrail.masked_entity_count"]) == {"EMAIL": 1}
    assert post.status.status_code is StatusCode.OK  # masking is the guardrail working, not an error


def _priced_run(mode: str, cost: float, status: str = "success") -> dict:
    return {"guardrail_name": "bedrock-guardrail", "guardrail_mode": mode, "guardrail_status": status,
            "guardrail_cost": cost, "start_time": 1_700_000_000.0, "end_time": 1_700_000_000.01}  # fmt: skip


def test_the_guardrails_cost_is_on_its_runs_and_the_model_call_keeps_only_its_own(tracing, exporter):
    runs = [_priced_run("pre_call", 0.00015), _priced_run("post_call", 0.00015)]
    tracing.record(payload(guardrail_information=runs, response_cost=0.00042 + 0.0003))
    by_name = spans(exporter)
    assert call_span(exporter).attributes["llm.cost.total"] == pytest.approx(0.00042)
    assert by_name["guardrail bedrock-guardrail pre_call"].attributes["guardrail.cost"] == pytest.approx(
        0.00015
    )
    request = by_name["request nova-pro"].attributes
    assert request["gateway.cost.total"] == pytest.approx(0.00072)  # what budgets count
    assert request["gateway.cost.guardrail"] == pytest.approx(0.0003)


def test_a_prompt_the_guardrail_blocked_costs_the_model_nothing(tracing, exporter):
    blocked = [_priced_run("pre_call", 0.00025, status="guardrail_intervened")]
    tracing.record(
        payload(guardrail_information=blocked, response_cost=0.00025, status="failure", response=None)
    )
    assert call_span(exporter).attributes["llm.cost.total"] == 0.0
    assert spans(exporter)["request nova-pro"].attributes["gateway.cost.total"] == pytest.approx(0.00025)


def test_a_guardrail_that_did_not_answer_is_an_error_span(tracing, exporter):
    run = {"guardrail_name": "bedrock-guardrail", "guardrail_mode": "pre_call",
           "guardrail_status": "guardrail_failed_to_respond", "start_time": 1.0, "end_time": 2.0}  # fmt: skip
    tracing.record(payload(guardrail_information=[run], status="failure", error_str="guardrail unreachable"))
    assert spans(exporter)["guardrail bedrock-guardrail pre_call"].status.status_code is StatusCode.ERROR


def test_a_failed_request_is_an_error_trace_with_its_exception(tracing, exporter):
    error = litellm.exceptions.RateLimitError("throttled", llm_provider="bedrock", model=MODEL)
    tracing.record(
        payload(status="failure", error_str="litellm.RateLimitError: throttled", response=None), error=error
    )
    request, call = spans(exporter)["request nova-pro"], call_span(exporter)
    assert request.status.status_code is call.status.status_code is StatusCode.ERROR
    assert "throttled" in request.status.description
    [event] = request.events
    assert event.name == "exception"
    assert event.attributes["exception.type"].endswith("RateLimitError")


def test_the_exception_event_carries_litellms_redacted_text_never_the_raw_one(tracing, exporter):
    secret = FAKE_KEY
    try:
        raise litellm.exceptions.AuthenticationError(
            f"upstream refused Authorization: Bearer {secret}", llm_provider="bedrock", model=MODEL
        )
    except litellm.exceptions.AuthenticationError as raised:
        error = raised
    failed = payload(status="failure", error_str="upstream refused REDACTED", response=None)
    tracing.record(failed, error=error)
    [event] = spans(exporter)["request nova-pro"].events
    assert event.attributes["exception.message"] == "upstream refused REDACTED"
    assert "test_the_exception_event_carries" in event.attributes["exception.stacktrace"]
    assert secret not in json.dumps([dict(span.attributes) for span in exporter.get_finished_spans()])
    assert secret not in json.dumps(dict(event.attributes))


def test_without_litellms_text_the_exception_is_redacted_here(tracing, exporter):
    error = RuntimeError(f"api_key={FAKE_KEY}")
    tracing.record(payload(status="failure", error_str=None, response=None), error=error)
    request = spans(exporter)["request nova-pro"]
    assert FAKE_KEY not in request.status.description
    assert FAKE_KEY not in request.events[0].attributes["exception.message"]


def test_a_callers_unsampled_traceparent_still_leaves_the_gateways_trace(exporter):
    provider = phoenix_tracing.tracer_provider(SimpleSpanProcessor(exporter), "llm-gateway")
    tracing = PhoenixTracing(provider, record_messages=lambda: True)
    log_with_traceparent(tracing, TRACEPARENT[:-2] + "00")  # sampled flag off
    request = spans(exporter)["request nova-pro"]
    assert format(request.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert request.resource.attributes["openinference.project.name"] == "llm-gateway"


def test_an_embedding_call_is_an_embedding_span_without_vectors(tracing, exporter):
    vectors = {"data": [{"embedding": [0.125] * 8}]}
    tracing.record(
        payload(call_type="aembedding", model_group="titan-embed", messages=["a passage"], response=vectors)
    )
    attributes = call_span(exporter, "aembedding titan-embed").attributes
    assert attributes["openinference.span.kind"] == "EMBEDDING"
    assert attributes["embedding.model_name"] == MODEL
    assert "0.125" not in json.dumps(dict(attributes))


def test_the_callers_traceparent_makes_the_request_part_of_its_trace(tracing, exporter):
    log_with_traceparent(tracing, TRACEPARENT)
    request = spans(exporter)["request nova-pro"]
    assert format(request.parent.span_id, "016x") == "b7ad6b7169203331"
    for span in exporter.get_finished_spans():
        assert format(span.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"


def test_without_a_traceparent_the_request_starts_its_own_trace(tracing, exporter):
    asyncio.run(tracing.async_log_success_event({"standard_logging_object": payload()}, None, None, None))
    assert spans(exporter)["request nova-pro"].parent is None


def test_a_payload_tracing_cannot_read_is_logged_and_never_raises(tracing, exporter, caplog):
    broken = payload(startTime="not a time")
    asyncio.run(tracing.async_log_success_event({"standard_logging_object": broken}, None, None, None))
    assert exporter.get_finished_spans() == ()
    assert "could not record a span" in caplog.text


def test_a_call_without_a_logging_payload_leaves_no_span(tracing, exporter):
    asyncio.run(tracing.async_log_success_event({}, None, None, None))
    assert exporter.get_finished_spans() == ()


def test_litellms_real_logging_payload_becomes_a_trace(tracing, exporter, monkeypatch):
    """End to end through LiteLLM's logging (mock response, no network): the payload has what we read."""
    monkeypatch.setattr(litellm, "callbacks", [tracing])
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")

    async def call_and_wait():
        await litellm.acompletion(
            model=f"bedrock/{MODEL}",
            messages=[{"role": "user", "content": "Say Paris"}],
            mock_response="Paris",
        )
        deadline = time.monotonic() + 10
        while len(exporter.get_finished_spans()) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # LiteLLM logs success in a task after the call returns

    asyncio.run(call_and_wait())
    [call] = [span for span in exporter.get_finished_spans() if span.name.startswith("acompletion")]
    assert call.attributes["llm.model_name"] == MODEL
    assert call.attributes["llm.token_count.completion"] > 0
    assert call.attributes["llm.output_messages.0.message.content"] == "Paris"


def test_the_configured_instance_is_made_once_on_first_use(monkeypatch):
    made = []
    monkeypatch.setattr(phoenix_tracing, "_instance", None)
    monkeypatch.setattr(
        PhoenixTracing, "from_environment", classmethod(lambda cls: made.append(1) or "tracing")
    )
    assert phoenix_tracing.phoenix_tracing == "tracing"
    assert phoenix_tracing.phoenix_tracing == "tracing"
    assert made == [1]


def test_the_module_offers_no_other_lazy_names():
    with pytest.raises(AttributeError, match="no attribute 'tracer_for_everyone'"):
        phoenix_tracing.tracer_for_everyone  # noqa: B018


class Collector(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that only records what reached it."""

    received: ClassVar[list[tuple[str, str | None, bytes]]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Collector.received.append((self.path, self.headers.get("authorization"), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def collector():
    Collector.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("path", ["", "/v1/traces"])
def test_spans_reach_the_collector_endpoint_over_http_with_the_phoenix_key(collector, path, monkeypatch):
    monkeypatch.setenv("PHOENIX_COLLECTOR_ENDPOINT", collector + path)
    monkeypatch.setenv("PHOENIX_PROJECT_NAME", "llm-gateway-test")
    monkeypatch.setenv("PHOENIX_API_KEY", "phoenix-test-key")
    tracing = PhoenixTracing.from_environment()
    tracing.record(payload())
    assert tracing.tracer_provider.force_flush()
    tracing.tracer_provider.shutdown()
    [(received_path, authorization, body)] = Collector.received
    assert received_path == "/v1/traces"
    assert authorization == "Bearer phoenix-test-key"
    [resource_spans] = ExportTraceServiceRequest.FromString(body).resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["openinference.project.name"] == "llm-gateway-test"
    assert {span.name for span in resource_spans.scope_spans[0].spans} == {
        "request nova-pro",
        "acompletion nova-pro",
    }
