"""Benchmark: monitoring's projection, rebuild and live, beside floor (b), over the same events, in the same run.

``SCHAKEL_PERF_EVENTS`` (50,000) valid events built with the contract models — a
ReferralReceived and a CareStarted per referral, wrapped in ``contracts.envelope.Envelope`` —
are produced twice: onto the test's namespaced intake topic, and onto a fresh floor topic.

- Floor (b): raw aiokafka ``getmany``, every record parsed as JSON, each batch upserted into one
  PostgreSQL table with the partition's next offset stored in the same transaction.
- Schakel, rebuild: ``services.monitoring.rebuild.rebuild`` (what ``python -m services.monitoring.rebuild``
  runs) over the namespaced topics; its migrations and topics are made by a first, empty rebuild
  so the timed one measures the replay.
- Schakel, live: ``python -m services.monitoring`` as a process on a fresh schema, its consumers
  reading the filled topic from the start; timed by the group's offsets committed to Kafka, from
  the first commit seen to the last (so start-up and the group's join are left out).

Reports events/s; asserts only that each applied every event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from datetime import UTC, date, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts import topics
from contracts.envelope import Envelope
from contracts.intake import CareStarted, ReferralReceived
from services.monitoring.rebuild import rebuild
from services.monitoring.settings import MonitoringSettings
from services.runtime.outbox import event_headers
from tests.perf import report
from tests.support.infra import Infrastructure, Isolation
from tests.support.processes import service_process
from tests.support.server import free_port

pytestmark = pytest.mark.perf

EVENTS = int(os.environ.get("SCHAKEL_PERF_EVENTS", "50000"))


Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def realistic_events(count: int) -> list[Record]:
    """(key, value, headers) of valid intake events, as intake's outbox relay publishes them: with
    the CloudEvents headers, which FastStream reads the content type from."""
    now = datetime.now(UTC)
    events: list[Record] = []
    while len(events) < count:
        referral_id = uuid.uuid4()
        client_ref = uuid.uuid4().hex * 2
        received = ReferralReceived(
            referral_id=referral_id,
            client_ref=client_ref,
            age=12,
            municipality_code="1942",
            referrer_type="03",
            referrer_agb="01234567",
            product_category="46",
            settings=["crisisplek", "pleegzorg"],
            urgency="crisis",
            ambulant_tried=False,
            needs_gemeente_decision=True,
            received_at=now,
        )
        started = CareStarted(
            allocation_id=uuid.uuid4(),
            referral_id=referral_id,
            client_ref=client_ref,
            municipality_code="1942",
            provider_agb="40000001",
            product_category="46",
            start_date=date(2026, 11, 30),
            reported_at=now,
        )
        first = Envelope.wrap(received, source="intake", time=now)
        second = Envelope.wrap(started, source="intake", time=now, cause=first)
        events += [(str(referral_id).encode(), envelope.to_bytes(), _headers(envelope)) for envelope in (first, second)]
    return events[:count]


def _headers(envelope: Envelope) -> list[tuple[str, bytes]]:
    return [(name, value.encode()) for name, value in event_headers(envelope).items()]


async def produce(kafka: str, topic: str, events: list[Record]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, linger_ms=5, max_batch_size=1 << 20, acks="all")
    await producer.start()
    try:
        for start in range(0, len(events), 5000):
            sent = [
                await producer.send(topic, value, key=key, headers=headers)
                for key, value, headers in events[start : start + 5000]
            ]
            await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def floor_apply(kafka: str, database_url: str, schema: str, topic: str) -> int:
    """Consume ``topic`` from the start; per batch: parse, upsert, store the next offset, one transaction."""
    conn = await asyncpg.connect(database_url)
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    await conn.execute(f'SET search_path TO "{schema}"')
    await conn.execute("CREATE TABLE events (id uuid PRIMARY KEY, type text NOT NULL, data jsonb NOT NULL)")
    await conn.execute(
        "CREATE TABLE offsets (topic text, partition int, next_offset bigint NOT NULL, PRIMARY KEY (topic, partition))"
    )
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [0])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        applied = 0
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(*partitions, timeout_ms=1000)
            for tp, records in batch.items():
                parsed = [json.loads(record.value) for record in records if record.value is not None]
                async with conn.transaction():
                    await conn.execute(
                        """INSERT INTO events (id, type, data)
                           SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[])
                           ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, data = EXCLUDED.data""",
                        [event["id"] for event in parsed],
                        [event["type"] for event in parsed],
                        [json.dumps(event["data"]) for event in parsed],
                    )
                    await conn.execute(
                        """INSERT INTO offsets VALUES ($1, $2, $3)
                           ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset""",
                        tp.topic,
                        tp.partition,
                        records[-1].offset + 1,
                    )
                applied += len(parsed)
        stored = await conn.fetchval("SELECT count(*) FROM events")
        assert stored == applied, (stored, applied)
        return applied
    finally:
        await consumer.stop()
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


async def committed_rate(kafka: str, group: str, topic: str, total: int, deadline: float) -> float:
    """Events/s a consumer group commits, from the first commit seen until ``total`` (one partition)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        first: tuple[float, int] | None = None
        while time.monotonic() < deadline:
            offsets = await admin.list_consumer_group_offsets(group, partitions=[TopicPartition(topic, 0)])
            committed = max((o.offset for o in offsets.values()), default=-1)
            now = time.perf_counter()
            if committed > 0 and first is None:
                first = (now, committed)
            if committed >= total and first is not None:
                return (total - first[1]) / (now - first[0]) if now > first[0] else float("nan")
            await asyncio.sleep(0.05)
        raise AssertionError(f"{group} did not commit {total} records in time")
    finally:
        await admin.close()


