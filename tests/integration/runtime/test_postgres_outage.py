"""PostgreSQL going away: a consumer holds its place and applies every event once it is back;
HTTP says 503 meanwhile instead of accepting what it cannot store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from contracts import topics
from contracts.capacity import ShortageDetected
from contracts.envelope import Envelope
from contracts.verblijf import Setting
from services.runtime.consumer import Consumer
from services.runtime.service import ServiceSpec, create_app
from services.runtime.settings import ServiceSettings
from tests.integration.runtime.test_outbox_and_consumer import MIGRATIONS, ProbeSettings, _apply_shortage
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import produce
from tests.support.polling import eventually
from tests.support.proxy import CuttableProxy
from tests.support.server import serving


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{port}"))


def _event(setting: Setting) -> Envelope:
    event = ShortageDetected(
        shortage_id=uuid.uuid4(),
        setting=setting,
        free_places=0,
        waiting=0,
        severity="tekort",
        detected_at=datetime.now(UTC),
    )
    return Envelope.wrap(event, source="probe")


async def test_events_that_arrive_while_postgres_is_away_are_all_applied_when_it_returns(
    infra: Infrastructure,
    isolation: Isolation,
    db: asyncpg.Pool,
) -> None:
    target = urlsplit(infra.database_url)
    proxy = CuttableProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    settings: ServiceSettings = isolation.settings(ProbeSettings, infra).model_copy(
        update={"database_url": _through(infra.database_url, proxy.port)}
    )
    app = create_app(
        ServiceSpec(
            settings=settings,
            title="probe",
            description="applies ShortageDetected",
            migrations=MIGRATIONS,
            consumers=lambda _app, _rt: [
                Consumer("probe", topics.CAPACITY_ALERTS, {ShortageDetected: _apply_shortage})
            ],
        )
    )
    topic = isolation.topic(topics.CAPACITY_ALERTS)
    before, during = _event(Setting.GEZINSHUIS), [_event(Setting.PLEEGZORG), _event(Setting.RESIDENTIEEL)]
    try:
        async with serving(app) as url, httpx.AsyncClient(timeout=10) as http:
            await produce(infra.kafka, topic, before.to_bytes(), key=b"k")
            await eventually(lambda: _applied_count(db, 1), what="the first event applied")

            await proxy.cut()
            await eventually(lambda: _not_ready(http, url), what="/readyz to report PostgreSQL down")
            for envelope in during:
                await produce(infra.kafka, topic, envelope.to_bytes(), key=b"k")

            await proxy.restore()
            await eventually(lambda: _applied_count(db, 3), timeout=60, what="the events from the outage applied")
            ids = [r["event_id"] for r in await db.fetch("SELECT event_id FROM applied ORDER BY seq")]
            assert ids == [before.id, *(e.id for e in during)]
            await eventually(lambda: _ready(http, url), what="/readyz healthy again")
            # An unavailable database is never the message's fault: nothing was dead-lettered.
            assert "schakel_dead_letters_total{" not in (await http.get(f"{url}/metrics")).text
    finally:
        await proxy.cut()


async def _applied_count(db: asyncpg.Pool, n: int) -> bool:
    return await db.fetchval("SELECT count(*) FROM applied") >= n


async def _not_ready(http: httpx.AsyncClient, url: str) -> bool:
    response = await http.get(f"{url}/readyz")
    return response.status_code == 503 and response.json()["postgres"] is False


async def _ready(http: httpx.AsyncClient, url: str) -> bool:
    return (await http.get(f"{url}/readyz")).status_code == 200
