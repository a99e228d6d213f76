"""Consumer lag and dead letters waiting are read from Kafka beside the consumer, so /metrics tells
the truth while a consumer is stuck: lag rises though its handler never returns."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from contracts import topics
from contracts.capacity import ShortageDetected
from contracts.envelope import Envelope
from contracts.verblijf import Setting
from services.runtime.consumer import Consumer
from services.runtime.service import ServiceSpec, create_app
from services.runtime.settings import ServiceSettings
from services.runtime.unit_of_work import UnitOfWork
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import produce
from tests.support.polling import eventually
from tests.support.server import serving

MIGRATIONS = Path(__file__).parent / "probe_migrations"


class ProbeSettings(ServiceSettings):
    service: str = "probe"
    port: int = 0
    database_url: str = ""
    kafka_offsets_interval_seconds: float = 0.2


def _shortage() -> Envelope:
    event = ShortageDetected(
        shortage_id=uuid.uuid4(),
        setting=Setting.CRISISPLEK,
        free_places=0,
        waiting=1,
        severity="kritiek",
        detected_at=datetime.now(UTC),
    )
    return Envelope.wrap(event, source="probe")


def _blocking_app(settings: ProbeSettings, released: asyncio.Event, entered: asyncio.Event) -> FastAPI:
    async def apply(uow: UnitOfWork[asyncpg.Connection, Any], event: ShortageDetected) -> None:
        conn = uow.store
        entered.set()
        await released.wait()  # a handler stuck on something that never answers
        await conn.execute("INSERT INTO applied (event_id, setting) VALUES ($1, $2)", uow.consumed.id, event.setting)

    return create_app(
        ServiceSpec(
            settings=settings,
            title="probe",
            description="a service whose handler blocks",
            migrations=MIGRATIONS,
            consumers=lambda _app, _rt: [Consumer("probe", topics.CAPACITY_ALERTS, {ShortageDetected: apply})],
        )
    )


def _sample(metrics: str, name: str, **labels: str) -> float | None:
    """The sum of ``name``'s samples carrying ``labels`` (over partitions, say); None when there are none."""
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items())
    ]
    return sum(values) if values else None


async def test_lag_rises_on_metrics_while_the_handler_is_stuck_and_falls_once_it_is_free(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool
) -> None:
    settings = isolation.settings(ProbeSettings, infra)
    released, entered = asyncio.Event(), asyncio.Event()
    topic = isolation.topic(topics.CAPACITY_ALERTS)
    labels = {"group": settings.group_id("probe"), "topic": topic}
    async with serving(_blocking_app(settings, released, entered)) as url, httpx.AsyncClient() as http:

        async def lag() -> float | None:
            return _sample((await http.get(f"{url}/metrics")).text, "schakel_consumer_lag_messages", **labels)

        await produce(infra.kafka, topic, _shortage().to_bytes(), key=b"crisisplek")
        await eventually(lambda: _is_set(entered), what="the handler to take the first event")
        assert await eventually(lambda: _when(lag, lambda n: n == 1), what="a lag of 1 while stuck") == 1
        for _ in range(2):
            await produce(infra.kafka, topic, _shortage().to_bytes(), key=b"crisisplek")
        # Nothing was handled, yet the lag moves: it is read from Kafka, not from the handler.
        assert await eventually(lambda: _when(lag, lambda n: n == 3), what="the lag rising to 3") == 3
        assert await db.fetchval("SELECT count(*) FROM applied") == 0

        released.set()
        await eventually(lambda: _when(lag, lambda n: n == 0), what="the lag back at 0 once free")
        assert await db.fetchval("SELECT count(*) FROM applied") == 3


async def test_lag_stays_on_metrics_and_rises_after_the_consumer_died(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool
) -> None:
    settings = isolation.settings(ProbeSettings, infra)
    released, entered = asyncio.Event(), asyncio.Event()
    released.set()
    topic = isolation.topic(topics.CAPACITY_ALERTS)
    labels = {"group": settings.group_id("probe"), "topic": topic}
    app = _blocking_app(settings, released, entered)
    async with serving(app) as url, httpx.AsyncClient() as http:

        async def lag() -> float | None:
            return _sample((await http.get(f"{url}/metrics")).text, "schakel_consumer_lag_messages", **labels)

        await produce(infra.kafka, topic, _shortage().to_bytes(), key=b"crisisplek")
        await eventually(lambda: db.fetchval("SELECT count(*) = 1 FROM applied"), what="the first event applied")
        assert await eventually(lambda: _when(lag, lambda n: n == 0), what="caught up") == 0

        await app.state.runtime.broker.stop()  # the consumer is gone; the process lives on
        for _ in range(2):
            await produce(infra.kafka, topic, _shortage().to_bytes(), key=b"crisisplek")
        assert await eventually(lambda: _when(lag, lambda n: n == 2), what="the lag of a dead consumer") == 2
        assert await db.fetchval("SELECT count(*) FROM applied") == 1


async def test_dead_letters_waiting_count_what_is_on_the_dead_letter_topic(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool
) -> None:
    settings = isolation.settings(ProbeSettings, infra)
    released, entered = asyncio.Event(), asyncio.Event()
    released.set()
    topic = isolation.topic(topics.CAPACITY_ALERTS)
    async with serving(_blocking_app(settings, released, entered)) as url, httpx.AsyncClient() as http:

        async def waiting() -> float | None:
            return _sample(
                (await http.get(f"{url}/metrics")).text, "schakel_dead_letters_waiting_messages", topic=topic
            )

        assert await eventually(lambda: _when(waiting, lambda n: n == 0), what="no dead letters at first") == 0
        for poison in (b"not json", b"{}"):
            await produce(infra.kafka, topic, poison, key=b"poison")
        assert await eventually(lambda: _when(waiting, lambda n: n == 2), what="two dead letters waiting") == 2
        await produce(infra.kafka, topic, _shortage().to_bytes(), key=b"crisisplek")
        await eventually(lambda: db.fetchval("SELECT count(*) = 1 FROM applied"), what="the good event applied")
        metrics = (await http.get(f"{url}/metrics")).text
    assert _sample(metrics, "schakel_dead_letters_waiting_messages", topic=topic) == 2


async def _is_set(event: asyncio.Event) -> bool:
    return event.is_set()


async def _when(read, accept) -> float | None:  # type: ignore[no-untyped-def]
    """The value ``read`` returns once ``accept`` holds; a 0 counts as found (``eventually`` needs truthy)."""
    value = await read()
    return _Found(value) if value is not None and accept(value) else None


class _Found(float):
    def __bool__(self) -> bool:
        return True
