"""gateway/hooks/aws_credentials.py: credentials frozen once, refreshed before they expire, fail closed."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest
from botocore.credentials import Credentials

from gateway.hooks import aws_credentials
from gateway.hooks.aws_credentials import CredentialCache, CredentialsUnavailable

NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Rotating(Credentials):
    """Like botocore's RefreshableCredentials: a new key pair per resolution, with an expiry."""

    def __init__(self, number: int, expiry: datetime) -> None:
        super().__init__(f"AKIAROTATING{number:04d}", f"secret-{number}", f"token-{number}")
        self._expiry_time = expiry


def _resolver(make):
    calls = []

    def resolve():
        calls.append(threading.current_thread().name)
        return make(len(calls)), "eu-west-1"

    return resolve, calls


def test_static_credentials_are_resolved_once_and_reused():
    resolve, calls = _resolver(lambda n: Credentials(f"AKIASTATIC{n}", "secret"))
    cache = CredentialCache(resolve, clock=Clock())

    async def many():
        return [await cache.get() for _ in range(50)]

    identities = asyncio.run(many())
    assert len(calls) == 1
    assert {i.credentials.access_key for i in identities} == {"AKIASTATIC1"}
    assert identities[0].region == "eu-west-1"


def test_credentials_are_resolved_off_the_event_loop_thread():
    resolve, calls = _resolver(lambda n: Credentials("AKIA", "secret"))
    asyncio.run(CredentialCache(resolve, clock=Clock()).get())
    assert calls != [threading.main_thread().name]


def test_credentials_without_an_expiry_are_resolved_again_after_the_maximum_age():
    clock = Clock()
    resolve, _calls = _resolver(lambda n: Credentials(f"AKIASTATIC{n}", "secret"))
    cache = CredentialCache(resolve, clock=clock)
    asyncio.run(cache.get())
    clock.now += aws_credentials.UNKNOWN_EXPIRY_MAX_AGE_S - 1
    assert asyncio.run(cache.get()).credentials.access_key == "AKIASTATIC1"
    clock.now += 2
    assert asyncio.run(cache.get()).credentials.access_key == "AKIASTATIC2"


def test_rotating_task_role_credentials_are_replaced_before_botocore_would_refresh_them():
    clock = Clock()
    expiry = datetime.fromtimestamp(NOW + 3600, tz=UTC)
    resolve, _calls = _resolver(lambda n: Rotating(n, expiry))
    cache = CredentialCache(resolve, clock=clock)
    first = asyncio.run(cache.get())
    assert first.credentials.token == "token-1"
    clock.now = NOW + 3600 - aws_credentials.REFRESH_MARGIN_S - 1
    assert asyncio.run(cache.get()).credentials.token == "token-1"
    clock.now += 2
    assert asyncio.run(cache.get()).credentials.token == "token-2"


def test_credentials_close_to_expiry_are_used_at_most_until_a_minute_before_it():
    expires = NOW + 5 * 60  # inside botocore's refresh window already
    assert aws_credentials.reuse_until(NOW, datetime.fromtimestamp(expires, tz=UTC)) == (
        expires - aws_credentials.LAST_RESORT_MARGIN_S
    )


def test_credentials_about_to_expire_are_never_reused():
    expiry = datetime.fromtimestamp(NOW + 30, tz=UTC)
    assert aws_credentials.reuse_until(NOW, expiry) == NOW


def test_concurrent_requests_at_expiry_resolve_the_credentials_once():
    gate = threading.Event()

    def slow(n):
        gate.wait(5)
        return Credentials(f"AKIA{n}", "secret")

    resolve, calls = _resolver(slow)
    cache = CredentialCache(resolve, clock=Clock())

    async def burst():
        tasks = [asyncio.create_task(cache.get()) for _ in range(20)]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(*tasks)

    identities = asyncio.run(burst())
    assert len(calls) == 1
    assert len({id(i) for i in identities}) == 1


def test_no_credentials_fail_closed():
    cache = CredentialCache(lambda: (None, "us-east-1"), clock=Clock())
    with pytest.raises(CredentialsUnavailable):
        asyncio.run(cache.get())


def test_invalidated_credentials_are_resolved_again_on_the_next_call():
    resolve, _calls = _resolver(lambda n: Credentials(f"AKIA{n}", "secret"))
    cache = CredentialCache(resolve, clock=Clock())
    asyncio.run(cache.get())
    cache.invalidate()
    assert asyncio.run(cache.get()).credentials.access_key == "AKIA2"
