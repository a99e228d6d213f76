"""End-to-end fixtures: the environment that puts service processes into the test's isolation."""

from __future__ import annotations

import pytest

from tests.support.infra import Infrastructure, Isolation


@pytest.fixture
def env(infra: Infrastructure, isolation: Isolation) -> dict[str, str]:
    return isolation.env(infra)
