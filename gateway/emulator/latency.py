"""How long Bedrock takes: a per-model latency model, and the `instant` profile tests use.

An instant upstream hides what a gateway adds to the latency users feel, so the
`realistic` profile times every call the way Bedrock's published figures do:
time to first token (TTFT), then output tokens at the model's rate, each with
jitter; embeddings and ApplyGuardrail calls take a base time plus a share per
unit of input. Sources of each default are in README.md ("Latency"); the ones
marked ASSUMED there have no public figure.

Jitter is log-normal (the shape of service latencies: a floor-less median with a
right tail): a request draws its TTFT and its token rate once, and each streamed
chunk gets a small extra spread, so chunks are not metronomic.
"""

from __future__ import annotations

import argparse
import math
import random
import threading
from dataclasses import dataclass

REALISTIC, INSTANT = "realistic", "instant"
PROFILES = (REALISTIC, INSTANT)


@dataclass(frozen=True)
class TextModelLatency:
    """Median time to first token and median output rate of one text model."""

    ttft_s: float
    tokens_per_s: float


# Keyed by the catalogue's label (catalog.py); README.md gives each figure's source.
TEXT_MODELS = {
    "nova-micro": TextModelLatency(ttft_s=0.30, tokens_per_s=200.0),
    "nova-lite": TextModelLatency(ttft_s=0.40, tokens_per_s=170.0),
    "nova-pro": TextModelLatency(ttft_s=0.30, tokens_per_s=140.0),
    "nova-premier": TextModelLatency(ttft_s=0.80, tokens_per_s=70.0),  # ASSUMED
    "titan-text-premier": TextModelLatency(ttft_s=0.50, tokens_per_s=80.0),  # ASSUMED
    "titan-text-express": TextModelLatency(ttft_s=0.50, tokens_per_s=80.0),  # ASSUMED
    "titan-text-lite": TextModelLatency(ttft_s=0.40, tokens_per_s=100.0),  # ASSUMED
}
# ASSUMED: Titan Text Embeddings v2, one short text: a base time plus a little per input token.
EMBEDDING_BASE_S = 0.060
EMBEDDING_PER_TOKEN_S = 0.0001
# ASSUMED (AWS publishes no ApplyGuardrail latency): a base time plus a share per text unit
# (1,000 characters, the unit AWS bills by), so a long answer's OUTPUT check costs more.
GUARDRAIL_BASE_S = 0.150
GUARDRAIL_PER_UNIT_S = 0.040
GUARDRAIL_UNIT_CHARS = 1000
# Log-normal sigma of a request's TTFT and token rate, and of each chunk's spacing.
REQUEST_SIGMA = 0.20
CHUNK_SIGMA = 0.30


def add_latency_argument(parser: argparse.ArgumentParser, *, default: str) -> None:
    """The one `--latency` option the emulator CLI, the local stack and the perf tools share."""
    parser.add_argument(
        "--latency",
        choices=PROFILES,
        default=default,
        help=f"Bedrock emulator timing: realistic (published per-model TTFT and token rates, "
        f"gateway/emulator/README.md) or instant (default: {default})",
    )


@dataclass(frozen=True)
class Timing:
    """One call's plan: wait `first_s` before the first byte, then `per_token_s` per output token."""

    first_s: float
    per_token_s: float = 0.0

    def total_s(self, output_tokens: int) -> float:
        return self.first_s + output_tokens * self.per_token_s


NO_WAIT = Timing(0.0)


class LatencyModel:
    """The `realistic` or `instant` profile; `seed` makes a run's jitter reproducible, `jitter=False`
    gives every call the medians (tests bound waits from below with them)."""

    def __init__(self, profile: str = INSTANT, *, seed: int | None = None, jitter: bool = True) -> None:
        if profile not in PROFILES:
            raise ValueError(f"latency profile {profile!r}: choose from {', '.join(PROFILES)}")
        self.profile = profile
        self.jitter = jitter
        self._rng = random.Random(seed)  # noqa: S311 - jitter, not secrets
        self._lock = threading.Lock()

    @property
    def instant(self) -> bool:
        return self.profile == INSTANT

    def _spread(self, sigma: float) -> float:
        """A multiplier with median 1: exp(N(0, sigma))."""
        if not self.jitter:
            return 1.0
        with self._lock:
            return math.exp(self._rng.gauss(0.0, sigma))

    def text(self, label: str) -> Timing:
        """A text-model call: TTFT and seconds per output token, drawn once for the request."""
        if self.instant:
            return NO_WAIT
        model = TEXT_MODELS[label]
        rate = model.tokens_per_s * self._spread(REQUEST_SIGMA)
        return Timing(model.ttft_s * self._spread(REQUEST_SIGMA), 1.0 / rate)

    def embedding(self, input_tokens: int) -> Timing:
        if self.instant:
            return NO_WAIT
        return Timing((EMBEDDING_BASE_S + input_tokens * EMBEDDING_PER_TOKEN_S) * self._spread(REQUEST_SIGMA))

    def guardrail(self, characters: int) -> Timing:
        """ApplyGuardrail: grows with the text units (1,000 characters each) it is asked to check."""
        if self.instant:
            return NO_WAIT
        units = max(1, math.ceil(characters / GUARDRAIL_UNIT_CHARS))
        return Timing((GUARDRAIL_BASE_S + units * GUARDRAIL_PER_UNIT_S) * self._spread(REQUEST_SIGMA))

    def chunk_gap(self, tokens: int, per_token_s: float) -> float:
        """Seconds between one streamed chunk and the next one carrying `tokens` tokens."""
        if self.instant or tokens <= 0:
            return 0.0
        return tokens * per_token_s * self._spread(CHUNK_SIGMA)
