"""Transactional outbox: ``enqueue`` inside the business transaction; ``OutboxRelay`` publishes.

The relay is woken at commit, so an event normally leaves within milliseconds: by its own process
after a route's unit of work (``wake``), else by a NOTIFY the committing transaction sends. The
busiest path avoids NOTIFY: PostgreSQL makes the commits of all notifying transactions of the
cluster take turns on one lock, WAL flush included (issue 13). A slow poll is only the safety net.

Kafka being down leaves rows unsent, never lost; a crash between publish and marking sent
re-publishes, which the consumers' inbox absorbs (at-least-once delivery, effectively-once state
changes). A failed delivery replaces the producer and resends from the first unsent row, so a
broker restart never wedges the relay and never reorders a key's events; a row that can never be
delivered is parked, not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge

from contracts.envelope import Envelope
from services.runtime import tracing
from services.runtime.db import UNAVAILABLE, Connection, fetch_one
from services.runtime.errors import DomainError
from services.runtime.periodic import cancel_task
from services.runtime.producer import (
    EVENT_BUDGET_BYTES,
    HealingProducer,
    OutgoingRecord,
    PublishFailed,
)
from services.runtime.settings import ServiceSettings
from services.runtime.signal import PgSignal

if TYPE_CHECKING:
    from services.runtime.unit_of_work import Sink

log = logging.getLogger(__name__)

CHANNEL = "schakel_outbox"
SAFETY_POLL_SECONDS = 2.0
SENT_RETENTION = "7 days"
MAX_BACKOFF_SECONDS = 5.0
# The gauges are read by a scrape every few seconds; counting the outbox after every commit would
# add a query per event under load for nothing.
GAUGE_REFRESH_SECONDS = 1.0


class EventTooLarge(DomainError):
    """The change would announce an event larger than Kafka accepts; nothing was stored."""

    status_code = 413


async def enqueue(conn: Connection, topic: str, envelope: Envelope, *, channel: str | None) -> None:
    """Store ``envelope`` for publication on ``topic``; call inside the state change's transaction."""
    await enqueue_all(conn, [(topic, envelope)], channel=channel)


# A data-modifying WITH runs to completion whether or not it is read; the rows keep the array
# order, so their seq follows the order the events were collected in.
_INSERT_ROWS = """INSERT INTO outbox (event_id, topic, event_type, key, payload, headers)
    SELECT event_id, topic, event_type, key, payload, headers
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::jsonb[])
        WITH ORDINALITY AS r(event_id, topic, event_type, key, payload, headers, position)
    ORDER BY position"""


async def enqueue_all(conn: Connection, events: Sequence[tuple[str, Envelope]], *, channel: str | None) -> None:
    """Store each ``(topic, envelope)`` for publication, in order; with a ``channel``, NOTIFY it at
    commit to wake a relay in another process (None: the writer wakes its own relay after commit).

    One statement whatever the number of events: under load a request pays per round trip."""
    if not events:
        return
    columns = [list(column) for column in zip(*(_outbox_row(t, e) for t, e in events), strict=True)]
    if channel is None:
        await conn.execute(_INSERT_ROWS, *columns)
    else:
        await conn.execute(f"WITH stored AS ({_INSERT_ROWS}) SELECT pg_notify($7, '')", *columns, channel)


def _outbox_row(topic: str, envelope: Envelope) -> tuple[uuid.UUID, str, str, str, bytes, str]:
    payload = envelope.to_bytes()
    if len(payload) > EVENT_BUDGET_BYTES:
        # Refused here, the request fails and nothing is half-stored; accepted, it could never leave.
        raise EventTooLarge(
            f"this change would publish a {envelope.type.rsplit('.', 1)[-1]} of {len(payload):,} bytes; "
            f"events are limited to {EVENT_BUDGET_BYTES:,} bytes: send it in smaller parts"
        )
    # The Kafka headers are fixed now, inside the transaction: the trace it belongs to is known
    # here and nowhere later (the relay publishes from a task of its own).
    headers = event_headers(envelope)
    tracing.record_creation(topic, envelope, headers)
    return envelope.id, topic, envelope.type, envelope.subject, payload, json.dumps(headers)


def writer(conn: Connection, settings: ServiceSettings, channel: str | None) -> Sink:
    """Where a unit of work on ``conn`` writes its events: this service's outbox, in its transaction
    (``channel``: as ``enqueue_all``)."""

    async def write(collected: list[tuple[str, Envelope]]) -> None:
        await enqueue_all(conn, [(settings.topic(topic), envelope) for topic, envelope in collected], channel=channel)

    return write


