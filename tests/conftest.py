"""Fixtures shared by all test levels; real infrastructure is started only when a test asks for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.infra import Infrastructure, Isolation, drop_schemas, ensure_infrastructure


@pytest.fixture(scope="session")
def infra() -> Infrastructure:
    return ensure_infrastructure()


@pytest.fixture
async def isolation(infra: Infrastructure) -> AsyncIterator[Isolation]:
    """The test's own schema(s) and topic namespace; its schemas are dropped afterwards."""
    isolation = Isolation.new()
    yield isolation
    await drop_schemas(infra.database_url, isolation)
