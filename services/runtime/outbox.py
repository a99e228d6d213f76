"""Transactional outbox: ``enqueue`` inside the business transaction; ``OutboxRelay`` publishes.

The relay wakes on a NOTIFY sent by the committing transaction, so an event normally leaves
within milliseconds; a slow poll is only the safety net. Kafka being down leaves rows unsent,
never lost; a crash between publish and marking sent re-publishes, which the consumers' inbox
absorbs (at-least-once delivery, effectively-once state changes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import asyncpg
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry, Counter, Gauge

from contracts.envelope import Envelope
from services.runtime.db import UNAVAILABLE
from services.runtime.periodic import cancel_task
from services.runtime.signal import PgSignal, notify

log = logging.getLogger(__name__)

CHANNEL = "schakel_outbox"
SAFETY_POLL_SECONDS = 2.0
# Only a last resort: the producer fails undelivered records itself (request_timeout_ms).
# Cancelling earlier would leave them in its buffer, to be sent later *and* again on retry.
PUBLISH_TIMEOUT_SECONDS = 120.0
SENT_RETENTION = "7 days"


async def enqueue(conn: asyncpg.Connection, topic: str, envelope: Envelope, *, channel: str) -> None:
    """Store ``envelope`` for publication on ``topic``; call inside the state change's transaction."""
    await conn.execute(
        "INSERT INTO outbox (event_id, topic, event_type, key, payload) VALUES ($1, $2, $3, $4, $5)",
        envelope.id,
        topic,
        envelope.type,
        envelope.subject,
        envelope.to_bytes(),
    )
    await notify(conn, channel)


def event_headers(event_type: str, event_id: str) -> dict[str, str]:
    return {"content-type": "application/cloudevents+json", "ce_type": event_type, "ce_id": event_id}


class OutboxRelay:
    """Publishes unsent outbox rows in order with the broker's idempotent, acks=all producer."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        broker: KafkaBroker,
        signal: PgSignal,
        registry: CollectorRegistry,
        *,
        batch_size: int = 200,
    ) -> None:
        self._pool = pool
        self._broker = broker
        self._signal = signal
        self._batch_size = batch_size
        self._task: asyncio.Task[None] | None = None
        self.published = Counter(
            "schakel_outbox_published", "Events the outbox relay has published to Kafka.", registry=registry
        )
        self.backlog = Gauge(
            "schakel_outbox_backlog", "Outbox events not yet published to Kafka.", registry=registry
        )
        self.failures = Counter(
            "schakel_outbox_publish_failures", "Failed attempts to publish an outbox batch.", registry=registry
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        await cancel_task(self._task)

    async def _run(self) -> None:
        await self.purge_sent()
        backoff = 0.1
        while True:
            wake = self._signal.current()
            try:
                while await self.publish_batch() == self._batch_size:
                    pass
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Kafka or PostgreSQL away: keep the rows, try again.
                self.failures.inc()
                log.warning("outbox relay could not publish (%s: %s); retrying in %.1fs",
                            type(exc).__name__, exc, backoff)
                # Operators watch the backlog grow exactly while publishing fails.
                with contextlib.suppress(Exception):
                    self.backlog.set(await self._pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
                # A fire() (Kafka connected, new rows) cuts the back-off short.
                await self._signal.wait(wake, backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            await self._signal.wait(wake, SAFETY_POLL_SECONDS)

    async def publish_batch(self) -> int:
        """Publish up to one batch; returns how many rows it sent."""
        async with self._pool.acquire() as conn, conn.transaction():
            # SKIP LOCKED lets several replicas share the outbox without sending a row twice.
            rows = await conn.fetch(
                """SELECT seq, event_id, topic, event_type, key, payload FROM outbox
                   WHERE sent_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED""",
                self._batch_size,
            )
            if rows:
                self.backlog.set(await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
                await asyncio.wait_for(self._publish(rows), PUBLISH_TIMEOUT_SECONDS)
                await conn.execute(
                    "UPDATE outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])", [r["seq"] for r in rows]
                )
            self.backlog.set(await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
        self.published.inc(len(rows))
        return len(rows)

    async def _publish(self, rows: Sequence[asyncpg.Record]) -> None:
        # Hand every record to the producer first, then wait for all acks: order per key is
        # kept by the idempotent producer, and a batch costs one round trip, not one per row.
        pending = [
            await self._broker.publish(
                bytes(r["payload"]),
                r["topic"],
                key=r["key"].encode(),
                headers=event_headers(r["event_type"], str(r["event_id"])),
                no_confirm=True,
            )
            for r in rows
        ]
        await asyncio.gather(*pending)

    async def purge_sent(self) -> None:
        with contextlib.suppress(*UNAVAILABLE):
            await self._pool.execute(
                f"DELETE FROM outbox WHERE sent_at < now() - interval '{SENT_RETENTION}'"
            )
