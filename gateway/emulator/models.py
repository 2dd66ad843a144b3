"""Bedrock Runtime behaviour without HTTP: validation, deterministic answers, usage, faults, stats.

Each model operation is split in two: `prepare_*` validates the request, applies
the fault plan and computes the answer (raising typed AWS errors), and the
returned `Prepared` renders the response once the caller has waited out the
injected latency and the latency model's time (latency.py), so
`metrics.latencyMs` reports the time really spent. A stream waits only for its
first token; the HTTP layer spaces the chunks by `per_token_s`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from gateway.emulator import answers
from gateway.emulator.catalog import NOVA, TITAN_EMBED, TITAN_TEXT, ModelSpec, resolve
from gateway.emulator.exceptions import AwsError, ValidationException
from gateway.emulator.faults import GUARDRAIL, FaultInjector
from gateway.emulator.guardrail import GuardrailEngine
from gateway.emulator.latency import LatencyModel, Timing
from gateway.emulator.tokens import TOKEN, count_tokens, split_deltas, truncate_to_tokens

CONVERSE, CONVERSE_STREAM = "Converse", "ConverseStream"
INVOKE, INVOKE_STREAM = "InvokeModel", "InvokeModelWithResponseStream"
APPLY_GUARDRAIL = "ApplyGuardrail"
_OPERATIONS = {
    NOVA: {CONVERSE, CONVERSE_STREAM, INVOKE, INVOKE_STREAM},
    TITAN_TEXT: {CONVERSE, CONVERSE_STREAM, INVOKE, INVOKE_STREAM},
    TITAN_EMBED: {INVOKE},
}
_DEFAULT_MAX_TOKENS = {NOVA: 5000, TITAN_TEXT: 512}
# A "long answer" prompt without a max-tokens setting gets this many tokens, not the model's default.
LONG_ANSWER_TOKENS = 1000
_WORDS_PER_DELTA = 3
_RECENT_CALLS = 100
_GUARDRAIL_VERSION_CHARS = frozenset("0123456789")
_TITAN_ROLE_MARKERS = re.compile(r"(?m)^\s*(?:User|Bot):\s*")

Event = tuple[str, dict[str, object]]  # (event type, JSON body)


@dataclass(frozen=True)
class Completion:
    """A computed answer and its honest usage."""

    spec: ModelSpec
    text: str
    stop_reason: str  # Converse vocabulary: end_turn | max_tokens | stop_sequence
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Prepared:
    """A validated, admitted call: wait `delay_s`, then `render(latency_ms)` the answer.

    A stream's `delay_s` is its time to first token; each later chunk waits
    `latency.chunk_gap(event_tokens(chunk), per_token_s)`.
    """

    delay_s: float
    render: Callable[[int], object]
    usage: tuple[int, int] = (0, 0)  # input/output tokens, for InvokeModel's response headers
    per_token_s: float = 0.0


class BedrockBackend:
    """All mutable state lives here (fault plans, statistics) and `reset()` clears it."""

    def __init__(
        self,
        guardrail: GuardrailEngine,
        faults: FaultInjector | None = None,
        latency: LatencyModel | None = None,
    ) -> None:
        self.guardrail = guardrail
        self.faults = faults or FaultInjector()
        self.latency = latency or LatencyModel()
        self._lock = threading.Lock()
        self._reset_stats()

    # ------------------------------------------------------------ model operations
    def prepare(self, operation: str, model_id: str, body: bytes) -> Prepared:
        spec = resolve(model_id)
        if operation not in _OPERATIONS[spec.family]:
            if operation == INVOKE_STREAM:
                raise ValidationException("The model is unsupported for streaming.")
            raise ValidationException(
                "This action doesn't support the model that you provided. "
                "Try again with a supported text or chat model."
            )
        request = _json_object(body)
        if spec.family == TITAN_EMBED:
            render, usage = _embedding(spec, request), (count_tokens(request["inputText"]), 0)
            return self._admit(
                model_id, spec, lambda _latency: render, usage, self.latency.embedding(usage[0])
            )
        if operation in (CONVERSE, CONVERSE_STREAM):
            completion = _complete(spec, *_converse_request(request, native=False))
            render = _converse_response if operation == CONVERSE else _converse_stream
        elif spec.family == NOVA:
            completion = _complete(spec, *_converse_request(request, native=True))
            render = _nova_invoke_response if operation == INVOKE else _nova_invoke_stream
        else:
            completion = _complete(spec, *_titan_request(request))
            render = _titan_response if operation == INVOKE else _titan_stream
        timing = self.latency.text(spec.label)
        if operation not in (CONVERSE_STREAM, INVOKE_STREAM):  # the whole answer before the first byte
            timing = Timing(timing.total_s(completion.output_tokens))
        return self._admit(
            model_id,
            spec,
            functools.partial(render, completion),
            (completion.input_tokens, completion.output_tokens),
            timing,
        )

    def _admit(
        self, model_id: str, spec: ModelSpec, render: Callable[[int], object], usage, timing: Timing
    ) -> Prepared:
        error, delay = self.faults.check((model_id, spec.base_id))
        if error is not None:
            raise error  # an error answers after the injected latency only, as a throttle does
        return Prepared(delay + timing.first_s, render, usage, timing.per_token_s)

    # ------------------------------------------------------------ guardrail
    def prepare_guardrail(self, guardrail_id: str, version: str, body: bytes) -> Prepared:
        numbered = 1 <= len(version) <= 8 and set(version) <= _GUARDRAIL_VERSION_CHARS and version[0] != "0"
        if version != "DRAFT" and not numbered:
            raise ValidationException(
                "1 validation error detected: Value at 'guardrailVersion' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: (([1-9][0-9]{0,7})|(DRAFT))"
            )
        request = _json_object(body)
        response = self.guardrail.apply(request)
        source = request["source"]
        with self._lock:
            self._guardrail_calls[source] += 1
            if response["action"] == "GUARDRAIL_INTERVENED":
                self._guardrail_interventions[source] += 1
        error, delay = self.faults.check((GUARDRAIL,))
        if error is not None:
            raise error
        checked = response["guardrailCoverage"]["textCharacters"]["total"]
        return Prepared(delay + self.latency.guardrail(checked).first_s, lambda _latency: response)

    # ------------------------------------------------------------ statistics and control
    def record(
        self, operation: str, target: str, status: int, error: AwsError | None = None, received: float = 0.0
    ) -> None:
        """Count one finished request (called by the HTTP layer with the final status).

        `time` is when the answer starts (a stream's first token), `received` when the request arrived:
        `nox -s ttft` splits a gateway call's time to first token with both.
        """
        with self._lock:
            self._calls[target][operation] += 1
            if error is not None:
                self._errors[target][error.code] += 1
            self._recent.append(
                {
                    "operation": operation,
                    "model_id": target,
                    "status": status,
                    "received": received or time.time(),
                    "time": time.time(),
                }
            )

    def stats(self) -> dict[str, object]:
        with self._lock:
            return {
                "total": sum(sum(ops.values()) for ops in self._calls.values()),
                "calls": {target: dict(ops) for target, ops in self._calls.items()},
                "errors": {target: dict(codes) for target, codes in self._errors.items()},
                "guardrail": {
                    "calls": dict(self._guardrail_calls),
                    "interventions": dict(self._guardrail_interventions),
                },
                "recent": list(self._recent),
            }

    def reset(self) -> None:
        self.faults.clear()
        with self._lock:
            self._reset_stats()

    def _reset_stats(self) -> None:
        self._calls: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._errors: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._guardrail_calls: Counter[str] = Counter()
        self._guardrail_interventions: Counter[str] = Counter()
        self._recent: deque[dict[str, object]] = deque(maxlen=_RECENT_CALLS)


# ---------------------------------------------------------------- request validation
def _json_object(body: bytes) -> dict[str, object]:
    try:
        value = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationException(
            f"Malformed input request: {exc.__class__.__name__}, please reformat your input."
        ) from None
    if not isinstance(value, dict):
        raise ValidationException(
            "Malformed input request: expected a JSON object, please reformat your input."
        )
    return value


def _reject_extra_keys(request: dict[str, object], allowed: set[str], where: str = "") -> None:
    extra = sorted(set(request) - allowed)
    if extra:
        raise ValidationException(
            f"Malformed input request: #{where}: extraneous key [{extra[0]}] is not permitted"
        )


def _texts(blocks: object, where: str) -> list[str]:
    if not isinstance(blocks, list):
        raise ValidationException(f"Malformed input request: {where} must be a list.")
    texts = []
    for block in blocks:
        if not isinstance(block, dict):
            raise ValidationException(f"Malformed input request: every item of {where} must be an object.")
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif isinstance(block.get("toolResult"), dict):
            texts.extend(
                c["text"]
                for c in block["toolResult"].get("content", [])
                if isinstance(c, dict) and "text" in c
            )
    return texts


def _converse_request(
    request: dict[str, object], *, native: bool
) -> tuple[str, str, int, int | None, list[str]]:
    """(prompt, latest user text, input tokens, max tokens, stop sequences) of a Converse/Nova request."""
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValidationException("The model returned the following errors: messages: must not be empty")
    expected = "user"
    conversation: list[str] = []
    latest_user = ""
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise ValidationException(
                f"Malformed input request: messages[{index}].role must be user or assistant."
            )
        if message["role"] != expected:
            raise ValidationException(
                "A conversation must start with a user message and alternate between user and assistant "
                "roles. "
                "Try again with a conversation that alternates user and assistant messages."
            )
        texts = _texts(message.get("content"), f"messages[{index}].content")
        conversation.extend(texts)
        if message["role"] == "user":
            latest_user = "\n".join(texts)
        expected = "assistant" if expected == "user" else "user"
    system = _texts(request.get("system", []), "system")
    config = request.get("inferenceConfig") or {}
    if not isinstance(config, dict):
        raise ValidationException("Malformed input request: inferenceConfig must be an object.")
    max_key = "max_new_tokens" if native and "max_new_tokens" in config else "maxTokens"
    max_tokens = _optional_int(config.get(max_key), max_key)
    stops = config.get("stopSequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise ValidationException("Malformed input request: stopSequences must be a list of strings.")
    for key in ("temperature", "topP", "top_p"):
        value = config.get(key)
        if value is not None and (not isinstance(value, int | float) or not 0 <= value <= 1):
            raise ValidationException(f"Malformed input request: {key} must be between 0 and 1.")
    prompt = "\n".join([*system, latest_user])
    input_tokens = sum(count_tokens(t) for t in [*system, *conversation])
    return prompt, latest_user, input_tokens, max_tokens, stops


def _titan_request(request: dict[str, object]) -> tuple[str, str, int, int | None, list[str]]:
    _reject_extra_keys(request, {"inputText", "textGenerationConfig"})
    text = request.get("inputText")
    if not isinstance(text, str):
        raise ValidationException("Malformed input request: #: required key [inputText] not found")
    config = request.get("textGenerationConfig") or {}
    if not isinstance(config, dict):
        raise ValidationException(
            "Malformed input request: #/textGenerationConfig: expected type: JSONObject"
        )
    _reject_extra_keys(
        config, {"maxTokenCount", "stopSequences", "temperature", "topP"}, "/textGenerationConfig"
    )
    max_tokens = _optional_int(config.get("maxTokenCount"), "maxTokenCount")
    stops = config.get("stopSequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise ValidationException(
            "Malformed input request: #/textGenerationConfig/stopSequences: expected type: JSONArray"
        )
    user_text = _TITAN_ROLE_MARKERS.sub(" ", text).strip()  # LiteLLM wraps chat turns as "User: ... Bot:"
    return text, user_text, count_tokens(text), max_tokens, stops


def _optional_int(value: object, name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationException(f"Malformed input request: {name} must be a positive integer.")
    return value


def _complete(
    spec: ModelSpec, prompt: str, user_text: str, input_tokens: int, max_tokens, stops
) -> Completion:
    lowered = prompt.lower()
    if answers.LONG_TRIGGER in lowered:
        length = max_tokens or LONG_ANSWER_TOKENS
        text = answers.long_answer(spec.label, length, harmful=answers.HARMFUL_TRIGGER in lowered)
    else:
        text = answers.answer(spec.label, spec.tier, prompt, user_text)
    stop_reason = "end_turn"
    for stop in stops:
        if stop and stop in text:
            text, stop_reason = text[: text.index(stop)], "stop_sequence"
    text, cut = truncate_to_tokens(text, max_tokens or _DEFAULT_MAX_TOKENS[spec.family])
    if cut:
        stop_reason = "max_tokens"
    return Completion(spec, text, stop_reason, input_tokens, count_tokens(text))


# ---------------------------------------------------------------- Converse
def _usage(c: Completion) -> dict[str, int]:
    return {
        "inputTokens": c.input_tokens,
        "outputTokens": c.output_tokens,
        "totalTokens": c.input_tokens + c.output_tokens,
    }


def _converse_response(c: Completion, latency_ms: int) -> dict[str, object]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": c.text}]}},
        "stopReason": c.stop_reason,
        "usage": _usage(c),
        "metrics": {"latencyMs": latency_ms},
    }


def _deltas(text: str) -> list[str]:
    words = split_deltas(text)
    return ["".join(words[i : i + _WORDS_PER_DELTA]) for i in range(0, len(words), _WORDS_PER_DELTA)]


def _converse_events(c: Completion) -> list[Event]:
    return [
        ("messageStart", {"role": "assistant"}),
        *(("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": d}}) for d in _deltas(c.text)),
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("messageStop", {"stopReason": c.stop_reason}),
    ]


def _converse_stream(c: Completion, latency_ms: int) -> list[Event]:
    return [*_converse_events(c), ("metadata", {"usage": _usage(c), "metrics": {"latencyMs": latency_ms}})]


def event_tokens(event: object) -> int:
    """Output tokens a stream event carries (Converse, Nova native or Titan chunk), for its pacing."""
    if isinstance(event, tuple):  # a Converse event: (type, body)
        name, body = event
        event = {name: body}
    if not isinstance(event, dict):
        return 0
    delta = event.get("contentBlockDelta")
    if isinstance(delta, dict):
        return count_tokens(str(delta.get("delta", {}).get("text", "")))
    return count_tokens(str(event.get("outputText") or ""))


# ---------------------------------------------------------------- InvokeModel: Nova native schema
def _invocation_metrics(c: Completion, latency_ms: int) -> dict[str, int]:
    return {
        "inputTokenCount": c.input_tokens,
        "outputTokenCount": c.output_tokens,
        "invocationLatency": latency_ms,
        "firstByteLatency": latency_ms,
    }


def _nova_invoke_response(c: Completion, _latency_ms: int) -> dict[str, object]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": c.text}]}},
        "stopReason": c.stop_reason,
        "usage": _usage(c),
    }


def _nova_invoke_stream(c: Completion, latency_ms: int) -> list[dict[str, object]]:
    chunks: list[dict[str, object]] = [{name: body} for name, body in _converse_events(c)]
    chunks.append(
        {
            "metadata": {
                "usage": {"inputTokens": c.input_tokens, "outputTokens": c.output_tokens},
                "metrics": {},
            },
            "amazon-bedrock-invocationMetrics": _invocation_metrics(c, latency_ms),
        }
    )
    return chunks


# ---------------------------------------------------------------- InvokeModel: Titan text
_TITAN_REASONS = {"end_turn": "FINISH", "max_tokens": "LENGTH", "stop_sequence": "STOP_CRITERIA_MET"}


def _titan_response(c: Completion, _latency_ms: int) -> dict[str, object]:
    return {
        "inputTextTokenCount": c.input_tokens,
        "results": [
            {
                "tokenCount": c.output_tokens,
                "outputText": c.text,
                "completionReason": _TITAN_REASONS[c.stop_reason],
            }
        ],
    }


def _titan_stream(c: Completion, latency_ms: int) -> list[dict[str, object]]:
    deltas = _deltas(c.text)
    chunks: list[dict[str, object]] = []
    emitted = 0
    for index, delta in enumerate(deltas):
        emitted += count_tokens(delta)
        last = index == len(deltas) - 1
        chunk: dict[str, object] = {
            "outputText": delta,
            "index": 0,
            "totalOutputTextTokenCount": emitted,
            "completionReason": _TITAN_REASONS[c.stop_reason] if last else None,
            "inputTextTokenCount": c.input_tokens if index == 0 else None,
        }
        if last:
            chunk["amazon-bedrock-invocationMetrics"] = _invocation_metrics(c, latency_ms)
        chunks.append(chunk)
    return chunks


# ---------------------------------------------------------------- InvokeModel: Titan embeddings
def _embedding(spec: ModelSpec, request: dict[str, object]) -> dict[str, object]:
    v2 = len(spec.embedding_dimensions) > 1
    _reject_extra_keys(
        request, {"inputText", "dimensions", "normalize", "embeddingTypes"} if v2 else {"inputText"}
    )
    text = request.get("inputText")
    if not isinstance(text, str) or not text.strip():
        raise ValidationException("Malformed input request: #/inputText: expected minLength: 1, actual: 0")
    dimensions = request.get("dimensions", spec.embedding_dimensions[0])
    if dimensions not in spec.embedding_dimensions:
        raise ValidationException(
            f"Malformed input request: #/dimensions: {dimensions} is not a valid enum value, "
            f"allowed: {list(spec.embedding_dimensions)}"
        )
    normalize = request.get("normalize", True)
    if not isinstance(normalize, bool):
        raise ValidationException("Malformed input request: #/normalize: expected type: Boolean")
    types = request.get("embeddingTypes", ["float"])
    if not isinstance(types, list) or not types or not set(types) <= {"float", "binary"}:
        raise ValidationException(
            "Malformed input request: #/embeddingTypes: allowed values are float and binary"
        )
    vector = embed(text, dimensions, normalize=normalize)
    response: dict[str, object] = {"embedding": vector, "inputTextTokenCount": count_tokens(text)}
    if "embeddingTypes" in request:
        by_type: dict[str, object] = {}
        if "float" in types:
            by_type["float"] = vector
        if "binary" in types:
            by_type["binary"] = [1 if v > 0 else 0 for v in vector]
        response["embeddingsByType"] = by_type
    return response


@functools.lru_cache(maxsize=4096)
def _token_vector(token: str, dimensions: int) -> tuple[float, ...]:
    digest = hashlib.shake_256(token.encode()).digest(dimensions)
    return tuple((byte - 127.5) / 127.5 for byte in digest)


def embed(text: str, dimensions: int, *, normalize: bool = True) -> list[float]:
    """A dense, deterministic embedding: the sum of per-token pseudo-random vectors.

    Texts sharing words get similar vectors (cosine similarity grows with overlap), which is
    all a semantic-cache or retrieval test needs.
    """
    total = [0.0] * dimensions
    for token in (t.lower() for t in TOKEN.findall(text)):
        for i, value in enumerate(_token_vector(token, dimensions)):
            total[i] += value
    norm = math.sqrt(sum(v * v for v in total)) or 1.0
    scale = 1 / norm if normalize else 1.0
    return [round(v * scale, 6) for v in total]
