"""LiteLLM's Bedrock guardrail with cached credentials, inline signing and a pooled client.

Wired in gateway/config.yaml as
`guardrail: gateway.hooks.bedrock_guardrail.GatewayBedrockGuardrail`. Same
ApplyGuardrail API, same guardrail id/version, same decisions: everything that
decides (message selection, chunking, block detection, masking, the
guardrail's entries in the request's logging payload) is LiteLLM 1.108.7's
own `BedrockGuardrail`. Only the transport of each call changes, because
profiling the proxy showed it cost more than the policy:

- credentials: resolved once and frozen until shortly before they expire
  (`aws_credentials.CredentialCache`), instead of in a thread pool per call;
- signing: SigV4 inline (~0.07 ms) instead of a second thread-pool hop;
- HTTP: one keep-alive aiohttp session (`pooled_http.PooledPoster`) instead
  of httpx over aiohttp;
- debug logging: request/response redaction runs only when DEBUG is on.

Fail closed is unchanged: a transport error, a non-200 answer or missing
credentials raise, and LiteLLM answers the client with an error without
calling the model (pre_call) or returning the answer (post_call). A bearer
token (AWS_BEARER_TOKEN_BEDROCK or a per-request key) takes LiteLLM's own path.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import litellm
from fastapi import HTTPException
from litellm._logging import verbose_proxy_logger
from litellm.llms.bedrock.base_aws_llm import bedrock_bearer_token
from litellm.proxy._types import UserAPIKeyAuth
from litellm.proxy.guardrails.guardrail_hooks.bedrock_guardrails import BedrockGuardrail
from litellm.types.guardrails import GuardrailEventHooks
from litellm.types.proxy.guardrails.guardrail_hooks.bedrock_guardrails import BedrockGuardrailResponse
from litellm.types.utils import (
    Choices,
    GenericGuardrailAPIInputs,
    Message,
    ModelResponse,
    ModelResponseStream,
    TextCompletionResponse,
)

from gateway.hooks.aws_credentials import CredentialCache
from gateway.hooks.pooled_http import PooledPoster
from gateway.hooks.stream_window import windowed_output_check

DEFAULT_TIMEOUT_S = 30.0
# The `action` values of an ApplyGuardrail verdict.
VERDICTS = frozenset({"NONE", "GUARDRAIL_INTERVENED"})
# An ApplyGuardrail call that outlived the guardrail's `timeout` (issue 14): Gateway Timeout.
TIMEOUT_STATUS = 504
# AWS answers 403 when a signature's credentials expired or were revoked.
EXPIRED_CREDENTIALS_STATUS = 403


# LiteLLM 1.108.7 chooses a guardrail's dispatch path by looking these names up in the
# *leaf* class's own `__dict__` (proxy/utils.py `callback_capabilities` and
# `_execute_guardrail_hook`, common_request_processing.py's end-of-stream pass), not by
# inheritance: `apply_guardrail` sends text completions, embeddings and pass-through
# through the unified path (the native hooks see "no messages" there and skip them);
# `async_post_call_streaming_iterator_hook` buffers a stream until its OUTPUT verdict and
# masks or blocks it; `async_pre_call_hook` and `async_post_call_response_headers_hook`
# set capability flags. A subclass that merely inherits them silently loses those paths,
# so each one `BedrockGuardrail` defines is re-bound here (tests/gateway/hooks derive the
# list from LiteLLM's source, so an upgrade that adds a check fails until it is listed).
LEAF_DISPATCH_HOOKS = (
    "apply_guardrail",
    "async_post_call_streaming_iterator_hook",
    "async_pre_call_hook",
    "async_post_call_response_headers_hook",
)


def structured_texts(inputs: Mapping[str, Any], request: Mapping[str, Any] | None) -> list[str]:
    """The texts a request or answer carries outside message content: tools and (function) calls."""
    texts = [json.dumps(tool, sort_keys=True, default=str) for tool in inputs.get("tools") or []]
    for call in inputs.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, Mapping) else getattr(call, "function", None)
        if isinstance(function, Mapping):
            texts.append(f"{function.get('name') or ''} {function.get('arguments') or ''}".strip())
        elif function is not None:
            texts.append(
                f"{getattr(function, 'name', '') or ''} {getattr(function, 'arguments', '') or ''}".strip()
            )
    if request is not None:
        texts += [json.dumps(f, sort_keys=True, default=str) for f in request.get("functions") or []]
        for message in request.get("messages") or []:
            call = message.get("function_call") if isinstance(message, Mapping) else None
            if isinstance(call, Mapping):
                texts.append(f"{call.get('name') or ''} {call.get('arguments') or ''}".strip())
        response_format = request.get("response_format")
        if isinstance(response_format, Mapping) and response_format.get("type") == "json_schema":
            texts.append(json.dumps(response_format.get("json_schema"), sort_keys=True, default=str))
    return [text for text in texts if text]


def split_usage(chunk: Any) -> tuple[Any, ...]:
    """A re-assembled chunk carrying both text and usage, as OpenAI streams it: the text, then usage alone.

    LiteLLM's buffered re-stream puts the answer, the finish reason and the usage in one chunk;
    with `stream_options.include_usage` OpenAI sends usage in a last chunk of its own with
    `choices: []`, and strict clients read it only there.
    """
    usage = getattr(chunk, "usage", None)
    if not isinstance(chunk, ModelResponseStream) or usage is None or not chunk.choices:
        return (chunk,)
    del chunk.usage
    alone = ModelResponseStream(
        id=chunk.id, created=chunk.created, model=chunk.model, choices=[], usage=usage
    )
    return chunk, alone


class GatewayBedrockGuardrail(BedrockGuardrail):
    """`BedrockGuardrail` whose ApplyGuardrail calls skip the per-call thread hops and httpx."""

    # Same dispatch as LiteLLM's own class on every route and for streams (see LEAF_DISPATCH_HOOKS).
    async_pre_call_hook = BedrockGuardrail.async_pre_call_hook

    async def apply_guardrail(
        self,
        inputs: GenericGuardrailAPIInputs,
        request_data: dict,
        input_type: Literal["request", "response"],
        logging_obj: Any = None,
    ) -> GenericGuardrailAPIInputs:
        """LiteLLM's check of the message texts, then one check of what it leaves out.

        LiteLLM 1.108.7's Bedrock guardrail reads only message text: tool definitions, tool-call
        arguments (a conversation's and the model's), legacy function calls and a response
        format's schema reached the model, or the client, unchecked (an SSN or a prompt attack in
        a tool's description was answered with 200). Those texts get one ApplyGuardrail call of
        their own. They cannot be rewritten in place, so anything the policy would mask in them
        is refused like a block.
        """
        checked = await BedrockGuardrail.apply_guardrail(self, inputs, request_data, input_type, logging_obj)
        texts = structured_texts(inputs, request_data if input_type == "request" else None)
        if texts:
            await self._check_structured(
                texts, request_data, "INPUT" if input_type == "request" else "OUTPUT"
            )
        return checked

    async def _check_structured(
        self, texts: list[str], request_data: dict, source: Literal["INPUT", "OUTPUT"]
    ) -> None:
        event = GuardrailEventHooks.pre_call if source == "INPUT" else GuardrailEventHooks.post_call
        text = "\n".join(texts)
        if source == "INPUT":
            verdict = await self.make_bedrock_api_request(
                source="INPUT", messages=[{"role": "user", "content": text}], request_data=request_data,
                logging_event_type=event,
            )  # fmt: skip
        else:
            answer = ModelResponse(
                choices=[Choices(index=0, message=Message(role="assistant", content=text))]
            )
            verdict = await self.make_bedrock_api_request(
                source="OUTPUT", response=answer, request_data=request_data, logging_event_type=event
            )
        if verdict.get("action") == "GUARDRAIL_INTERVENED":  # masked, not blocked: refused all the same
            raise self._get_http_exception_for_blocked_guardrail(verdict, request_data=request_data)

    @staticmethod
    def windowed_applies(request_data: Mapping[str, Any]) -> bool:
        """A chat answer that can hold only text (no tools offered, one choice) is checked in windows."""
        offered = request_data.get("tools") or request_data.get("functions")
        return not offered and request_data.get("n") in (None, 1)

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: UserAPIKeyAuth, response: Any, request_data: dict
    ) -> AsyncGenerator[Any, None]:
        """A chat answer's OUTPUT check in windows while it streams (stream_window.py, issue 19);
        otherwise LiteLLM's buffered check, extended to text-completion streams.

        LiteLLM 1.108.7 assembles a stream with `stream_chunk_builder`, which yields no chat
        response for `/v1/completions` chunks, and then forwards them unchecked: the raw
        answer reached the client. Those streams are checked here, as one OUTPUT call over the
        whole answer, and come out masked or not at all (a block raises before any chunk is
        released, so the client gets the same 400 as without streaming).
        """
        wants_usage = (request_data.get("stream_options") or {}).get("include_usage") is True
        upstream = aiter(response)
        first = await anext(upstream, None)
        if first is None:
            return
        route = str(getattr(user_api_key_dict, "request_route", None) or "").rstrip("/")
        if (
            isinstance(first, ModelResponseStream)
            and route.endswith("chat/completions")
            and self.windowed_applies(request_data)
        ):
            async for chunk in windowed_output_check(self, first, upstream, request_data):
                for piece in split_usage(chunk) if wants_usage else (chunk,):
                    yield piece
            return
        chunks = [first, *[chunk async for chunk in upstream]]
        if chunks and all(isinstance(chunk, TextCompletionResponse) for chunk in chunks):
            for chunk in await self._checked_text_completion_stream(chunks, request_data):
                yield chunk
            return

        await self._check_streamed_tool_calls(chunks, request_data)

        async def replay() -> AsyncGenerator[Any, None]:
            for chunk in chunks:
                yield chunk

        async for chunk in BedrockGuardrail.async_post_call_streaming_iterator_hook(
            self, user_api_key_dict, replay(), request_data
        ):
            for piece in split_usage(chunk) if wants_usage else (chunk,):
                yield piece

    async def _check_streamed_tool_calls(self, chunks: list[Any], request_data: dict) -> None:
        """A streamed answer's tool calls, which LiteLLM's buffered check does not read, checked whole."""
        if not any(
            getattr(choice.delta, "tool_calls", None) or getattr(choice.delta, "function_call", None)
            for chunk in chunks
            if isinstance(chunk, ModelResponseStream)
            for choice in chunk.choices or []
        ):
            return
        assembled = litellm.stream_chunk_builder(chunks=chunks)
        calls = [
            call
            for choice in getattr(assembled, "choices", None) or []
            for call in (getattr(choice.message, "tool_calls", None) or [])
        ]
        texts = structured_texts({"tool_calls": calls}, None)
        for choice in getattr(assembled, "choices", None) or []:
            legacy = getattr(choice.message, "function_call", None)
            if legacy is not None:
                texts.append(
                    f"{getattr(legacy, 'name', '') or ''} {getattr(legacy, 'arguments', '') or ''}".strip()
                )
        if texts:
            await self._check_structured(texts, request_data, "OUTPUT")

    async def _checked_text_completion_stream(
        self, chunks: list[TextCompletionResponse], request_data: dict
    ) -> list[TextCompletionResponse]:
        """The text-completion chunks after the OUTPUT verdict: unchanged, or one chunk of masked text."""
        texts: dict[int, str] = {}
        for chunk in chunks:
            for choice in chunk.choices or []:
                texts[choice.index or 0] = texts.get(choice.index or 0, "") + (choice.text or "")
        answer = ModelResponse(
            choices=[
                Choices(index=i, message=Message(role="assistant", content=text), finish_reason="stop")
                for i, text in sorted(texts.items())
            ]
        )
        verdict = await self.make_bedrock_api_request(
            source="OUTPUT",
            response=answer,
            messages=request_data.get("messages"),
            request_data=request_data,
            logging_event_type=GuardrailEventHooks.post_call,
        )
        self._apply_masking_to_response(response=answer, bedrock_guardrail_response=verdict)
        masked = {c.index: c.message.content or "" for c in answer.choices}
        if masked == texts:
            return chunks
        # Masked: each choice's text in its first chunk, the other chunks emptied (usage and finish kept).
        seen: set[int] = set()
        for chunk in chunks:
            for choice in chunk.choices or []:
                index = choice.index or 0
                choice.text = "" if index in seen else masked.get(index, "")
                seen.add(index)
        return chunks

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.credential_cache = CredentialCache(lambda: self._load_credentials(bearer_token=None))
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else DEFAULT_TIMEOUT_S
        self.timeout_s = float(timeout)
        self.poster = PooledPoster(timeout_s=self.timeout_s)

    async def _apply_guardrail_to_content(
        self,
        content: Sequence[Any],
        bedrock_request_data: Mapping[str, object],
        api_key: str | None,
        request_data: dict[str, object] | None,
        event_type: GuardrailEventHooks,
        start_time: datetime,
        allow_chunking: bool,
    ) -> BedrockGuardrailResponse:
        # Same body as LiteLLM's, but credentials come from the cache instead of a thread-pool call.
        if bedrock_bearer_token(api_key) is not None:
            return await super()._apply_guardrail_to_content(
                content, bedrock_request_data, api_key, request_data, event_type, start_time, allow_chunking
            )
        try:
            identity = await self.credential_cache.get()
        except Exception as error:  # none, or the credential endpoint failed: fail closed, logged
            self._log_apply_guardrail_failure(
                detail=str(error), request_data=request_data, event_type=event_type,
                start_time=start_time, aws_region_name=None, completed_chunk_usages=[],
            )  # fmt: skip
            raise HTTPException(status_code=500, detail=str(error)) from error
        completed_chunk_usages: list = []
        try:
            responses = await self._apply_guardrail_content_with_chunking(
                content=content,
                base_request_data=bedrock_request_data,
                credentials=identity.credentials,
                aws_region_name=identity.region,
                api_key=api_key,
                request_data=request_data,
                event_type=event_type,
                start_time=start_time,
                allow_chunking=allow_chunking,
                completed_chunk_usages=completed_chunk_usages,
            )
        except HTTPException as exc:
            if exc.status_code == EXPIRED_CREDENTIALS_STATUS:
                self.credential_cache.invalidate()  # the next call resolves fresh credentials
            if not isinstance(exc.detail, dict):
                self._log_apply_guardrail_failure(
                    detail=exc.detail, request_data=request_data, event_type=event_type,
                    start_time=start_time, aws_region_name=identity.region,
                    completed_chunk_usages=completed_chunk_usages,
                )  # fmt: skip
            raise
        merged = self._merge_bedrock_guardrail_responses(responses)
        self._log_apply_guardrail_success(
            merged_response=merged, request_data=request_data, event_type=event_type,
            start_time=start_time, aws_region_name=identity.region,
        )  # fmt: skip
        return merged

    def _verdict_json(self, response: httpx.Response) -> dict:
        """The 200 body, if it is a verdict; anything else fails closed.

        LiteLLM lets a 200 that carries an AWS exception marker through on purpose; this gateway
        promises that nothing passes without a verdict, so such a body, one that is not JSON or
        one without a known `action`, is refused as an unanswered check (500, logged as such).
        """
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        output = body.get("Output")
        aws_exception = isinstance(output, dict) and "Exception" in str(output.get("__type", ""))
        if body.get("action") not in VERDICTS or aws_exception:  # the marker LiteLLM's own check reads
            detail = f"the guardrail answered 200 without a verdict: {response.text[:200]!r}"
            verbose_proxy_logger.error("Bedrock AI: %s", detail)
            raise HTTPException(status_code=500, detail=detail)
        return body

    async def _post_apply_guardrail_content(
        self,
        content: Sequence[Any],
        base_request_data: Mapping[str, object],
        credentials: Any,
        aws_region_name: str,
        api_key: str | None,
        request_data: dict | None,
        event_type: GuardrailEventHooks,
        start_time: datetime,
        completed_chunk_usages: list,
    ) -> BedrockGuardrailResponse:
        """One ApplyGuardrail call: LiteLLM's request preparation and verdict, signed inline, pooled POST."""
        if bedrock_bearer_token(api_key) is not None:
            return await super()._post_apply_guardrail_content(
                content, base_request_data, credentials, aws_region_name, api_key, request_data,
                event_type, start_time, completed_chunk_usages,
            )  # fmt: skip
        prepared = self._prepare_request(
            credentials=credentials,
            data={**base_request_data, "content": content},
            optional_params=self.optional_params,
            aws_region_name=aws_region_name,
            api_key=api_key,
        )
        if verbose_proxy_logger.isEnabledFor(logging.DEBUG):
            verbose_proxy_logger.debug("Bedrock guardrail request to %s", prepared.url)
        try:
            reply = await self.poster.post(prepared.url, prepared.body, dict(prepared.headers))
        except Exception as error:  # endpoint down, timeout, TLS: fail closed, recorded like LiteLLM does
            verbose_proxy_logger.error("Bedrock AI: failed to make guardrail request: %s", error)
            self.add_standard_logging_guardrail_information_to_request_data(
                guardrail_provider=self.guardrail_provider,
                guardrail_json_response={"error": str(error)},
                request_data=request_data or {},
                guardrail_status="guardrail_failed_to_respond",
                start_time=start_time.timestamp(),
                end_time=datetime.now(UTC).timestamp(),
                duration=(datetime.now(UTC) - start_time).total_seconds(),
                event_type=event_type,
            )
            # Added for issue 14 (bounded dependencies): a check that outlived `timeout`
            # (gateway/config.yaml) is a 504 that says so, still failing closed; other
            # transport errors keep LiteLLM's answer.
            if isinstance(error, TimeoutError):
                raise HTTPException(
                    status_code=TIMEOUT_STATUS,
                    detail=f"The content check (guardrail) timed out after {self.timeout_s:g} s; "
                    "the request was refused. Retry later.",
                ) from error
            raise
        response = httpx.Response(
            reply.status,
            headers=reply.headers,
            content=reply.body,
            request=httpx.Request("POST", prepared.url),
        )
        if reply.status != 200:
            status_code, detail = self._parse_bedrock_guardrail_error_response(response)
            verbose_proxy_logger.error(
                "Bedrock AI: error in response. Status code: %s, response: %s", reply.status, response.text
            )
            raise HTTPException(status_code=status_code, detail=detail)
        json_response = self._verdict_json(response)
        verdict = BedrockGuardrailResponse(**json_response)
        if self._should_raise_guardrail_blocked_exception(verdict):
            self._log_apply_guardrail_attempt(
                httpx_response=response, json_response=json_response, request_data=request_data,
                event_type=event_type, start_time=start_time, aws_region_name=aws_region_name,
                completed_chunk_usages=completed_chunk_usages,
            )  # fmt: skip
            raise self._get_http_exception_for_blocked_guardrail(verdict, request_data=request_data)
        usage = verdict.get("usage")
        if isinstance(usage, dict):
            completed_chunk_usages.append(usage)
        return verdict
