"""Idempotent, dead-lettering Kafka consumers: the one way a service applies another's events.

Per message: decode and validate the types it handles (invalid → dead letter; other types are
skipped, so a newer producer never blocks an older reader), then apply in one unit of work
whose transaction also holds the inbox record (a redelivery changes nothing) and the events the
handler collected (they reach the outbox with the change that caused them), and commit the
Kafka offset only after that transaction. A handler that keeps failing is dead-lettered after
``consumer_max_attempts``; PostgreSQL being unreachable is not the message's fault, so that
is retried until it comes back and the offset stays put.

A consumer with a ``batch`` handler (a projection) applies what one poll brought in one
unit of work and one transaction instead (``services/runtime/batch_consumer.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from tenacity import AsyncRetrying, wait_exponential

from contracts.envelope import EventAttributes, EventData, InvalidEvent, decode
from services.runtime import outbox, tracing
from services.runtime.db import UNAVAILABLE, Connection
from services.runtime.inbox import first_delivery
from services.runtime.logs import event_context
from services.runtime.settings import ServiceSettings
from services.runtime.unit_of_work import StoreT, UnitOfWork

if TYPE_CHECKING:
    from services.runtime.service import Runtime

log = logging.getLogger(__name__)

# A handler gets the unit of work (``uow.consumed`` is the envelope) and the typed payload: a command
# that takes ``(uow, event)`` is a handler as it stands.
Handler = Callable[[UnitOfWork[StoreT, Any], Any], Awaitable[None]]
# Applies many events in one unit of work, with the effect of applying them one by one in order.
BatchHandler = Callable[[UnitOfWork[StoreT, Any], Sequence[tuple[EventAttributes, EventData]]], Awaitable[None]]
T = TypeVar("T")


@dataclass(frozen=True)
class Consumer(Generic[StoreT]):
    """What one consumer group of a service applies from one topic, and the store its handlers use."""

    name: str
    topic: str
    handlers: Mapping[type[EventData], Handler[StoreT]]
    # Makes the handlers' ``uow.store`` from the transaction's connection; without one it is the connection.
    store: Callable[[Connection], StoreT] | None = None
    start_from_beginning: bool = True
    # With one, the events of a poll (up to ``max_batch``) are applied in one unit of work, in order.
    batch: BatchHandler[StoreT] | None = None
    # None: all that the last fetch brought (at most 1 MiB a partition). A poll that empties the
    # fetched records lets the client fetch the next ones while this poll is being applied.
    max_batch: int | None = None
    # Per event type, whether an event can change anything here. One that cannot is acknowledged
    # without a transaction or an inbox row (nothing to apply, so nothing to apply twice): an
    # ambulant referral costs capacity three round trips otherwise (issue 13).
    relevant: Mapping[type[EventData], Callable[[Any], bool]] = field(default_factory=dict)
    handled_types: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "handled_types", frozenset(m.event_type for m in self.handlers))

    def applies_to(self, data: EventData) -> bool:
        """Whether a handled event can change anything here (``relevant``)."""
        relevant = self.relevant.get(type(data))
        return relevant is None or relevant(data)


def inbox_name(settings: ServiceSettings, consumer: Consumer[Any]) -> str:
    """The name a consumer's applied events are recorded under in the inbox (and in metrics)."""
    return f"{settings.service}.{consumer.name}"


async def apply_once(
    conn: Connection,
    consumer: Consumer[Any],
    envelope: EventAttributes,
    data: EventData,
    *,
    settings: ServiceSettings,
    now: datetime,
    outbox_channel: str,
) -> bool:
    """Apply ``data`` in ``conn``'s transaction unless the inbox has seen it; True when applied."""
    if not await first_delivery(conn, inbox_name(settings, consumer), envelope.id):
        return False
    store = consumer.store(conn) if consumer.store else conn
    uow = UnitOfWork(store, settings, now, cause=envelope)
    await consumer.handlers[type(data)](uow, data)
    await uow.flush(outbox.writer(conn, settings, outbox_channel))
    return True