async def live_rate(infra: Infrastructure, isolation: Isolation, settings: MonitoringSettings) -> float:
    """``python -m services.monitoring`` on a fresh schema, applying the filled intake topic from the start."""
    env = isolation.env(infra)
    with contextlib.ExitStack() as running:
        # Started in a thread: its readiness wait blocks, and the group may commit before it returns.
        watch = asyncio.create_task(
            committed_rate(
                infra.kafka,
                settings.group_id("intake-events"),
                settings.topic(topics.INTAKE_EVENTS),
                EVENTS,
                deadline=time.monotonic() + 600,
            )
        )
        await asyncio.to_thread(
            running.enter_context, service_process("monitoring", free_port(), env, "perf-projection")
        )
        return await watch


async def test_projection_against_floor(infra: Infrastructure, isolation: Isolation) -> None:
    settings = isolation.settings(MonitoringSettings, infra)
    floor_topic = isolation.topic("perf-floor.events")
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(floor_topic, num_partitions=1, replication_factor=1)])
        empty = await rebuild(settings)  # migrations and topics, so the timed rebuild only replays
        assert empty.messages == 0

        events = realistic_events(EVENTS)
        mean_bytes = sum(len(value) for _, value, _ in events) / len(events)
        await produce(infra.kafka, floor_topic, events)
        await produce(infra.kafka, settings.topic(topics.INTAKE_EVENTS), events)

        start = time.perf_counter()
        floor_applied = await floor_apply(infra.kafka, infra.database_url, f"{isolation.schema}_floor", floor_topic)
        floor_seconds = time.perf_counter() - start

        start = time.perf_counter()
        replayed = await rebuild(settings)
        schakel_seconds = time.perf_counter() - start

        live = await live_rate(infra, isolation, settings)
    finally:
        names = [name for name in await admin.list_topics() if name.startswith(f"{isolation.namespace}.")]
        await admin.delete_topics(names)
        await admin.close()

    floor_rate = floor_applied / floor_seconds
    print(
        f"\nfloor (b): {floor_applied} events in {floor_seconds:.2f} s ({floor_rate:,.0f}/s); "
        f"rebuild: {replayed} in {schakel_seconds:.2f} s ({replayed.messages / schakel_seconds / floor_rate:.1%}); "
        f"live: {live:,.0f}/s ({live / floor_rate:.1%})"
    )
    assert floor_applied == EVENTS
    assert (replayed.messages, replayed.applied, replayed.skipped) == (EVENTS, EVENTS, 0)
    report.ROWS.append(
        report.Row(
            what=f"monitoring rebuild, {EVENTS:,} intake events of ~{mean_bytes:.0f} B",
            unit="events/s",
            floor=floor_rate,
            schakel=replayed.messages / schakel_seconds,
            note="floor: getmany + json + one upsert and the offsets per batch, one transaction",
        )
    )
    report.ROWS.append(
        report.Row(
            what=f"monitoring live projection (`python -m services.monitoring`), the same {EVENTS:,} events",
            unit="events/s",
            floor=floor_rate,
            schakel=live,
            note="the same floor; timed by the offsets its group commits to Kafka after each transaction",
        )
    )
