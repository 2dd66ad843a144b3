"""What the load test sends: prompts, request bodies, and how a streamed answer is checked.

Kept free of Locust (which monkey-patches the process with gevent on import) so
it can be unit-tested and reused.
"""

from __future__ import annotations

import json
import random
import uuid

SHORT_PROMPTS = (
    "What is Amazon Bedrock?",
    "Summarise the benefits of an API gateway in two sentences.",
    "How do I rotate an API key safely?",
    "Explain what a vector embedding is.",
    "Give three tips for writing a clear incident report.",
    "What does a load balancer do?",
    "Translate 'good morning' into French and German.",
    "Write a haiku about continuous integration.",
)
_LONG_SENTENCES = (
    "The platform team runs the gateway as a managed service for every product group.",
    "Requests are authenticated with virtual keys that carry budgets and rate limits.",
    "Each model alias maps to a Bedrock model, and fallbacks move traffic when a model is throttled.",
    "Responses are cached in Valkey for ten minutes when the same prompt is asked again.",
    "Every call is traced to Phoenix with its latency, token counts and cost.",
    "The guardrail checks prompts for attacks and masks personal data before the model sees it.",
    "Capacity is planned from the p95 latency at the expected number of concurrent users.",
    "Quarterly reviews compare model quality on a fixed evaluation set before a model is promoted.",
)
LONG_QUESTIONS = (
    "How are requests authenticated?",
    "Where are responses cached?",
    "What happens when a model is throttled?",
    "What is traced for every call?",
)
PASSAGES = (
    "Invoices are due thirty days after the delivery date.",
    "The office is closed on public holidays.",
    "Support tickets are answered within one business day.",
    "Passwords must be at least fourteen characters long.",
    "Backups are kept for thirty-five days.",
    "Travel must be booked through the internal portal.",
)
MAX_TOKENS = 256
TIMEOUT_S = 60


REPEAT_SHARE = 0.5  # share of short prompts asked verbatim from the pool (cache candidates)


def short_prompt(rng: random.Random) -> str:
    """A pool question; half the time with a ticket number, as users add their own details."""
    question = rng.choice(SHORT_PROMPTS)
    if rng.random() < REPEAT_SHARE:
        return question
    return f"{question} (ticket {uuid.uuid4().hex[:8]})"


def long_prompt(rng: random.Random) -> str:
    """~900 tokens of shuffled context and a question about it; a request id keeps it unique."""
    sentences = [rng.choice(_LONG_SENTENCES) for _ in range(48)]
    question = rng.choice(LONG_QUESTIONS)
    return f"Request {uuid.uuid4().hex[:12]}.\nContext: {' '.join(sentences)}\nQuestion: {question}"


def chat_body(alias: str, prompt: str, *, stream: bool) -> dict:
    return {
        "model": alias,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": MAX_TOKENS,
        "stream": stream,
    }


def stream_complete(lines) -> tuple[bool, int, str]:
    """(saw [DONE], content characters, error) of an OpenAI-style SSE stream."""
    chars = 0
    for raw in lines:
        if not raw:
            continue
        line = raw.decode() if isinstance(raw, bytes) else raw
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return True, chars, ""
        event = json.loads(data)
        if "error" in event:
            return False, chars, str(event["error"])[:200]
        for choice in event.get("choices", []):
            chars += len((choice.get("delta") or {}).get("content") or "")
    return False, chars, "the stream ended without [DONE]"
