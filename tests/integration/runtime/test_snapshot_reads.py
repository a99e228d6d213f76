"""A unit of work that only reads (``in_snapshot``, ``Runtime.reading``) sees one snapshot on the real
PostgreSQL: a commit made between two of its queries is not half in the view. Monitoring's views
read this way, since its consumers commit batches while a page reads the places and then the shortages.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from services.monitoring.settings import MonitoringSettings
from services.runtime.db import Connection
from services.runtime.unit_of_work import in_postgres, in_snapshot
from tests.support.infra import Infrastructure, Isolation
from tests.unit.contracts.examples import EXAMPLES

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


class Counts:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def rows(self) -> int:
        return await self.conn.fetchval("SELECT count(*) FROM snapshot_probe")


@pytest.fixture
async def probe(db: asyncpg.Pool) -> asyncpg.Pool:
    await db.execute("CREATE TABLE snapshot_probe (n int)")
    await db.execute("INSERT INTO snapshot_probe VALUES (1)")
    return db


@pytest.fixture
def settings(infra: Infrastructure, isolation: Isolation) -> MonitoringSettings:
    return isolation.settings(MonitoringSettings, infra)


async def test_a_reading_unit_of_work_does_not_see_what_commits_between_its_queries(
    probe: asyncpg.Pool, settings: MonitoringSettings
) -> None:
    async with in_snapshot(probe, Counts, settings, NOW) as uow:
        before = await uow.store.rows()
        await probe.execute("INSERT INTO snapshot_probe VALUES (2)")  # another connection, committed
        after = await uow.store.rows()
    assert (before, after) == (1, 1)
    async with in_snapshot(probe, Counts, settings, NOW) as uow:
        assert await uow.store.rows() == 2


async def test_a_writing_unit_of_work_sees_each_commit_at_its_next_query(
    probe: asyncpg.Pool, settings: MonitoringSettings
) -> None:
    # Why views read in a snapshot: PostgreSQL's default takes a new snapshot per statement.
    async with in_postgres(probe, Counts, settings, NOW) as uow:
        before = await uow.store.rows()
        await probe.execute("INSERT INTO snapshot_probe VALUES (2)")
        after = await uow.store.rows()
    assert (before, after) == (1, 2)


async def test_a_reading_unit_of_work_refuses_a_write(probe: asyncpg.Pool, settings: MonitoringSettings) -> None:
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        async with in_snapshot(probe, Counts, settings, NOW) as uow:
            await uow.store.conn.execute("INSERT INTO snapshot_probe VALUES (3)")
    assert await probe.fetchval("SELECT count(*) FROM snapshot_probe") == 1


async def test_an_event_collected_in_a_reading_unit_of_work_is_an_error_not_lost_quietly(
    probe: asyncpg.Pool, settings: MonitoringSettings
) -> None:
    with pytest.raises(RuntimeError, match="only reads collected 1 event"):
        async with in_snapshot(probe, Counts, settings, NOW) as uow:
            uow.collect(EXAMPLES[0])
