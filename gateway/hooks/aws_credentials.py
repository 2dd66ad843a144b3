"""AWS credentials resolved once and reused until shortly before they expire.

LiteLLM 1.108.7 resolves credentials for every ApplyGuardrail call in a thread
pool (an executor hop and a cache-key hash per call). The credentials only
change when the ECS task role's temporary credentials rotate, so the guardrail
hook freezes them once and refreshes them before they expire, off the event
loop (the refresh may call the ECS credentials endpoint or STS).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from botocore.credentials import Credentials, ReadOnlyCredentials

# botocore refreshes RefreshableCredentials 15 min (advisory) / 10 min (mandatory) before
# expiry: reusing a frozen copy until then never signs with credentials botocore would renew.
REFRESH_MARGIN_S = 15 * 60
LAST_RESORT_MARGIN_S = 60
# Credentials that say nothing about their expiry (static keys, a session token from the
# environment) are re-resolved this often, so a rotated environment is picked up.
UNKNOWN_EXPIRY_MAX_AGE_S = 5 * 60

# Returns (credentials, region); may block (ECS credentials endpoint, STS).
Resolver = Callable[[], tuple[Credentials | None, str]]


class CredentialsUnavailable(RuntimeError):
    """No AWS credentials could be resolved: the guardrail must fail closed."""


@dataclass(frozen=True)
class SigningIdentity:
    credentials: ReadOnlyCredentials
    region: str
    reuse_until: float  # wall-clock seconds (expiry times are wall-clock)


def reuse_until(now: float, expiry: datetime | None) -> float:
    """How long a frozen copy may sign: before botocore would refresh it, never past expiry."""
    if expiry is None:
        return now + UNKNOWN_EXPIRY_MAX_AGE_S
    expires = expiry.timestamp()
    for margin in (REFRESH_MARGIN_S, LAST_RESORT_MARGIN_S):
        if expires - margin > now:
            return expires - margin
    return now  # about to expire: resolve again on the next call


class CredentialCache:
    """Single-flight, expiry-aware cache of one frozen credential set."""

    def __init__(self, resolve: Resolver, *, clock: Callable[[], float] = time.time) -> None:
        self._resolve = resolve
        self._clock = clock
        self._current: SigningIdentity | None = None
        self._lock: asyncio.Lock | None = None
        self.resolutions = 0  # how often the resolver ran (tests, diagnostics)

    async def get(self) -> SigningIdentity:
        current = self._current
        if current is not None and self._clock() < current.reuse_until:
            return current
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # concurrent requests at expiry trigger one resolution
            current = self._current
            if current is None or self._clock() >= current.reuse_until:
                current = await asyncio.to_thread(self._resolve_frozen)
                self._current = current
        return current

    def invalidate(self) -> None:
        """Forget the cached set (e.g. after AWS rejected its signature)."""
        self._current = None

    def _resolve_frozen(self) -> SigningIdentity:
        credentials, region = self._resolve()
        self.resolutions += 1
        if credentials is None:
            raise CredentialsUnavailable("no AWS credentials for the Bedrock guardrail")
        frozen = credentials.get_frozen_credentials()  # refreshes RefreshableCredentials if due
        if not frozen.access_key or not frozen.secret_key:
            raise CredentialsUnavailable("incomplete AWS credentials for the Bedrock guardrail")
        expiry = getattr(credentials, "_expiry_time", None)  # RefreshableCredentials only
        return SigningIdentity(
            credentials=frozen,
            region=region,
            reuse_until=reuse_until(self._clock(), expiry if isinstance(expiry, datetime) else None),
        )