class Applier:
    """Applies one consumer's messages: decode, dead-letter what is bad, transact with retries."""

    def __init__(self, consumer: Consumer[Any], runtime: Runtime[Any]) -> None:
        self.consumer = consumer
        self.runtime = runtime
        self.settings: ServiceSettings = runtime.settings
        self.pool: asyncpg.Pool = runtime.pool
        self.dead_letters = runtime.dead_letters
        self.inbox_name = inbox_name(runtime.settings, consumer)

    async def handle(self, msg: KafkaMessage) -> None:
        record = msg.raw_message
        try:
            envelope, data = decode(msg.body, accept=self.consumer.handled_types)
        except InvalidEvent as exc:
            await self._dead_letter(record, "invalid", str(exc), attempts=0)
        else:
            if data is not None and self.consumer.applies_to(data):
                with event_context(envelope):
                    await self._apply(record, envelope, data)
        await msg.ack()

    async def _apply(self, record: Any, envelope: EventAttributes, data: EventData) -> None:
        tracing.annotate_consumed(envelope, self.inbox_name)

        async def apply(conn: Connection) -> bool:
            return await apply_once(
                conn,
                self.consumer,
                envelope,
                data,
                settings=self.settings,
                now=self.runtime.now(),
                outbox_channel=self.runtime.outbox_channel,
            )

        await self._transact(record, f"{envelope.type} {envelope.id}", apply)

    async def _transact(self, record: Any, what: str, body: Callable[[Connection], Awaitable[T]]) -> T | None:
        """``body`` in a transaction, retried; None when it kept failing and ``record`` was dead-lettered."""
        attempts, unavailable_for = 0, 0.0
        while True:
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    return await body(conn)
            except UNAVAILABLE as exc:
                # Not the message's fault (PostgreSQL away, a deadlock, a serialization failure, a
                # read-only failover): hold the partition and retry without limit; the offset stays.
                log.warning("%s: database cannot apply this now (%s); retrying", self.inbox_name, type(exc).__name__)
                unavailable_for = min(unavailable_for * 2 or 0.2, 5.0)
                await asyncio.sleep(unavailable_for)
            except Exception as exc:
                attempts += 1
                log.warning("%s: applying %s failed (attempt %d): %s", self.inbox_name, what, attempts, exc)
                if attempts >= self.settings.consumer_max_attempts:
                    await self._dead_letter(record, "failed", f"{type(exc).__name__}: {exc}", attempts)
                    return None
                await asyncio.sleep(0.05 * 2**attempts)

    async def _dead_letter(self, record: Any, reason: str, error: str, attempts: int) -> None:
        log.error(
            "%s: message %s/%d@%d to dead letters (%s): %s",
            self.inbox_name,
            record.topic,
            record.partition,
            record.offset,
            reason,
            error[:300],
        )
        # Until the dead letter is safely on Kafka the offset must not move past this message.
        async for attempt in AsyncRetrying(wait=wait_exponential(multiplier=0.2, max=5)):
            with attempt:
                await self.dead_letters.send(
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=record.key,
                    value=record.value,
                    reason=reason,
                    error=error,
                    attempts=attempts,
                    consumer=self.inbox_name,
                )


def subscribe(broker: KafkaBroker, consumer: Consumer[Any], runtime: Runtime[Any]) -> None:
    """Register ``consumer`` on ``broker``; offsets are committed only after its transaction."""
    if consumer.batch is not None:
        from services.runtime.batch_consumer import subscribe_batched  # it builds on Applier below

        subscribe_batched(broker, consumer, runtime)
        return
    settings = runtime.settings
    applier = Applier(consumer, runtime)
    broker.subscriber(
        settings.topic(consumer.topic),
        group_id=settings.group_id(consumer.name),
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest" if consumer.start_from_beginning else "latest",
    )(_entrypoint(applier))


def _entrypoint(applier: Applier) -> Callable[[KafkaMessage], Awaitable[None]]:
    # FastStream reads the handler's signature: a plain function taking only the message gets
    # FastStream's message (its raw record in ``raw_message``), not the body.
    async def on_message(msg: KafkaMessage) -> None:
        await applier.handle(msg)

    on_message.__name__ = f"apply_{applier.consumer.name}"
    return on_message