def event_headers(envelope: Envelope) -> dict[str, str]:
    """The Kafka headers of ``envelope``, named as CloudEvents' Kafka binding does (``ce_`` + attribute).

    The correlation id goes out twice with one value: ``ce_correlationid`` for CloudEvents readers,
    ``correlation_id`` because FastStream takes that header as its message's correlation id.
    """
    correlation = str(envelope.correlationid)
    return {
        "content-type": "application/cloudevents+json",
        "ce_type": envelope.type,
        "ce_id": str(envelope.id),
        "ce_correlationid": correlation,
        "correlation_id": correlation,
    }


def stored_headers(row: asyncpg.Record) -> dict[str, str]:
    """The headers an outbox row was given at enqueue; a row older than that column gets the
    CloudEvents ones from its payload (and no trace: its request is long gone)."""
    headers = row["headers"]
    if headers is None:
        return event_headers(Envelope.from_bytes(bytes(row["payload"])))
    return dict(json.loads(headers) if isinstance(headers, str) else headers)


class OutboxMetrics:
    """What operators watch of one service's outbox."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.published = Counter(
            "schakel_outbox_published", "Events the outbox relay has published to Kafka.", registry=registry
        )
        self.backlog = Gauge("schakel_outbox_backlog", "Outbox events not yet published to Kafka.", registry=registry)
        self.oldest_unsent = Gauge(
            "schakel_outbox_oldest_unsent_age_seconds",
            "Age of the oldest outbox event not yet published (0 when none waits).",
            registry=registry,
        )
        self.failures = Counter(
            "schakel_outbox_publish_failures", "Failed attempts to publish an outbox batch.", registry=registry
        )
        self.parked = Gauge(
            "schakel_outbox_parked",
            "Outbox events parked because Kafka refuses them; they need an operator.",
            registry=registry,
        )
        self.parked_total = Counter(
            "schakel_outbox_parked_events",
            "Outbox events parked since start, by reason.",
            ["reason"],
            registry=registry,
        )


class OutboxRelay:
    """Publishes unsent outbox rows in order; one relay per database at a time."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: HealingProducer,
        signal: PgSignal,
        registry: CollectorRegistry,
        *,
        batch_size: int = 200,
        lock_name: str = "outbox",
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._signal = signal
        self._batch_size = batch_size
        self._lock_name = f"schakel-outbox-relay:{lock_name}"
        self._task: asyncio.Task[None] | None = None
        self.metrics = OutboxMetrics(registry)
        # Since when publishing fails (monotonic seconds), and why; None while it works.
        self.failing_since: float | None = None
        self.last_error: str | None = None
        self.backlog, self.parked, self.oldest_unsent_age = 0, 0, 0.0
        self._gauges_read_at = float("-inf")

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    def wake(self) -> None:
        """New rows were committed by this process: publish them now (no NOTIFY needed)."""
        self._signal.fire()

    async def stop(self) -> None:
        await cancel_task(self._task)

    @property
    def publishing(self) -> bool:
        return self.failing_since is None

    def status(self) -> dict[str, object]:
        """What ``/readyz`` says about publishing."""
        failing_for = None if self.failing_since is None else round(time.monotonic() - self.failing_since, 1)
        return {
            "publishing": self.publishing,
            "outbox_backlog": self.backlog,
            "oldest_unsent_age_seconds": round(self.oldest_unsent_age, 1),
            "parked": self.parked,
            "failing_for_seconds": failing_for,
            "last_error": self.last_error if failing_for is not None else None,
        }

    async def _run(self) -> None:
        await self.purge_sent()
        backoff = 0.1
        while True:
            wake = self._signal.current()
            try:
                while await self.publish_batch() == self._batch_size:
                    pass
                self.failing_since, backoff = None, 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Kafka or PostgreSQL away: keep the rows, try again.
                self.metrics.failures.inc()
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                if self.failing_since is None:
                    self.failing_since = time.monotonic()
                log.warning("outbox relay could not publish (%s); retrying in %.1fs", self.last_error, backoff)
                await self._refresh_gauges_now_and_then()
                # New rows must not cut the back-off short: under load that would reconnect on
                # every commit while Kafka is away.
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            await self._refresh_gauges_now_and_then()
            await self._signal.wait(wake, SAFETY_POLL_SECONDS)

    async def _refresh_gauges_now_and_then(self) -> None:
        if time.monotonic() - self._gauges_read_at < GAUGE_REFRESH_SECONDS:
            return
        with contextlib.suppress(Exception):
            await self.refresh_gauges(self._pool)
            self._gauges_read_at = time.monotonic()

    async def publish_batch(self) -> int:
        """Publish up to one batch in ``seq`` order; returns how many rows it settled."""
        async with self._pool.acquire() as conn, conn.transaction():
            # Two relays interleaving one key's rows would reorder them on the bus; a second
            # replica's relay waits here for its turn (and takes over when the first one dies).
            # It waits rather than gives up: woken only by its own process's commits, it must
            # still publish them after the first relay's batch.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self._lock_name)
            rows = await conn.fetch(
                """SELECT seq, event_id, topic, event_type, key, payload, headers FROM outbox
                   WHERE sent_at IS NULL AND parked_at IS NULL ORDER BY seq LIMIT $1""",
                self._batch_size,
            )
            if not rows:
                return 0
            sent, parked, failure = await self._publish(rows)
            if sent:
                await conn.execute("UPDATE outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])", sent)
            for seq, reason in parked:
                await conn.execute("UPDATE outbox SET parked_at = now(), park_reason = $2 WHERE seq = $1", seq, reason)
        self.metrics.published.inc(len(sent))
        if failure is not None:
            raise failure  # after the parked rows are settled, so they never block the retry
        return len(rows)

    async def _publish(
        self, rows: Sequence[asyncpg.Record]
    ) -> tuple[list[int], list[tuple[int, str]], PublishFailed | None]:
        """Send ``rows``: the seqs delivered, the (seq, reason) of rows Kafka will never take,
        and the failure that makes the rest wait for the next round."""
        parked: list[tuple[int, str]] = []
        deliverable: list[asyncpg.Record] = []
        for row in rows:
            if len(row["payload"]) > EVENT_BUDGET_BYTES:
                parked.append((row["seq"], f"too_large: {len(row['payload'])} bytes, over {EVENT_BUDGET_BYTES}"))
            else:
                deliverable.append(row)
        sent: list[int] = []
        failure = None
        records = [
            OutgoingRecord(
                topic=r["topic"], key=r["key"].encode(), value=bytes(r["payload"]), headers=stored_headers(r)
            )
            for r in deliverable
        ]
        # One span per event, in the trace its headers carry from the transaction that wrote it.
        spans = [
            tracing.start_publish(record.topic, record.headers, r["event_type"], str(r["event_id"]))
            for r, record in zip(deliverable, records, strict=True)
        ]
        try:
            outcomes = await self._producer.send(records)
        except PublishFailed as exc:
            failure = exc
            for span in spans:
                tracing.end_publish(span, str(exc))
        else:
            for row, outcome, span in zip(deliverable, outcomes, spans, strict=True):
                tracing.end_publish(span, None if outcome is None else f"{type(outcome).__name__}: {outcome}")
                if outcome is None:
                    sent.append(row["seq"])
                else:
                    parked.append((row["seq"], f"{type(outcome).__name__}: {outcome}"[:500]))
        for seq, reason in parked:
            log.error("outbox row %d parked, it will not be published: %s", seq, reason)
            self.metrics.parked_total.labels(reason=reason.split(":")[0]).inc()
        return sent, parked, failure

    async def refresh_gauges(self, pool: asyncpg.Pool) -> None:
        # Each condition matches a partial index, so this stays cheap however many sent rows are kept.
        row = await fetch_one(
            pool,
            """SELECT (SELECT count(*) FROM outbox WHERE sent_at IS NULL AND parked_at IS NULL) AS backlog,
                      (SELECT count(*) FROM outbox WHERE sent_at IS NULL AND parked_at IS NOT NULL) AS parked,
                      coalesce((SELECT extract(epoch FROM now() - created_at) FROM outbox
                                WHERE sent_at IS NULL AND parked_at IS NULL ORDER BY seq LIMIT 1), 0) AS oldest""",
        )
        self.backlog, self.parked, self.oldest_unsent_age = row["backlog"], row["parked"], float(row["oldest"])
        self.metrics.backlog.set(self.backlog)
        self.metrics.parked.set(self.parked)
        self.metrics.oldest_unsent.set(self.oldest_unsent_age)

    async def purge_sent(self) -> None:
        with contextlib.suppress(*UNAVAILABLE):
            await self._pool.execute(f"DELETE FROM outbox WHERE sent_at < now() - interval '{SENT_RETENTION}'")
