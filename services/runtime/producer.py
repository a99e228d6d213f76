"""The one Kafka producer the outbox relay and the dead letters publish with, and that heals itself.

An idempotent producer keeps a producer id and a sequence number per partition. After a broker
restart, a leader change or an expired producer id, the broker may answer a sequence it no
longer expects (``OutOfOrderSequenceNumber``, ``UnknownProducerId``) or fence the producer; the
client treats those as fatal and never sends again. The remedy is the Java client's: close that
producer and make a new one, which gets a new producer id, and resend what was not acknowledged.
FastStream's broker offers no way to replace its producer without restarting its subscribers, so
the publishing side owns an aiokafka producer of its own; consuming stays with FastStream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
)

if TYPE_CHECKING:
    from services.runtime.settings import KafkaSettings

log = logging.getLogger(__name__)

# One number for the largest message anywhere: the producer's max_request_size and every
# topic's max.message.bytes (set when topics are created, and on the local and compose brokers).
MAX_MESSAGE_BYTES = 1_048_576
# What a single event may weigh, leaving room for the record and batch framing Kafka adds
# around it; the outbox refuses and the relay parks anything heavier.
EVENT_BUDGET_BYTES = MAX_MESSAGE_BYTES - 16_384

# Errors that belong to one record, not to the connection: resending cannot help, so the relay
# parks that row and moves on.
RECORD_ERRORS: tuple[type[Exception], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
)
CLOSE_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]


class PublishFailed(Exception):
    """The producer could not deliver; it has been replaced and the records should be resent."""


class HealingProducer:
    """An idempotent, ``acks=all`` producer that replaces itself after any failed delivery."""

    def __init__(self, kafka: KafkaSettings, client_id: str, *, delivery_timeout: float = 30.0) -> None:
        self._connection = kafka.kafka_client()
        self._client_id = client_id
        self._delivery_timeout = delivery_timeout
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self.generations = 0

    async def _current(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    **self._connection,
                    client_id=self._client_id,
                    enable_idempotence=True,
                    acks="all",
                    max_request_size=MAX_MESSAGE_BYTES,
                    request_timeout_ms=10_000,
                )
                try:
                    await producer.start()
                except BaseException:
                    await _close(producer)
                    raise
                self._producer = producer
                self.generations += 1
            return self._producer

    async def send(self, records: Sequence[OutgoingRecord]) -> list[BaseException | None]:
        """Deliver ``records`` in order; per record ``None`` (delivered) or a record error.

        Any other failure replaces the producer and raises ``PublishFailed``: then none of the
        records counts as delivered, and resending them all keeps the order (a copy that did
        arrive is absorbed by the consumers' inbox).
        """
        try:
            producer = await self._current()
            pending: list[asyncio.Future | BaseException] = []
            for record in records:
                try:
                    pending.append(
                        await producer.send(
                            record.topic,
                            record.value,
                            key=record.key,
                            headers=[(k, v.encode()) for k, v in record.headers.items()],
                        )
                    )
                except RECORD_ERRORS as exc:
                    pending.append(exc)
            futures = [p for p in pending if isinstance(p, asyncio.Future)]
            # With idempotence the client retries without limit while the broker is away, so
            # the deadline is ours; the replaced producer's buffer is dropped, never sent late.
            done = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), self._delivery_timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            await self.reset(f"{type(exc).__name__}: {exc}")
            raise PublishFailed(f"{type(exc).__name__}: {exc}") from exc
        outcomes = iter(done)
        results: list[BaseException | None] = []
        for item in pending:
            outcome = next(outcomes) if isinstance(item, asyncio.Future) else item
            results.append(outcome if isinstance(outcome, BaseException) else None)
        fatal = next((r for r in results if r is not None and not isinstance(r, RECORD_ERRORS)), None)
        if fatal is not None:
            await self.reset(f"{type(fatal).__name__}: {fatal}")
            raise PublishFailed(f"{type(fatal).__name__}: {fatal}") from fatal
        return results

    async def reset(self, reason: str) -> None:
        """Close the current producer; the next send starts a new one with a new producer id."""
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            log.warning("replacing the Kafka producer after: %s", reason)
            await _close(producer)

    async def stop(self) -> None:
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            await _close(producer)


async def _close(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), CLOSE_TIMEOUT_SECONDS)
    except Exception:
        # stop() first flushes, which never ends while the broker is away. Cancel the sender
        # (aiokafka 0.14 internals, pinned) so nothing in its buffer leaves it later.
        with contextlib.suppress(Exception):
            await producer._sender.close()
        with contextlib.suppress(Exception):
            await producer.client.close()
