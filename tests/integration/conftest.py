"""Integration fixtures: a service app served for real against the session's Kafka and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from services.runtime.auth import create_key
from services.runtime.db import migrate
from services.runtime.roles import Role
from services.runtime.service import AUTH_MIGRATIONS
from tests.support.infra import Infrastructure, Isolation, ThrowawayKafka
from tests.support.server import free_port


@pytest.fixture
async def db(infra: Infrastructure, isolation: Isolation) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test's own schema (created by the service under test, or here)."""
    conn = await asyncpg.connect(infra.database_url)
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{isolation.schema}"')
    await conn.close()
    pool = await asyncpg.create_pool(
        infra.database_url, min_size=1, max_size=4, server_settings={"search_path": isolation.schema}
    )
    yield pool
    await pool.close()


class Keys:
    """Creates API keys in the test's key store."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def __call__(self, role: Role, subject: str | None = None) -> dict[str, str]:
        await migrate(self._pool, "auth", AUTH_MIGRATIONS)
        key = await create_key(self._pool, role, subject or role.value)
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keys(db: asyncpg.Pool) -> Keys:
    return Keys(db)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture
def throwaway_kafka(tmp_path: Path) -> Iterator[ThrowawayKafka]:
    """A private broker the test may stop and start; the session's broker stays untouched."""
    kafka = ThrowawayKafka(tmp_path / "kafka", free_port(), free_port())
    kafka.start()
    yield kafka
    kafka.stop()
