"""One keep-alive aiohttp session per event loop for the guardrail's ApplyGuardrail calls.

LiteLLM posts guardrail calls through httpx on top of an aiohttp transport; the
httpx layer (request building, cookie extraction, response wrapping) cost more
CPU per call than the call itself here. The guardrail needs only POST bytes ->
status, headers, bytes. TLS verification follows LiteLLM's own settings
(SSL_CERT_FILE, ssl_verify), never disabled by this module.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

import aiohttp
from litellm.llms.custom_httpx.http_handler import get_ssl_configuration

MAX_CONNECTIONS = 100


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def _ssl_setting() -> ssl.SSLContext | bool:
    setting = get_ssl_configuration()
    if isinstance(setting, str):  # a CA bundle path
        return ssl.create_default_context(cafile=setting)
    return setting


class PooledPoster:
    """POSTs over a session reused across calls; a new loop (a new worker, a test) gets its own."""

    def __init__(self, *, timeout_s: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _session_for_loop(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, ssl=_ssl_setting(), ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                cookie_jar=aiohttp.DummyCookieJar(),
                # The body is handed on with its headers (to httpx, which decodes by Content-Encoding
                # itself): decoded here as well, a compressed reply would be decoded twice and fail.
                auto_decompress=False,
            )
            self._loop = loop
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Reply:
        session = self._session_for_loop()
        # Never follow a redirect: a 3xx is an answer that is not a verdict (and following one would
        # re-send the prompt and the session token elsewhere).
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
            payload = await response.read()
            return Reply(status=response.status, headers=dict(response.headers), body=payload)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
