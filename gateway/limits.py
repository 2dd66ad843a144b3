"""What one request may ask of the gateway, and what its answers may tell: the values and their bounds.

One source of truth for the five request-limit settings. An environment sets them in the `api:`
section of environments/<env>/config.yaml (modules/config.py checks them against the bounds here
and takes its defaults from here); they reach the container as the GATEWAY_* variables below; the
entrypoint validates them with `from_env` before the proxy starts, and the proxy's request layer
(gateway/asgi.py), its request hook (gateway/hooks/request_limits.py) and its response cache
(gateway/hooks/response_cache.py) read them with the same function. Standard library only: synth
imports this module too.

Why the defaults are what they are (docs/gateway.md, "Request limits"):
- body 4 MiB: the longest context served, Nova Pro/Lite's 300k tokens, is about 1.2 MB of English
  text at ~4 bytes a token and at most ~1.8 MB when every token is a JSON `\\uXXXX` escape; 4 MiB
  holds that twice over with the message structure, and refuses the 10 MB bodies that made four
  concurrent requests fail with 500s after 31 s;
- 128 embedding inputs: Titan embeddings take one text per call, so each input is one model call
  (2,000 inputs were 2,000 calls in 21 s); 128 is above the batch sizes common clients send;
- 10,000 `max_tokens`: the largest answer any catalogue model can write (Nova: 10k, Titan Text
  Express: 8k); a larger value cannot be honoured and only holds a connection open longer;
- 256 KiB cached answer: a 10,000-token answer is about 40-60 KB of JSON; anything much larger
  is not a repeatable chat answer and would crowd Valkey (a 10 MB answer was written);
- internal headers off: model ids, versions and API bases are for operators, not clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MIB = 1024 * 1024
KIB = 1024

# variable -> (field, lower bound, upper bound, default); integers.
MAX_REQUEST_BODY_MB = "GATEWAY_MAX_REQUEST_BODY_MB"
MAX_EMBEDDING_INPUTS = "GATEWAY_MAX_EMBEDDING_INPUTS"
MAX_TOKENS = "GATEWAY_MAX_TOKENS"
MAX_CACHED_ANSWER_KB = "GATEWAY_MAX_CACHED_ANSWER_KB"
EXPOSE_INTERNAL_HEADERS = "GATEWAY_EXPOSE_INTERNAL_HEADERS"

INTEGER_SETTINGS: dict[str, tuple[str, int, int, int]] = {
    MAX_REQUEST_BODY_MB: ("max_request_body_mb", 1, 64, 4),
    MAX_EMBEDDING_INPUTS: ("max_embedding_inputs", 1, 2048, 128),
    MAX_TOKENS: ("max_tokens", 1, 200_000, 10_000),
    MAX_CACHED_ANSWER_KB: ("max_cached_answer_kb", 1, 16_384, 256),
}
BOOLEAN_SETTINGS: dict[str, tuple[str, bool]] = {
    EXPOSE_INTERNAL_HEADERS: ("expose_internal_headers", False),
}
VARIABLES = (*INTEGER_SETTINGS, *BOOLEAN_SETTINGS)


class LimitsError(ValueError):
    """A GATEWAY_* limit variable is malformed; the message names it and what is allowed."""


@dataclass(frozen=True, kw_only=True)
class RequestLimits:
    """The limits one gateway process enforces (field names are the `api:` keys of the environment file)."""

    max_request_body_mb: int = INTEGER_SETTINGS[MAX_REQUEST_BODY_MB][3]
    max_embedding_inputs: int = INTEGER_SETTINGS[MAX_EMBEDDING_INPUTS][3]
    max_tokens: int = INTEGER_SETTINGS[MAX_TOKENS][3]
    max_cached_answer_kb: int = INTEGER_SETTINGS[MAX_CACHED_ANSWER_KB][3]
    expose_internal_headers: bool = BOOLEAN_SETTINGS[EXPOSE_INTERNAL_HEADERS][1]

    @property
    def max_request_body_bytes(self) -> int:
        return self.max_request_body_mb * MIB

    @property
    def max_cached_answer_bytes(self) -> int:
        return self.max_cached_answer_kb * KIB

    def to_env(self) -> dict[str, str]:
        """The container variables for these values (what the task definition sets)."""
        out = {name: str(getattr(self, field)) for name, (field, *_) in INTEGER_SETTINGS.items()}
        out.update(
            {
                name: "true" if getattr(self, field) else "false"
                for name, (field, _) in BOOLEAN_SETTINGS.items()
            }
        )
        return out


DEFAULTS = RequestLimits()


def bounds(field: str) -> tuple[int, int]:
    """(lowest, highest) allowed value of an integer setting, by its field name."""
    for name, low, high, _ in INTEGER_SETTINGS.values():
        if name == field:
            return low, high
    raise KeyError(field)


def from_env(env: Mapping[str, str]) -> RequestLimits:
    """The limits the variables ask for; unset or empty means the default. Raises LimitsError."""
    values: dict[str, object] = {}
    for name, (field, low, high, _default) in INTEGER_SETTINGS.items():
        raw = (env.get(name) or "").strip()
        if not raw:
            continue
        try:
            value = int(raw)
        except ValueError:
            raise LimitsError(f"{name} must be an integer from {low} to {high}, got {raw!r}") from None
        if not low <= value <= high:
            raise LimitsError(f"{name} must be an integer from {low} to {high}, got {value}")
        values[field] = value
    for name, (field, _default) in BOOLEAN_SETTINGS.items():
        raw = (env.get(name) or "").strip().lower()
        if not raw:
            continue
        if raw not in ("true", "false"):
            raise LimitsError(f"{name} must be true or false, got {env[name]!r}")
        values[field] = raw == "true"
    return RequestLimits(**values)  # type: ignore[arg-type]  # fields and types come from the tables above
