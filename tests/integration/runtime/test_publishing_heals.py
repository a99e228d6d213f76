"""Publishing heals itself (ARCHITECTURE §3): a broker restart never wedges the relay, never loses
or reorders a key's events, and a row Kafka refuses is parked instead of blocking the rest."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import CollectorRegistry, generate_latest

from contracts.envelope import Envelope
from services.runtime import outbox
from services.runtime.db import create_pool, migrate
from services.runtime.producer import EVENT_BUDGET_BYTES, HealingProducer
from services.runtime.service import RUNTIME_MIGRATIONS
from services.runtime.settings import KafkaSettings
from services.runtime.signal import PgSignal, channel_name
from tests.support.infra import Infrastructure, Isolation, ThrowawayKafka
from tests.support.kafka import TopicReader
from tests.support.polling import eventually

KEYS = [f"aggregate-{n}" for n in range(5)]
# The pace of the writer: a steady stream, as requests arrive, not a synchronisation.
PACE_SECONDS = 0.01


def _event(key: str, n: int, size: int = 0) -> Envelope:
    now = datetime.now(UTC)
    return Envelope(
        type="nl.schakel.probe.Counted",
        source="probe",
        time=now,
        subject=key,
        dataschema="probe/1",
        correlationid=uuid.uuid4(),
        data={"n": n, "pad": "x" * size},
    )


class Relay:
    """The runtime's outbox relay on the test's schema, publishing to ``bootstrap``."""

    def __init__(self, pool: asyncpg.Pool, infra: Infrastructure, isolation: Isolation, bootstrap: str) -> None:
        self.pool = pool
        self.channel = channel_name(outbox.CHANNEL, isolation.schema)
        self.signal = PgSignal(infra.database_url, self.channel)
        self.producer = HealingProducer(
            KafkaSettings(kafka_bootstrap_servers=bootstrap), "test-relay", delivery_timeout=5
        )
        self.registry = CollectorRegistry()
        self.relay = outbox.OutboxRelay(
            pool, self.producer, self.signal, self.registry, batch_size=50, lock_name=isolation.schema
        )

    async def __aenter__(self) -> Relay:
        self.signal.start()
        self.relay.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.relay.stop()
        await self.producer.stop()
        await self.signal.stop()

    async def write(self, topic: str, envelope: Envelope) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, topic, envelope, channel=self.channel)

    def metric(self, name: str) -> float:
        for line in generate_latest(self.registry).decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"{name} not exposed")


@pytest.fixture
async def pool(infra: Infrastructure, isolation: Isolation) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(infra.database_url, isolation.schema)
    await migrate(pool, "runtime", RUNTIME_MIGRATIONS)
    yield pool
    await pool.close()


async def _create_topic(bootstrap: str, name: str, **config: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1, topic_configs=config)])
    finally:
        await admin.close()


async def test_a_broker_restart_under_load_loses_nothing_reorders_nothing_and_the_relay_recovers_alone(
    infra: Infrastructure,
    isolation: Isolation,
    pool: asyncpg.Pool,
    throwaway_kafka: ThrowawayKafka,
) -> None:
    topic = isolation.topic("probe.events.v1")
    await _create_topic(throwaway_kafka.bootstrap, topic)
    written: list[Envelope] = []
    async with Relay(pool, infra, isolation, throwaway_kafka.bootstrap) as relay:

        async def write(count: int) -> None:
            for _ in range(count):
                envelope = _event(KEYS[len(written) % len(KEYS)], len(written))
                await relay.write(topic, envelope)
                written.append(envelope)
                await asyncio.sleep(PACE_SECONDS)

        await write(100)
        await eventually(lambda: _all_sent(pool), timeout=30, what="the first events published")
        # The producer has a producer id and sequence numbers now; the restart takes them away.
        await asyncio.gather(write(100), asyncio.to_thread(throwaway_kafka.stop))
        await eventually(lambda: _is_failing(relay.relay), timeout=60, what="the relay to notice Kafka is away")
        assert relay.relay.status()["publishing"] is False
        await asyncio.gather(write(100), asyncio.to_thread(throwaway_kafka.start))
        await write(100)
        await eventually(lambda: _all_sent(pool), timeout=120, what="the outbox drained after the restart")
        await eventually(lambda: _publishing(relay.relay), timeout=30, what="the relay to report it publishes")
        # The relay reads its gauges at most once a second (not after every commit): poll for them.
        await eventually(
            lambda: _gauges_read(relay, {"schakel_outbox_backlog": 0, "schakel_outbox_oldest_unsent_age_seconds": 0}),
            timeout=30,
            what="the backlog gauges back at zero",
        )
        generations = relay.producer.generations

    async with TopicReader(throwaway_kafka.bootstrap, topic) as reader:
        records = await reader.until(
            lambda rs: {Envelope.from_bytes(r.value).id for r in rs} >= {e.id for e in written},
            timeout=60,
            what="every written event on the topic",
        )
    # Nothing lost; per key, the first arrival of each event follows the order it was written in.
    seen: dict[str, list[uuid.UUID]] = {}
    for record in records:
        envelope = Envelope.from_bytes(record.value)
        ids = seen.setdefault(envelope.subject, [])
        if envelope.id not in ids:
            ids.append(envelope.id)
    for key in KEYS:
        assert seen[key] == [e.id for e in written if e.subject == key]
    assert generations >= 2, "the producer that lost its broker was replaced"


async def test_a_relay_woken_while_another_replicas_relay_publishes_waits_its_turn_and_then_publishes(
    infra: Infrastructure, isolation: Isolation, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No safety poll within the test's time: a relay that gave up on the lock would never publish.
    monkeypatch.setattr(outbox, "SAFETY_POLL_SECONDS", 600.0)
    topic = isolation.topic("probe.events.v1")
    await _create_topic(infra.kafka, topic)
    async with Relay(pool, infra, isolation, infra.kafka) as relay:
        async with pool.acquire() as other, other.transaction():
            # Another replica's relay is publishing: it holds the lock.
            await other.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1))", f"schakel-outbox-relay:{isolation.schema}"
            )
            async with pool.acquire() as conn, conn.transaction():
                await outbox.enqueue(conn, topic, _event("aggregate-0", 1), channel=None)
            relay.relay.wake()  # what its own process does after that commit: no NOTIFY

            async def relay_waits_for_the_lock() -> bool:
                return bool(
                    await pool.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                )

            await eventually(relay_waits_for_the_lock, timeout=30, what="the woken relay to wait for the lock")
            assert not await _all_sent(pool), "published while another relay held the lock"
        await eventually(lambda: _all_sent(pool), timeout=30, what="the row published after the other relay's turn")


async def test_a_row_over_the_budget_is_parked_and_the_rows_behind_it_are_published(
    infra: Infrastructure,
    isolation: Isolation,
    pool: asyncpg.Pool,
) -> None:
    topic = isolation.topic("probe.events.v1")
    await _create_topic(infra.kafka, topic)
    before, after = _event("aggregate-0", 1), _event("aggregate-0", 3)
    huge = _event("aggregate-0", 2, size=EVENT_BUDGET_BYTES)
    async with Relay(pool, infra, isolation, infra.kafka) as relay:
        await relay.write(topic, before)
        # Written past enqueue's own check, as a row stored before a budget existed would be.
        await pool.execute(
            "INSERT INTO outbox (event_id, topic, event_type, key, payload) VALUES ($1, $2, $3, $4, $5)",
            huge.id,
            topic,
            huge.type,
            huge.subject,
            huge.to_bytes(),
        )
        await relay.write(topic, after)
        async with TopicReader(infra.kafka, topic) as reader:
            records = await reader.until(lambda rs: len(rs) >= 2, what="the events around the parked one")
        await eventually(lambda: _parked_is(relay, 1), what="schakel_outbox_parked 1")
    assert [Envelope.from_bytes(r.value).id for r in records] == [before.id, after.id]
    parked = await pool.fetchrow("SELECT park_reason, sent_at FROM outbox WHERE event_id = $1", huge.id)
    assert parked["sent_at"] is None and parked["park_reason"].startswith("too_large")


async def test_a_record_the_broker_refuses_is_parked_with_kafkas_reason(
    infra: Infrastructure,
    isolation: Isolation,
    pool: asyncpg.Pool,
) -> None:
    # A topic whose limit is below the budget: the broker itself refuses the record.
    topic = isolation.topic("small.events.v1")
    await _create_topic(infra.kafka, topic, **{"max.message.bytes": "4000"})
    refused, fine = _event("aggregate-1", 1, size=20_000), _event("aggregate-1", 2)
    async with Relay(pool, infra, isolation, infra.kafka) as relay:
        await relay.write(topic, refused)
        await relay.write(topic, fine)
        async with TopicReader(infra.kafka, topic) as reader:
            records = await reader.until(lambda rs: len(rs) >= 1, what="the event behind the refused one")
        await eventually(lambda: _parked_is(relay, 1), what="schakel_outbox_parked 1")
    assert [Envelope.from_bytes(r.value).id for r in records] == [fine.id]
    reason = await pool.fetchval("SELECT park_reason FROM outbox WHERE event_id = $1", refused.id)
    assert reason.startswith("MessageSizeTooLargeError")


async def test_enqueue_refuses_an_event_over_the_budget_and_stores_nothing(
    infra: Infrastructure,
    isolation: Isolation,
    pool: asyncpg.Pool,
) -> None:
    huge = _event("aggregate-2", 1, size=EVENT_BUDGET_BYTES)
    with pytest.raises(outbox.EventTooLarge, match="limited to"):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, "probe.events.v1", huge, channel="unused")
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def _all_sent(pool: asyncpg.Pool) -> bool:
    return await pool.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL AND parked_at IS NULL")


async def _is_failing(relay: outbox.OutboxRelay) -> bool:
    return not relay.publishing


async def _publishing(relay: outbox.OutboxRelay) -> bool:
    return relay.publishing


async def _parked_is(relay: Relay, count: int) -> bool:
    return relay.metric("schakel_outbox_parked") == count


async def _gauges_read(relay: Relay, expected: dict[str, float]) -> bool:
    return all(relay.metric(name) == value for name, value in expected.items())
