"""A batched consumer keeps the per-event consumer's promises on the real broker and database: each
event applied once (also when published twice), a bad record dead-lettered without losing or
repeating the rest of its poll, offsets committed to Kafka after the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from contracts import topics
from contracts.capacity import ShortageDetected
from contracts.envelope import Envelope, EventData
from contracts.verblijf import Setting
from services.runtime.consumer import Consumer
from services.runtime.service import ServiceSpec, create_app
from services.runtime.unit_of_work import UnitOfWork
from tests.integration.runtime.test_outbox_and_consumer import (
    MIGRATIONS,
    ProbeSettings,
    _applied_if,
    _apply_shortage,
    _caught_up,
    _shortage,
)
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import TopicReader, produce
from tests.support.polling import eventually
from tests.support.server import serving


async def _apply_all(uow: UnitOfWork[asyncpg.Connection, Any], events: Sequence[tuple[Envelope, EventData]]) -> None:
    conn = uow.store
    for envelope, event in events:
        assert isinstance(event, ShortageDetected)
        if event.setting == Setting.DRIEMILIEU:
            raise RuntimeError("this probe cannot handle driemilieu")
        await conn.execute("INSERT INTO applied (event_id, setting) VALUES ($1, $2)", envelope.id, event.setting)


def _batched_probe(settings: ProbeSettings) -> FastAPI:
    return create_app(
        ServiceSpec(
            settings=settings,
            title="probe",
            description="a service that applies ShortageDetected a poll at a time",
            migrations=MIGRATIONS,
            consumers=lambda _app, _rt: [
                Consumer("probe", topics.CAPACITY_ALERTS, {ShortageDetected: _apply_shortage}, batch=_apply_all)
            ],
        )
    )


async def _publish(infra: Infrastructure, topic: str, *values: bytes) -> None:
    for value in values:
        await produce(infra.kafka, topic, value, key=b"k")


async def test_an_event_published_twice_is_applied_once_and_the_group_catches_up(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool
) -> None:
    event, later = _shortage(), _shortage(Setting.GEZINSHUIS)
    topic = isolation.topic(topics.CAPACITY_ALERTS)
    # Already on the topic when the consumer starts, so they come in one poll.
    await _publish(infra, topic, event.to_bytes(), event.to_bytes(), later.to_bytes())
    async with serving(_batched_probe(isolation.settings(ProbeSettings, infra))) as url:
        rows = await eventually(lambda: _applied_if(db, 2), what="both distinct events applied")
        await _publish(infra, topic, later.to_bytes())  # and once more, in a poll of its own
        group = f'schakel_consumer_lag_messages{{group="{isolation.namespace}.probe.probe",'
        async with httpx.AsyncClient() as http:
            await eventually(lambda: _caught_up(http, f"{url}/metrics", group), what="a lag of 0 on /metrics")
        rows = await eventually(lambda: _applied_if(db, 2), what="still two")
    assert [r["event_id"] for r in rows] == [event.id, later.id]
    assert await db.fetchval("SELECT count(*) FROM inbox") == 2


async def test_a_record_that_says_it_is_json_but_is_not_is_dead_lettered_and_its_poll_applied(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool
) -> None:
    """FastStream loaded the JSON of every record of a poll before the handler; one that said
    ``application/json`` and was not failed the whole poll, which was then neither applied nor
    dead-lettered."""
    first, last = _shortage(), _shortage(Setting.GEZINSHUIS)
    topic = isolation.topic(topics.CAPACITY_ALERTS)
    await _publish(infra, topic, first.to_bytes())
    await produce(infra.kafka, topic, b"{not json", key=b"k", headers=[("content-type", b"application/json")])
    await _publish(infra, topic, last.to_bytes())
    async with serving(_batched_probe(isolation.settings(ProbeSettings, infra))):
        rows = await eventually(lambda: _applied_if(db, 2), what="the good events around the bad one")
        async with TopicReader(infra.kafka, topics.dead_letter(topic)) as reader:
            dead = await reader.until(lambda rs: len(rs) >= 1, what="a dead letter")
    assert [r["event_id"] for r in rows] == [first.id, last.id]
    assert dead[0].value == b"{not json"
    assert dead[0].headers["x-dlq-reason"] == "invalid"


async def test_a_failing_event_is_dead_lettered_alone_and_the_rest_of_its_poll_applied_once(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool
) -> None:
    first, failing, last = _shortage(), _shortage(Setting.DRIEMILIEU), _shortage(Setting.GEZINSHUIS)
    topic = isolation.topic(topics.CAPACITY_ALERTS)
    await _publish(infra, topic, first.to_bytes(), b"not json at all", failing.to_bytes(), last.to_bytes())
    async with serving(_batched_probe(isolation.settings(ProbeSettings, infra))):
        rows = await eventually(lambda: _applied_if(db, 2), what="the good events around the bad ones")
        async with TopicReader(infra.kafka, topics.dead_letter(topic)) as reader:
            dead = await reader.until(lambda rs: len(rs) >= 2, what="two dead letters")
    assert [r["event_id"] for r in rows] == [first.id, last.id]
    assert [(d.headers["x-dlq-reason"], d.headers["x-dlq-attempts"]) for d in dead] == [
        ("invalid", "0"),
        ("failed", "3"),
    ]
    assert dead[0].value == b"not json at all"
    assert Envelope.from_bytes(dead[1].value).id == failing.id
    assert "cannot handle driemilieu" in dead[1].headers["x-dlq-error"]
    # The failed one rolled back with its inbox row; the others are recorded once.
    assert await db.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", failing.id) == 0
    assert await db.fetchval("SELECT count(*) FROM inbox") == 2
