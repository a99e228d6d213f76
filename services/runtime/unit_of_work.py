"""The one write path: a command changes state and collects events in a unit of work, which writes
them to the outbox in the same transaction.

A route or a consumer opens the unit of work; the command it calls only uses ``uow.store`` (the
service's SQL), ``uow.now``, ``uow.settings`` and ``uow.collect``. It never picks a topic, builds an
envelope or commits: each event class knows its topic and subject (``contracts/envelope.py``), the
envelope is made in ``collect``, and the events reach the outbox when the unit of work ends
without an error — or not at all.

Three makers of units of work share this class: ``in_postgres`` (what ``Runtime.work`` and the
command-line tools use), ``in_snapshot`` (``Runtime.reading``: a view's reads on one snapshot) and
``in_memory``, for unit tests of command logic with a fake store and no database.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Generic, TypeVar

import asyncpg

from contracts.envelope import Envelope, EventAttributes, EventData
from services.runtime import outbox
from services.runtime.db import Connection, snapshot
from services.runtime.settings import ServiceSettings
from services.runtime.signal import channel_name

StoreT = TypeVar("StoreT")
# Covariant, so a unit of work over the PostgreSQL store passes where a command asks for its Protocol.
StoreT_co = TypeVar("StoreT_co", covariant=True)
SettingsT = TypeVar("SettingsT", bound=ServiceSettings)

# Writes the collected (topic, envelope) pairs where they are published from: the outbox, or a list in tests.
Sink = Callable[[list[tuple[str, Envelope]]], Awaitable[None]]


class UnitOfWork(Generic[StoreT_co, SettingsT]):
    """One command's transaction: its store, the time it acts at, the service's settings, the event
    that caused it (for a consumer), and the events it announces."""

    def __init__(
        self, store: StoreT_co, settings: SettingsT, now: datetime, cause: EventAttributes | None = None
    ) -> None:
        self._store = store
        self.settings = settings
        # One instant per command, so everything it records and announces carries the same time.
        self.now = now
        self.cause = cause
        self.collected: list[tuple[str, Envelope]] = []

    @property
    def store(self) -> StoreT_co:
        return self._store

    @property
    def consumed(self) -> EventAttributes:
        """The event a consumer's unit of work applies (its ``cause``); a route's has none."""
        if self.cause is None:
            raise LookupError("this unit of work was not opened for a consumed event")
        return self.cause

    def collect(self, event: EventData, *, cause: EventAttributes | None = None) -> Envelope:
        """Announce ``event`` when this unit of work commits; returns its envelope, so a later event
        (or the alert list) can refer to it. ``cause`` defaults to the event this work answers."""
        envelope = Envelope.wrap(event, source=self.settings.service, time=self.now, cause=cause or self.cause)
        self.collected.append((event.topic_of(), envelope))
        return envelope

    async def flush(self, sink: Sink) -> bool:
        """Hand what was collected to ``sink``; called once, inside the transaction, just before
        commit. Whether there was anything to hand."""
        collected, self.collected = self.collected, []
        if collected:
            await sink(collected)
        return bool(collected)


@contextlib.asynccontextmanager
async def in_postgres(
    pool: asyncpg.Pool,
    store: Callable[[Connection], StoreT],
    settings: SettingsT,
    now: datetime,
    cause: EventAttributes | None = None,
    *,
    wake_relay: Callable[[], None] | None = None,
) -> AsyncIterator[UnitOfWork[StoreT, SettingsT]]:
    """A unit of work in one transaction on a connection of ``pool``: committed, its events are in
    the service's outbox; failed, nothing is. The relay learns of them from ``wake_relay`` after the
    commit when it runs in this process, else from a NOTIFY at commit (a command-line tool's work)."""
    async with pool.acquire() as conn:
        async with conn.transaction():
            uow = UnitOfWork(store(conn), settings, now, cause)
            yield uow
            channel = None if wake_relay else outbox_channel(settings)
            announced = await uow.flush(outbox.writer(conn, settings, channel))
        if announced and wake_relay is not None:
            wake_relay()


@contextlib.asynccontextmanager
async def in_snapshot(
    pool: asyncpg.Pool, store: Callable[[Connection], StoreT], settings: SettingsT, now: datetime
) -> AsyncIterator[UnitOfWork[StoreT, SettingsT]]:
    """A unit of work that only reads, on one snapshot (``db.snapshot``): what a view shows was all
    committed together. It announces nothing: an event collected in it is an error, not lost quietly."""
    async with pool.acquire() as conn, snapshot(conn):
        uow = UnitOfWork(store(conn), settings, now)
        yield uow
        if uow.collected:
            raise RuntimeError(f"a unit of work that only reads collected {len(uow.collected)} event(s)")


def outbox_channel(settings: ServiceSettings) -> str:
    """The channel a service's relay listens on for new outbox rows (one per database schema)."""
    return channel_name(outbox.CHANNEL, settings.db_schema)


class InMemoryStore:
    """Base of a service's fake store: its state is its attributes, restored when a unit of work fails."""

    def snapshot(self) -> dict[str, object]:
        return copy.deepcopy(self.__dict__)

    def restore(self, state: dict[str, object]) -> None:
        self.__dict__.clear()
        self.__dict__.update(state)


class InMemoryBus:
    """What in-memory units of work published, in commit order: the envelopes and their payloads."""

    def __init__(self) -> None:
        self.published: list[tuple[str, Envelope]] = []

    async def write(self, envelopes: list[tuple[str, Envelope]]) -> None:
        self.published.extend(envelopes)

    def events(self, kind: type[EventData] | None = None) -> list[EventData]:
        """The payloads published so far (of one ``kind`` only, when given), in order."""
        payloads = [e.payload() for _, e in self.published]
        return [p for p in payloads if kind is None or isinstance(p, kind)]


@contextlib.asynccontextmanager
async def in_memory(
    store: StoreT,
    settings: SettingsT,
    now: datetime,
    bus: InMemoryBus,
    cause: EventAttributes | None = None,
) -> AsyncIterator[UnitOfWork[StoreT, SettingsT]]:
    """A unit of work on a fake store: committed, its events land on ``bus``; failed, the store is
    put back as it was and nothing is published — what a PostgreSQL transaction would do."""
    state = store.snapshot() if isinstance(store, InMemoryStore) else None
    uow = UnitOfWork(store, settings, now, cause)
    try:
        yield uow
    except BaseException:
        if isinstance(store, InMemoryStore) and state is not None:
            store.restore(state)
        raise
    await uow.flush(bus.write)
