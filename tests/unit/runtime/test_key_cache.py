"""Specification of the key cache: a request spends no round trip on a key it saw recently, and a
revocation (announced by NOTIFY) or a lost listener ends that at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from services.runtime.auth import KeyCache, Principal, hash_key
from services.runtime.roles import Role

KEY = "sk_example"
PRINCIPAL = Principal(Role.PROVIDER, "12345678", "abc")


class KeyStore:
    """What ``KeyCache`` asks of a pool: one row per known key; counts the lookups."""

    def __init__(self, expires_at: datetime | None = None) -> None:
        self.rows: dict[str, dict[str, Any]] = {
            hash_key(KEY): {"role": "provider", "subject": "12345678", "id": "abc", "expires_at": expires_at}
        }
        self.lookups = 0
        self.during_lookup: list[Any] = []

    async def fetchrow(self, _query: str, digest: str) -> dict[str, Any] | None:
        self.lookups += 1
        for action in self.during_lookup:
            action()
        return self.rows.get(digest)


class Signal:
    """A ``PgSignal`` stand-in: a new event per notification, and whether it is listening."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.listening = asyncio.Event()
        self.listening.set()

    def current(self) -> asyncio.Event:
        return self._event

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def cache(store: KeyStore, signal: Signal, clock: Clock | None = None) -> KeyCache:
    return KeyCache(store, signal, ttl_seconds=10, clock=clock or Clock())  # type: ignore[arg-type]


async def test_a_key_seen_recently_is_not_looked_up_again() -> None:
    store, signal = KeyStore(), Signal()
    keys = cache(store, signal)
    assert await keys.principal(KEY) == PRINCIPAL
    assert await keys.principal(KEY) == PRINCIPAL
    assert store.lookups == 1


async def test_a_revocation_notice_makes_the_next_request_look_the_key_up() -> None:
    store, signal = KeyStore(), Signal()
    keys = cache(store, signal)
    await keys.principal(KEY)
    store.rows.clear()  # revoked
    signal.fire()
    assert await keys.principal(KEY) is None
    assert store.lookups == 2


async def test_a_lookup_overtaken_by_a_revocation_notice_is_not_kept() -> None:
    store, signal = KeyStore(), Signal()
    keys = cache(store, signal)
    store.during_lookup.append(signal.fire)  # the row was read just before the revocation committed
    assert await keys.principal(KEY) == PRINCIPAL
    store.during_lookup.clear()
    await keys.principal(KEY)
    assert store.lookups == 2


async def test_nothing_is_kept_while_the_listener_is_away() -> None:
    store, signal = KeyStore(), Signal()
    signal.listening.clear()
    keys = cache(store, signal)
    await keys.principal(KEY)
    await keys.principal(KEY)
    assert store.lookups == 2


async def test_a_key_is_trusted_no_longer_than_the_time_to_live() -> None:
    store, signal, clock = KeyStore(), Signal(), Clock()
    keys = cache(store, signal, clock)
    await keys.principal(KEY)
    clock.now = 10.0
    await keys.principal(KEY)
    assert store.lookups == 2


async def test_a_key_past_its_expiry_is_looked_up_again() -> None:
    store, signal = KeyStore(expires_at=datetime.now(UTC) - timedelta(seconds=1)), Signal()
    keys = cache(store, signal)
    await keys.principal(KEY)
    await keys.principal(KEY)
    assert store.lookups == 2


async def test_an_unknown_key_is_never_kept() -> None:
    store, signal = KeyStore(), Signal()
    keys = cache(store, signal)
    assert await keys.principal("sk_unknown") is None
    store.rows[hash_key("sk_unknown")] = store.rows[hash_key(KEY)]  # created a moment later
    assert await keys.principal("sk_unknown") == PRINCIPAL
