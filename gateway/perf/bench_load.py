"""The benchmark's callers and its closed-loop driver.

The callers send the same question (made unique per request so the gateway's
response cache always misses and every call reaches the model) over one
keep-alive httpx connection pool:

- `direct`: a Converse call to the Bedrock emulator, SigV4-signed per request
  with botocore, exactly as LiteLLM signs (the signing cost is on the client,
  as it would be in any direct integration);
- `gateway`: the OpenAI-compatible chat call to LiteLLM with the same content;
- `guardrail`: one ApplyGuardrail round trip on the same question, signed the same way: the
  unit issue 19's latency targets are written in (the gateway checks the prompt and the answer).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gateway.perf.bench_stats import Sample

QUESTION = "What is Amazon Bedrock?"
MAX_TOKENS = 64
OVERHEAD_HEADER = "x-litellm-overhead-duration-ms"

# One call: returns (ok, overhead ms or None), or for a streamed call (ok, None, seconds to first text).
Call = Callable[[httpx.AsyncClient, str], Awaitable[tuple]]


def unique_prompt(run_id: str, n: int) -> str:
    return f"[bench {run_id}-{n}] {QUESTION}"


def _converse_body(prompt: str) -> dict:
    return {
        "messages": [{"role": "user", "content": [{"text": prompt}]}],
        "inferenceConfig": {"maxTokens": MAX_TOKENS},
    }


def _guardrail_body(prompt: str) -> dict:
    return {"source": "INPUT", "content": [{"text": {"text": prompt}}]}


def _signed_converse(
    url: str, access_key: str, secret_key: str, region: str, shape: Callable[[str], dict] = _converse_body
) -> Callable[[str], tuple[bytes, dict[str, str]]]:
    """The body and SigV4 headers of one Bedrock request to `url`, as boto3 would sign it."""
    signer = SigV4Auth(Credentials(access_key, secret_key), "bedrock", region)

    def sign(prompt: str) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(shape(prompt)).encode()
        request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
        signer.add_auth(request)
        return body, dict(request.headers.items())

    return sign


def direct_call(endpoint: str, model_id: str, access_key: str, secret_key: str, region: str) -> Call:
    url = f"{endpoint.rstrip('/')}/model/{quote(model_id, safe='')}/converse"
    sign = _signed_converse(url, access_key, secret_key, region)

    async def call(client: httpx.AsyncClient, prompt: str) -> tuple[bool, float | None]:
        body, headers = sign(prompt)
        response = await client.post(url, content=body, headers=headers)
        return response.status_code == 200 and "output" in response.json(), None

    return call


def guardrail_call(
    endpoint: str, guardrail_id: str, version: str, access_key: str, secret_key: str, region: str
) -> Call:
    """ApplyGuardrail on the question, as the gateway's INPUT check sends it."""
    url = f"{endpoint.rstrip('/')}/guardrail/{quote(guardrail_id, safe='')}/version/{version}/apply"
    sign = _signed_converse(url, access_key, secret_key, region, _guardrail_body)

    async def call(client: httpx.AsyncClient, prompt: str) -> tuple[bool, float | None]:
        body, headers = sign(prompt)
        response = await client.post(url, content=body, headers=headers)
        return response.status_code == 200 and "action" in response.json(), None

    return call


def gateway_call(url: str, key: str, alias: str) -> Call:
    endpoint = f"{url.rstrip('/')}/v1/chat/completions"
    headers = {"Authorization": f"Bearer {key}"}

    async def call(client: httpx.AsyncClient, prompt: str) -> tuple[bool, float | None]:
        body = {"model": alias, "messages": [{"role": "user", "content": prompt}], "max_tokens": MAX_TOKENS}
        response = await client.post(endpoint, json=body, headers=headers)
        overhead = response.headers.get(OVERHEAD_HEADER)
        ok = response.status_code == 200 and bool(response.json()["choices"][0]["message"].get("content"))
        return ok, float(overhead) if overhead else None

    return call


def direct_stream(endpoint: str, model_id: str, access_key: str, secret_key: str, region: str) -> Call:
    """ConverseStream to the emulator: the first event-stream frame carrying text is the first token."""
    url = f"{endpoint.rstrip('/')}/model/{quote(model_id, safe='')}/converse-stream"
    sign = _signed_converse(url, access_key, secret_key, region)

    async def call(client: httpx.AsyncClient, prompt: str) -> tuple:
        body, signed = sign(prompt)
        started, first = time.perf_counter(), None
        async with client.stream("POST", url, content=body, headers=signed) as response:
            async for chunk in response.aiter_bytes():
                if first is None and b'"text"' in chunk:
                    first = time.perf_counter() - started
            ok = response.status_code == 200 and first is not None
        return ok, None, first

    return call


def gateway_stream(url: str, key: str, alias: str) -> Call:
    """The same question streamed through the gateway (SSE): the first delta with text is the first token."""
    endpoint = f"{url.rstrip('/')}/v1/chat/completions"
    headers = {"Authorization": f"Bearer {key}"}

    async def call(client: httpx.AsyncClient, prompt: str) -> tuple:
        body = {
            "model": alias, "messages": [{"role": "user", "content": prompt}],
            "max_tokens": MAX_TOKENS, "stream": True,
        }  # fmt: skip
        started, first, done = time.perf_counter(), None, False
        async with client.stream("POST", endpoint, json=body, headers=headers) as response:
            async for line in response.aiter_lines():
                if line == "data: [DONE]":
                    done = True
                elif first is None and line.startswith("data: "):
                    choices = json.loads(line[6:]).get("choices") or [{}]
                    if choices[0].get("delta", {}).get("content"):
                        first = time.perf_counter() - started
            ok = response.status_code == 200 and done and first is not None
        return ok, None, first

    return call


async def drive(call: Call, *, concurrency: int, requests: int, max_seconds: float, run_id: str) -> Sample:
    """`concurrency` workers send back-to-back requests until `requests` are sent or time is up."""
    latencies: list[float] = []
    overheads: list[float] = []
    first_tokens: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal issued, errors
        while issued < requests and time.perf_counter() < deadline:
            issued += 1
            prompt = unique_prompt(run_id, issued)
            started = time.perf_counter()
            first = None
            try:
                ok, overhead, *rest = await call(client, prompt)
                first = rest[0] if rest else None
            except (httpx.HTTPError, ValueError, KeyError):
                ok, overhead = False, None
            if ok:
                latencies.append(time.perf_counter() - started)
                if overhead is not None:
                    overheads.append(overhead)
                if first is not None:
                    first_tokens.append(first)
            else:
                errors += 1

    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Sample(
        latencies_s=latencies, errors=errors, elapsed_s=elapsed, overheads_ms=overheads,
        first_token_s=first_tokens,
    )  # fmt: skip


def run(call: Call, *, concurrency: int, requests: int, max_seconds: float) -> Sample:
    return asyncio.run(
        drive(
            call,
            concurrency=concurrency,
            requests=requests,
            max_seconds=max_seconds,
            run_id=uuid.uuid4().hex[:8],
        )
    )
