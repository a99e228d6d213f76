"""Kafka going away must not lose an accepted request (ARCHITECTURE §3, transactional outbox)."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from contracts import topics
from contracts.envelope import Envelope
from services.capacity.app import build
from services.capacity.settings import CapacitySettings
from services.runtime.roles import Role
from tests.support.infra import Infrastructure, Isolation, ThrowawayKafka
from tests.support.kafka import TopicReader
from tests.support.polling import eventually
from tests.support.server import serving


async def test_a_capacity_report_accepted_while_kafka_is_down_is_published_when_it_returns(
    infra: Infrastructure,
    isolation: Isolation,
    db: asyncpg.Pool,
    keys,
    http: httpx.AsyncClient,  # type: ignore[no-untyped-def]
    throwaway_kafka: ThrowawayKafka,
) -> None:
    settings = isolation.settings(CapacitySettings, infra).model_copy(
        update={"kafka_bootstrap_servers": throwaway_kafka.bootstrap}
    )
    provider = await keys(Role.PROVIDER, "12345678")
    async with serving(build(settings)) as url:
        await eventually(lambda: _kafka_ready(http, url), timeout=60, what="capacity connected to Kafka")
        admitted = await http.put(
            f"{url}/v1/providers/12345678", headers=await keys(Role.ADMIN, "beheer"), json={"settings": ["crisisplek"]}
        )
        assert admitted.status_code == 200, admitted.text
        await asyncio.to_thread(throwaway_kafka.stop)

        response = await http.put(
            f"{url}/v1/capacity/12345678/crisisplek", headers=provider, json={"total": 1, "occupied": 1}
        )
        assert response.status_code == 200, response.text
        assert await db.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 2
        # Operators see the events waiting while Kafka is away.
        await eventually(lambda: _backlog_is(http, url, 2.0), timeout=30, what="schakel_outbox_backlog 2")

        await asyncio.to_thread(throwaway_kafka.start)
        async with TopicReader(
            throwaway_kafka.bootstrap, isolation.topic(topics.CAPACITY_EVENTS), isolation.topic(topics.CAPACITY_ALERTS)
        ) as reader:
            records = await reader.until(lambda rs: len(rs) >= 2, timeout=90, what="the events after Kafka returned")
    types = sorted(Envelope.from_bytes(r.value).type for r in records)
    assert types == ["nl.schakel.capacity.CapacityReported", "nl.schakel.capacity.ShortageDetected"]


async def _kafka_ready(http: httpx.AsyncClient, url: str) -> bool:
    response = await http.get(f"{url}/readyz")
    return response.status_code == 200


async def _backlog_is(http: httpx.AsyncClient, url: str, value: float) -> bool:
    return f"schakel_outbox_backlog {value}" in (await http.get(f"{url}/metrics")).text
