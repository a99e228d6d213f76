"""The rebuild's reader process on the real broker and database: it folds the capacity reports to
the newest of each setting and hands on the rest; when it dies or fails, the rebuild fails and the
read models stay as they were."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from contracts import topics
from services.monitoring import handlers
from services.monitoring.rebuild import Replay, rebuild
from services.monitoring.replay_reader import ReaderProcess
from services.monitoring.settings import MonitoringSettings
from services.runtime.db import create_pool
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import produce
from tests.support.reports import capacity_report

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
def settings(infra: Infrastructure, isolation: Isolation) -> MonitoringSettings:
    settings: MonitoringSettings = isolation.settings(MonitoringSettings, infra)
    return settings


@pytest.fixture
async def db(infra: Infrastructure, isolation: Isolation) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(infra.database_url, isolation.schema, max_size=2)
    yield pool
    await pool.close()


@pytest.fixture
async def before(
    infra: Infrastructure, isolation: Isolation, settings: MonitoringSettings, db: asyncpg.Pool
) -> tuple[object, ...]:
    """Read models rebuilt from one report, and two more reports on the topic: what a rebuild that
    fails must leave as it found it (returned)."""
    await rebuild(settings)
    topic = isolation.topic(topics.CAPACITY_EVENTS)
    await produce(infra.kafka, topic, capacity_report("11111111", 2, NOW).to_bytes())
    await rebuild(settings)
    before = await _state(db)
    for agb in ("22222222", "33333333"):
        await produce(infra.kafka, topic, capacity_report(agb, 1, NOW).to_bytes())
    return before


async def _state(db: asyncpg.Pool) -> tuple[object, ...]:
    return await _capacity(db), await db.fetch("SELECT consumer, event_id FROM inbox ORDER BY event_id")


async def _capacity(db: asyncpg.Pool) -> list[tuple[object, ...]]:
    return [tuple(row) for row in await db.fetch("SELECT agb, free, reported_at FROM provider_capacity ORDER BY agb")]


async def test_the_rebuild_keeps_the_newest_report_of_each_setting_and_skips_what_is_invalid(
    infra: Infrastructure, isolation: Isolation, settings: MonitoringSettings, db: asyncpg.Pool
) -> None:
    await rebuild(settings)  # makes the topics and the read models
    newest = capacity_report("11111111", 2, NOW + timedelta(minutes=5))
    late = capacity_report("11111111", 3, NOW)  # older than the one before it: arrived late
    twice = capacity_report("22222222", 1, NOW)
    reports = [capacity_report("11111111", 1, NOW), newest, late, twice, twice]  # the relay may publish one event twice
    invalid = capacity_report("33333333", 1, NOW).to_bytes().replace(b'"free":1', b'"free":"one"')
    topic = isolation.topic(topics.CAPACITY_EVENTS)
    for value in [r.to_bytes() for r in reports] + [invalid, b"not json"]:
        await produce(infra.kafka, topic, value, key=b"same-partition")

    replayed = await rebuild(settings)

    assert await _capacity(db) == [("11111111", 2, NOW + timedelta(minutes=5)), ("22222222", 1, NOW)]
    assert (replayed.messages, replayed.applied, replayed.skipped) == (7, 4, 2)
    inbox = {row["event_id"] for row in await db.fetch("SELECT event_id FROM inbox WHERE consumer LIKE 'monitoring.%'")}
    assert inbox == {r.id for r in reports}


async def test_a_rebuild_whose_reader_dies_fails_and_leaves_the_read_models_as_they_were(
    settings: MonitoringSettings, db: asyncpg.Pool, before: tuple[object, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[ReaderProcess] = []

    async def killed_instead_of_let_go(reader: ReaderProcess) -> None:
        started.append(reader)
        os.kill(reader.process.pid, signal.SIGKILL)  # as an operator's kill -9 or the OOM killer would
        await reader.process.wait()

    monkeypatch.setattr(ReaderProcess, "go", killed_instead_of_let_go)

    with pytest.raises(RuntimeError, match=r"the rebuild's reader stopped \(exit code -9\)"):
        await rebuild(settings)

    assert started and all(reader.process.returncode is not None for reader in started)
    assert await _state(db) == before


async def test_a_rebuild_failing_midway_stops_its_readers_and_leaves_the_read_models_as_they_were(
    settings: MonitoringSettings, db: asyncpg.Pool, before: tuple[object, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[ReaderProcess] = []
    start = ReaderProcess.start.__func__  # type: ignore[attr-defined]

    async def recorded(cls: type[ReaderProcess], *args: object) -> ReaderProcess:
        started.append(await start(cls, *args))
        return started[-1]

    async def failing(*_: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(ReaderProcess, "start", classmethod(recorded))
    monkeypatch.setattr(Replay, "record_folded", failing)

    with pytest.raises(RuntimeError, match="the database went away"):
        await rebuild(settings)

    assert len(started) == 2 and all(reader.process.returncode is not None for reader in started)
    assert await _state(db) == before


async def test_a_reader_that_cannot_read_says_why(infra: Infrastructure, isolation: Isolation) -> None:
    unreachable = isolation.settings(MonitoringSettings, infra).model_copy(
        update={"kafka_bootstrap_servers": "127.0.0.1:1"}
    )
    reader = await ReaderProcess.start(unreachable, handlers.consumers("live"))
    try:
        await reader.go()
        with pytest.raises(RuntimeError, match="the rebuild's reader failed: KafkaConnectionError"):
            await reader.next()
    finally:
        await reader.stop()
    assert reader.process.returncode is not None
