"""Batched consumers: what one poll brought, applied in one unit of work and one transaction.

For a projection: one transaction per poll instead of one per event, its inbox rows written by one
statement and its writes gathered (``statements.StatementBatch``). Exactly once holds as for the
per-event consumer: every event id goes into the inbox with the effect, so a redelivery, and an
event the outbox published twice, changes nothing. Invalid records are dead-lettered as the
per-event consumer does; when a batch fails, its events are applied one by one, so a bad one is
retried and dead-lettered alone and the others are applied once. PostgreSQL away holds the
partitions. After the commit the offsets go to Kafka, so consumer lag and ConsumerStuck stay true.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber

from contracts.envelope import EventAttributes, EventData, InvalidEvent, decode
from services.runtime import outbox, tracing
from services.runtime.consumer import Applier, Consumer, inbox_name
from services.runtime.db import UNAVAILABLE, Connection
from services.runtime.inbox import first_deliveries
from services.runtime.logs import event_context
from services.runtime.settings import ServiceSettings
from services.runtime.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

# How long a poll waits for records when there are none. It returns as soon as a record comes, so
# this only sets how often an idle consumer wakes (and checks it should stop).
POLL_WAIT_MS = 100

Applied = list[tuple[EventAttributes, EventData]]


@dataclass(frozen=True)
class Polled:
    """One record of a poll, decoded: no envelope when it is invalid, no data when its type is not handled."""

    record: Any  # aiokafka's ConsumerRecord; in a rebuild, only its value (the reader hands over bytes)
    envelope: EventAttributes | None
    data: EventData | None


def polled(record: Any, consumer: Consumer[Any]) -> Polled:
    """``record`` decoded for ``consumer``; raises ``InvalidEvent`` when it is no valid event."""
    envelope, data = decode(record.value or b"", accept=consumer.handled_types)
    return Polled(record, envelope, data)


async def apply_polled(
    conn: Connection,
    consumer: Consumer[Any],
    batch: Sequence[Polled],
    *,
    settings: ServiceSettings,
    now: datetime,
    outbox_channel: str,
) -> Applied:
    """Apply the events of ``batch`` that ``consumer`` has not applied yet, in order, in ``conn``'s
    transaction (which records them in the inbox); returns the events applied."""
    assert consumer.batch is not None, f"{consumer.name} has no batch handler"
    handled = [
        (item.envelope, item.data)
        for item in batch
        if item.envelope is not None and item.data is not None and consumer.applies_to(item.data)
    ]
    if not handled:
        return []
    first = await first_deliveries(conn, inbox_name(settings, consumer), [envelope.id for envelope, _ in handled])
    events: Applied = []
    for envelope, data in handled:
        if envelope.id in first:
            first.discard(envelope.id)  # the same event twice in one poll is applied once
            events.append((envelope, data))
    if events:
        uow = UnitOfWork(consumer.store(conn) if consumer.store else conn, settings, now)
        await consumer.batch(uow, events)
        await uow.flush(outbox.writer(conn, settings, outbox_channel))
    return events


class BatchApplier(Applier):
    """Applies one consumer's polls: decode, dead-letter what is invalid, one transaction per poll."""

    async def handle_batch(self, msg: KafkaMessage) -> None:
        batch = [await self._decode(record) for record in msg.raw_message]
        handled = [
            (item.record.topic, {k: v.decode() for k, v in item.record.headers or ()}, item.envelope)
            for item in batch
            if item.envelope is not None and item.data is not None
        ]
        with tracing.processing(handled, self.inbox_name):
            await self._apply_batch(batch)
        await msg.ack()

    async def _decode(self, record: Any) -> Polled:
        try:
            return polled(record, self.consumer)
        except InvalidEvent as exc:
            await self._dead_letter(record, "invalid", str(exc), attempts=0)
            return Polled(record, None, None)

    async def _apply_in(self, conn: Connection, batch: Sequence[Polled]) -> Applied:
        return await apply_polled(
            conn,
            self.consumer,
            batch,
            settings=self.settings,
            now=self.runtime.now(),
            outbox_channel=self.runtime.outbox_channel,
        )

    async def _apply_batch(self, batch: Sequence[Polled]) -> Applied:
        unavailable_for = 0.0
        while True:
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    return await self._apply_in(conn, batch)
            except UNAVAILABLE as exc:
                # Not the batch's fault: hold the partitions and retry without limit.
                log.warning("%s: database cannot apply this now (%s); retrying", self.inbox_name, type(exc).__name__)
                unavailable_for = min(unavailable_for * 2 or 0.2, 5.0)
                await asyncio.sleep(unavailable_for)
            except Exception as exc:
                log.warning(
                    "%s: a batch of %d records failed (%s: %s); applying them one by one",
                    self.inbox_name,
                    len(batch),
                    type(exc).__name__,
                    exc,
                )
                break
        applied: Applied = []
        for item in batch:
            applied += await self._apply_alone(item)
        return applied

    async def _apply_alone(self, item: Polled) -> Applied:
        envelope = item.envelope
        what = f"{envelope.type} {envelope.id}" if envelope else f"record {item.record.offset}"
        with event_context(envelope) if envelope else contextlib.nullcontext():
            if envelope:
                tracing.annotate_consumed(envelope, self.inbox_name)
            # None: it kept failing and went to the dead letters.
            return await self._transact(item.record, what, lambda conn: self._apply_in(conn, [item])) or []


