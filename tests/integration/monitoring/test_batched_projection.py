"""Recording a poll's events at once, live or in a rebuild, leaves the read models exactly as
recording them one by one.

The events are a slice of the national year (``services.sim.national``): every kind monitoring
handles, interleaved as the simulator makes them (withdrawals after referrals, placement steps,
shortages, declarations with many lines), projected twice on real PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from contracts.envelope import Envelope, EventData
from contracts.intake import ReferralReceived, ReferralWithdrawn
from services.monitoring import handlers
from services.monitoring.rebuild import MIGRATIONS, rebuild
from services.monitoring.settings import MonitoringSettings
from services.monitoring.store import READ_MODELS, Projection
from services.runtime.consumer import Consumer
from services.runtime.db import create_pool, migrate
from services.runtime.service import RUNTIME_MIGRATIONS
from services.runtime.unit_of_work import UnitOfWork
from services.sim.national.generate import events
from tests.support.infra import Infrastructure, Isolation

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)
EVENTS = 6_000
POLL = 500


@pytest.fixture
async def pools(infra: Infrastructure, isolation: Isolation) -> AsyncIterator[dict[str, asyncpg.Pool]]:
    pools = {}
    for way in ("one_by_one", "batched"):
        pool = await create_pool(infra.database_url, f"{isolation.schema}_{way}", max_size=2)
        await migrate(pool, "runtime", RUNTIME_MIGRATIONS)
        await migrate(pool, "monitoring", MIGRATIONS)
        pools[way] = pool
    yield pools
    for pool in pools.values():
        await pool.close()


async def _publish(
    infra: Infrastructure, isolation: Isolation, per_topic: dict[str, list[tuple[Envelope, EventData]]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, linger_ms=5)
    await producer.start()
    try:
        for topic, applied in per_topic.items():
            for envelope, _ in applied:
                await producer.send(isolation.topic(topic), envelope.to_bytes(), key=envelope.subject.encode())
        await producer.flush()
    finally:
        await producer.stop()


def _by_consumer() -> dict[str, list[tuple[Envelope, EventData]]]:
    """The national slice per topic, in order, only the types monitoring handles."""
    consumers = {c.topic: c for c in handlers.consumers("live")}
    per_topic: dict[str, list[tuple[Envelope, EventData]]] = defaultdict(list)
    for event in events(EVENTS, seed=13):
        consumer = consumers[event.topic]
        data = event.envelope.payload()
        if type(data) in consumer.handlers:
            per_topic[event.topic].append((event.envelope, data))
    return per_topic


async def _one_by_one(
    pool: asyncpg.Pool, consumer: Consumer[Projection], applied: list[tuple[Envelope, EventData]]
) -> None:
    assert consumer.store is not None
    for envelope, data in applied:
        async with pool.acquire() as conn, conn.transaction():
            uow = UnitOfWork(consumer.store(conn), MonitoringSettings(), NOW, cause=envelope)
            await consumer.handlers[type(data)](uow, data)


async def _batched(
    pool: asyncpg.Pool, consumer: Consumer[Projection], applied: list[tuple[Envelope, EventData]]
) -> None:
    assert consumer.store is not None and consumer.batch is not None
    for start in range(0, len(applied), POLL):
        async with pool.acquire() as conn, conn.transaction():
            await consumer.batch(
                UnitOfWork(consumer.store(conn), MonitoringSettings(), NOW), applied[start : start + POLL]
            )


async def _read_models(pool: asyncpg.Pool) -> dict[str, list[tuple[object, ...]]]:
    return {table: sorted(map(tuple, await pool.fetch(f"SELECT * FROM {table}")), key=repr) for table in READ_MODELS}


async def test_a_poll_recorded_at_once_leaves_the_read_models_as_recording_one_by_one(
    pools: dict[str, asyncpg.Pool],
) -> None:
    per_topic = _by_consumer()
    for consumer in handlers.consumers("live"):
        await _one_by_one(pools["one_by_one"], consumer, per_topic[consumer.topic])
        await _batched(pools["batched"], consumer, per_topic[consumer.topic])

    one_by_one, batched = await _read_models(pools["one_by_one"]), await _read_models(pools["batched"])
    assert {table: len(rows) for table, rows in batched.items()} == {t: len(r) for t, r in one_by_one.items()}
    assert all(one_by_one[table] for table in ("provider_capacity", "referral_view", "care_view", "placement_view"))
    assert batched == one_by_one


async def test_a_referral_withdrawn_in_the_poll_it_arrives_in_is_withdrawn(pools: dict[str, asyncpg.Pool]) -> None:
    per_topic = _by_consumer()
    received = {
        data.referral_id: (e, data) for e, data in per_topic[topics.INTAKE_EVENTS] if isinstance(data, ReferralReceived)
    }
    first, second = [(e, data) for e, data in per_topic[topics.INTAKE_EVENTS] if isinstance(data, ReferralWithdrawn)][
        :2
    ]
    # The first referral came in an earlier poll; this poll withdraws it, then brings the second and withdraws it:
    # the second withdrawal must not be sent with the first, ahead of the referral it withdraws.
    earlier, poll = [received[first[1].referral_id]], [first, received[second[1].referral_id], second]
    [consumer] = [c for c in handlers.consumers("live") if c.topic == topics.INTAKE_EVENTS]
    await _one_by_one(pools["one_by_one"], consumer, earlier + poll)
    for applied in (earlier, poll):
        await _batched(pools["batched"], consumer, applied)

    withdrawn = "SELECT referral_id FROM referral_view WHERE withdrawn_at IS NOT NULL ORDER BY referral_id"
    expected = sorted([first[1].referral_id, second[1].referral_id])
    assert [r["referral_id"] for r in await pools["batched"].fetch(withdrawn)] == expected
    assert await _read_models(pools["batched"]) == await _read_models(pools["one_by_one"])


async def test_a_rebuild_of_a_national_slice_leaves_the_read_models_as_recording_one_by_one(
    infra: Infrastructure, isolation: Isolation, pools: dict[str, asyncpg.Pool]
) -> None:
    per_topic = _by_consumer()
    for consumer in handlers.consumers("live"):
        await _one_by_one(pools["one_by_one"], consumer, per_topic[consumer.topic])
    settings = isolation.settings(MonitoringSettings, infra).model_copy(
        update={"db_schema": f"{isolation.schema}_batched"}
    )
    await rebuild(settings)  # makes the topics, replays nothing yet
    await _publish(infra, isolation, per_topic)

    replayed = await rebuild(settings)

    assert replayed.applied == sum(len(applied) for applied in per_topic.values())
    assert await _read_models(pools["batched"]) == await _read_models(pools["one_by_one"])
