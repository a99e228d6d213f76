"""The runtime's delivery guarantees on the real broker and database: outbox, inbox, dead letters."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from contracts import topics
from contracts.capacity import ShortageDetected
from contracts.envelope import Envelope
from contracts.verblijf import Setting
from services.runtime import outbox
from services.runtime.consumer import Consumer
from services.runtime.service import Runtime, ServiceSpec, create_app
from services.runtime.settings import ServiceSettings
from services.runtime.unit_of_work import UnitOfWork, outbox_channel
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import TopicReader, produce
from tests.support.polling import eventually
from tests.support.server import serving

MIGRATIONS = Path(__file__).parent / "probe_migrations"


class ProbeSettings(ServiceSettings):
    service: str = "probe"
    port: int = 0
    database_url: str = ""
    consumer_max_attempts: int = 3


def _shortage(setting: Setting = Setting.CRISISPLEK) -> Envelope:
    import uuid

    event = ShortageDetected(
        shortage_id=uuid.uuid4(),
        setting=setting,
        free_places=0,
        waiting=1,
        severity="kritiek",
        detected_at=datetime.now(UTC),
    )
    return Envelope.wrap(event, source="probe")


async def _apply_shortage(uow: UnitOfWork[asyncpg.Connection, Any], event: ShortageDetected) -> None:
    conn = uow.store
    if event.setting == Setting.DRIEMILIEU:
        raise RuntimeError("this probe cannot handle driemilieu")
    await conn.execute("INSERT INTO applied (event_id, setting) VALUES ($1, $2)", uow.consumed.id, event.setting)


def _connection(conn: asyncpg.Connection) -> asyncpg.Connection:
    return conn


def _probe_app(settings: ProbeSettings) -> FastAPI:
    return create_app(
        ServiceSpec(
            settings=settings,
            title="probe",
            description="a service that applies ShortageDetected",
            migrations=MIGRATIONS,
            consumers=lambda _app, _rt: [
                Consumer("probe", topics.CAPACITY_ALERTS, {ShortageDetected: _apply_shortage})
            ],
        )
    )


async def _applied(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT event_id, setting FROM applied ORDER BY seq")


async def test_an_event_written_to_the_outbox_is_published_after_commit_and_a_rolled_back_one_never(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool
) -> None:
    app = _probe_app(isolation.settings(ProbeSettings, infra))
    async with serving(app):
        runtime: Runtime[ProbeSettings] = app.state.runtime
        with pytest.raises(RuntimeError):
            async with runtime.work(_connection) as uow:
                uow.collect(_shortage().payload())
                raise RuntimeError("business rule failed")
        async with runtime.work(_connection) as uow:
            committed = uow.collect(_shortage().payload())
        async with TopicReader(infra.kafka, isolation.topic(topics.CAPACITY_ALERTS)) as reader:
            records = await reader.until(lambda rs: len(rs) >= 1, what="the committed event")
        await eventually(
            lambda: db.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"),
            what="the outbox row marked sent",
        )
    assert [Envelope.from_bytes(r.value).id for r in records] == [committed.id]
    assert records[0].key == b"crisisplek"
    assert records[0].headers["ce_type"] == "nl.schakel.capacity.ShortageDetected"


async def test_a_routes_events_wake_the_relay_of_its_own_process_without_a_notify(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No safety poll within the test's time: only the wake after commit can publish the event.
    monkeypatch.setattr(outbox, "SAFETY_POLL_SECONDS", 600.0)
    settings = isolation.settings(ProbeSettings, infra)
    app = _probe_app(settings)
    notified: list[object] = []
    listener = await asyncpg.connect(infra.database_url)
    await listener.add_listener(outbox_channel(settings), lambda *notification: notified.append(notification))
    try:
        async with serving(app):
            runtime: Runtime[ProbeSettings] = app.state.runtime
            async with runtime.work(_connection) as uow:
                committed = uow.collect(_shortage().payload())
            async with TopicReader(infra.kafka, isolation.topic(topics.CAPACITY_ALERTS)) as reader:
                records = await reader.until(lambda rs: len(rs) >= 1, what="the committed event")
    finally:
        await listener.close()
    assert [Envelope.from_bytes(r.value).id for r in records] == [committed.id]
    assert notified == [], "notifying commits of the whole cluster take turns on one lock"


async def test_a_redelivered_event_changes_nothing(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool
) -> None:
    app = _probe_app(isolation.settings(ProbeSettings, infra))
    event, later = _shortage(), _shortage(Setting.GEZINSHUIS)
    topic = isolation.topic(topics.CAPACITY_ALERTS)
    async with serving(app) as url:
        for envelope in (event, event, later):
            await produce(infra.kafka, topic, envelope.to_bytes(), key=envelope.subject.encode())
        rows = await eventually(lambda: _applied_if(db, 2), what="both distinct events applied")
        # The duplicate sat between the two; once the later one is applied it has been seen too.
        assert [r["event_id"] for r in rows] == [event.id, later.id]
        assert await db.fetchval("SELECT count(*) FROM inbox") == 2
        # Caught up: Kafka reports no lag for the consumer's group on any partition of its topic.
        group = f'schakel_consumer_lag_messages{{group="{isolation.namespace}.probe.probe",'
        async with httpx.AsyncClient() as http:
            await eventually(lambda: _caught_up(http, f"{url}/metrics", group), what="a lag of 0 on /metrics")


async def _caught_up(http: httpx.AsyncClient, url: str, series: str) -> bool:
    lags = [line for line in (await http.get(url)).text.splitlines() if line.startswith(series)]
    return bool(lags) and all(line.endswith(" 0.0") for line in lags)


async def _applied_if(pool: asyncpg.Pool, n: int) -> list[asyncpg.Record] | None:
    rows = await _applied(pool)
    return rows if len(rows) >= n else None


@pytest.mark.parametrize(
    ("poison", "headers"),
    [
        (b"not json at all", []),
        # FastStream loads the JSON of a record that says it is JSON before any handler sees it.
        (b"{not json", [("content-type", b"application/json")]),
        (b'{"specversion": "1.0"}', []),
        (
            b'{"specversion":"1.0","id":"8d0c4b1e-0f5e-4a47-9d7e-5a3f0c1f2b11",'
            b'"type":"nl.schakel.capacity.ShortageDetected","source":"x","time":"2026-01-01T00:00:00Z",'
            b'"subject":"x","dataschema":"x","correlationid":"8d0c4b1e-0f5e-4a47-9d7e-5a3f0c1f2b11",'
            b'"data":{"setting":"zwembad"}}',
            [],
        ),
    ],
    ids=["garbage", "says-json-but-is-not", "incomplete-envelope", "handled-type-with-a-bad-payload"],
)
async def test_a_malformed_event_goes_to_the_dead_letter_topic_and_the_consumer_keeps_going(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool, poison: bytes, headers: list[tuple[str, bytes]]
) -> None:
    app = _probe_app(isolation.settings(ProbeSettings, infra))
    topic = isolation.topic(topics.CAPACITY_ALERTS)
    good = _shortage()
    async with serving(app) as url:
        await produce(infra.kafka, topic, poison, key=b"poison", headers=headers)
        await produce(infra.kafka, topic, good.to_bytes(), key=b"crisisplek")
        rows = await eventually(lambda: _applied_if(db, 1), what="the good event after the poison one")
        async with TopicReader(infra.kafka, topics.dead_letter(topic)) as reader:
            dead = await reader.until(lambda rs: len(rs) >= 1, what="a dead letter")
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"{url}/metrics")).text
    assert f'schakel_dead_letters_total{{reason="invalid",topic="{topic}"}} 1.0' in metrics
    assert [r["event_id"] for r in rows] == [good.id]
    assert dead[0].value == poison
    assert dead[0].key == b"poison"
    assert dead[0].headers["x-dlq-reason"] == "invalid"
    assert dead[0].headers["x-original-topic"] == topic
    assert dead[0].headers["x-dlq-error"]


async def test_an_event_that_keeps_failing_is_dead_lettered_after_the_configured_attempts(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool
) -> None:
    app = _probe_app(isolation.settings(ProbeSettings, infra))
    topic = isolation.topic(topics.CAPACITY_ALERTS)
    failing, good = _shortage(Setting.DRIEMILIEU), _shortage()
    async with serving(app):
        await produce(infra.kafka, topic, failing.to_bytes(), key=b"driemilieu")
        await produce(infra.kafka, topic, good.to_bytes(), key=b"crisisplek")
        rows = await eventually(lambda: _applied_if(db, 1), what="the good event after the failing one")
        async with TopicReader(infra.kafka, topics.dead_letter(topic)) as reader:
            dead = await reader.until(lambda rs: len(rs) >= 1, what="a dead letter")
    assert [r["event_id"] for r in rows] == [good.id]
    assert Envelope.from_bytes(dead[0].value).id == failing.id
    assert dead[0].headers["x-dlq-reason"] == "failed"
    assert dead[0].headers["x-dlq-attempts"] == "3"
    assert "cannot handle driemilieu" in dead[0].headers["x-dlq-error"]
    # A failed attempt rolls back with its inbox record: the event is not marked applied.
    assert await db.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", failing.id) == 0


async def test_types_a_consumer_does_not_handle_and_fields_added_later_are_never_dead_letters(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool
) -> None:
    app = _probe_app(isolation.settings(ProbeSettings, infra))
    topic = isolation.topic(topics.CAPACITY_ALERTS)
    unknown = _shortage().model_copy(update={"type": "nl.schakel.capacity.SomethingNewer", "data": {"x": 1}})
    grown = _shortage()
    grown = grown.model_copy(update={"data": {**grown.data, "added_later": "yes"}})
    async with serving(app) as url:
        for envelope in (unknown, grown):
            await produce(infra.kafka, topic, envelope.to_bytes(), key=b"k")
        rows = await eventually(lambda: _applied_if(db, 1), what="the event with an extra field applied")
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"{url}/metrics")).text
    assert [r["event_id"] for r in rows] == [grown.id]
    assert "schakel_dead_letters_total{" not in metrics