class WakingBatchSubscriber(BatchSubscriber):
    """FastStream's batch subscriber without the sleep after an empty poll.

    FastStream 0.7 sleeps ``batch_timeout_ms`` after every poll that found nothing; a record that
    arrives during that sleep waits for it. At 10 ms that was up to 10 ms of every shortage's way
    to the dashboard and /metrics (issue 13), and a shorter poll only wakes an idle consumer more
    often. aiokafka's ``getmany`` already returns the moment a record arrives, so this subscriber
    polls with a long wait and goes straight back to polling.
    """

    __slots__ = ()

    async def get_msg(self, consumer: Any) -> tuple[Any, ...]:
        polled = await consumer.getmany(timeout_ms=self.batch_timeout_ms, max_records=self.max_records)
        return tuple(record for records in polled.values() for record in records)


def waking(subscriber: object) -> WakingBatchSubscriber:
    """``subscriber``, FastStream's batch subscriber, made a ``WakingBatchSubscriber``. FastStream
    builds its subscribers itself; every class of the chain has ``__slots__``, so the subclass (with
    no slots of its own) has the same layout and can take over the instance."""
    if type(subscriber) is not BatchSubscriber:
        raise TypeError(
            f"expected FastStream's BatchSubscriber, got {type(subscriber).__qualname__}: check the upgrade"
        )
    subscriber.__class__ = WakingBatchSubscriber
    return cast(WakingBatchSubscriber, subscriber)


def subscribe_batched(broker: KafkaBroker, consumer: Consumer[Any], runtime: Any) -> None:
    """Register ``consumer`` (with a batch handler) on ``broker``; Kafka offsets follow each transaction."""
    settings = runtime.settings
    applier = BatchApplier(consumer, runtime)

    # FastStream reads the handler's signature: taking only the message, it gets FastStream's message, the
    # polled records in its ``raw_message``.
    async def on_batch(msg: KafkaMessage) -> None:
        await applier.handle_batch(msg)

    on_batch.__name__ = f"apply_{consumer.name}"
    subscriber = broker.subscriber(
        settings.topic(consumer.topic),
        group_id=settings.group_id(consumer.name),
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest" if consumer.start_from_beginning else "latest",
        batch=True,
        max_records=consumer.max_batch,
        batch_timeout_ms=POLL_WAIT_MS,
    )
    waking(subscriber)(on_batch)
