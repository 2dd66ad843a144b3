"""Gateway traffic for Locust: several aliases, short and long prompts, streams and embeddings.

Headless (what `nox -s load` runs): `python -m gateway.perf.load`.
Interactive, as in the reference design (web UI on http://127.0.0.1:8089):

    GATEWAY_API_KEY=sk-... locust -f gateway/perf/locustfile.py \
        --host http://127.0.0.1:4000 --web-host 127.0.0.1

The mix (task weights, out of 100) approximates an internal assistant's traffic:

| share | request | why |
|---|---|---|
| 40 | short chat question, non-streamed | the common case; half verbatim from a pool (cache hits) |
| 15 | long chat (~900-token RAG context + question), non-streamed | retrieval-augmented; unique |
| 30 | short or long chat, streamed (SSE) | chat UIs stream; timed until the last event, not the first byte |
| 15 | embeddings of 1-8 short passages | indexing and retrieval |

Chat requests go round-robin-at-random over every chat alias of the catalogue
(or GATEWAY_LOAD_CHAT_ALIASES), embeddings over GATEWAY_LOAD_EMBEDDING_ALIASES.
Locust rows are named by alias: type POST for chat and embeddings, STREAM for streams.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import requests
from locust import HttpUser, between, task

# `locust -f gateway/perf/locustfile.py` puts only gateway/perf on the path.
_REPO = str(Path(__file__).resolve().parents[2])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)
from gateway.perf.aliases import aliases  # noqa: E402
from gateway.perf.traffic import (  # noqa: E402
    PASSAGES,
    TIMEOUT_S,
    chat_body,
    long_prompt,
    short_prompt,
    stream_complete,
)


def _key() -> str:
    for name in ("GATEWAY_API_KEY", "LITELLM_API_KEY"):
        if os.environ.get(name):
            return os.environ[name]
    raise RuntimeError("set GATEWAY_API_KEY (or LITELLM_API_KEY) to the gateway key")


class GatewayUser(HttpUser):
    """One client application; waits 0.2-1 s between calls (think time of a service, not a human)."""

    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        self.rng = random.Random()  # noqa: S311  # traffic shape, not security
        self.chat_aliases = aliases("chat", "GATEWAY_LOAD_CHAT_ALIASES")
        self.embedding_aliases = aliases("embedding", "GATEWAY_LOAD_EMBEDDING_ALIASES")
        self.headers = {"Authorization": f"Bearer {_key()}"}
        self.client.headers.update(self.headers)
        # Streams are timed by hand (Locust times a streamed response to its first byte),
        # on a keep-alive session of their own.
        self.stream_session = requests.Session()
        self.stream_session.headers.update(self.headers)

    def on_stop(self) -> None:
        self.stream_session.close()

    # ---------------------------------------------------------------- tasks
    @task(40)
    def short_chat(self) -> None:
        self._chat(short_prompt(self.rng))

    @task(15)
    def long_chat(self) -> None:
        self._chat(long_prompt(self.rng))

    @task(30)
    def streamed_chat(self) -> None:
        prompt = long_prompt(self.rng) if self.rng.random() < 0.3 else short_prompt(self.rng)
        self._stream(prompt)

    @task(15)
    def embedding(self) -> None:
        if not self.embedding_aliases:
            return
        alias = self.rng.choice(self.embedding_aliases)
        texts = self.rng.sample(PASSAGES, self.rng.randint(1, len(PASSAGES)))
        body = {"model": alias, "input": texts}
        with self.client.post(
            "/v1/embeddings", json=body, name=alias, catch_response=True, timeout=TIMEOUT_S
        ) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}: {r.text[:200]}")
            elif len(r.json().get("data", [])) != len(texts):
                r.failure("wrong number of embeddings")

    # ---------------------------------------------------------------- helpers
    def _chat(self, prompt: str) -> None:
        alias = self.rng.choice(self.chat_aliases)
        body = chat_body(alias, prompt, stream=False)
        with self.client.post(
            "/v1/chat/completions", json=body, name=alias, catch_response=True, timeout=TIMEOUT_S
        ) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}: {r.text[:200]}")
            elif not r.json()["choices"][0]["message"].get("content"):
                r.failure("empty answer")

    def _stream(self, prompt: str) -> None:
        alias = self.rng.choice(self.chat_aliases)
        body = chat_body(alias, prompt, stream=True)
        started = time.perf_counter()
        error: Exception | None = None
        length = 0
        try:
            with self.stream_session.post(
                f"{self.host.rstrip('/')}/v1/chat/completions", json=body, stream=True, timeout=TIMEOUT_S
            ) as response:
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
                done, length, message = stream_complete(response.iter_lines())
                if not done:
                    raise RuntimeError(message)
        except Exception as exc:  # every failure is reported to Locust, none stops the user
            error = exc
        self.environment.events.request.fire(
            request_type="STREAM",
            name=alias,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=error,
            context={},
        )
