"""The intake service served for real on the session's Kafka and PostgreSQL, with a clock tests move."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
from fastapi import FastAPI

from contracts.envelope import Envelope
from services.intake.app import build
from services.intake.settings import IntakeSettings
from services.runtime.clock import Clock
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import TopicReader
from tests.support.server import serving


@dataclass
class Served:
    url: str
    app: FastAPI
    clock: Clock


@pytest.fixture
def watch_interval() -> float:
    # Long by default, so a test that calls the overdue check itself is the only one calling it.
    return 3600.0


@pytest.fixture
async def intake(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool, watch_interval: float
) -> AsyncIterator[Served]:
    clock = Clock()
    settings = isolation.settings(IntakeSettings, infra, overdue_check_seconds=watch_interval, dev_mode=True)
    app = build(settings, clock=clock)
    async with serving(app) as url:
        yield Served(url, app, clock)


def client(bsn: str = "111222333", birth_date: str = "2012-05-01", municipality_code: str = "0402") -> dict:
    return {"bsn": bsn, "birth_date": birth_date, "municipality_code": municipality_code}


def referral_body(**overrides) -> dict:  # type: ignore[no-untyped-def]
    body = {
        "client": client(),
        "referrer": {"type": "02", "agb": "01234567"},
        "product_category": "45",
        "urgency": "regulier",
        "ambulant_tried": True,
    }
    return {**body, **overrides}


def allocation_body(**overrides) -> dict:  # type: ignore[no-untyped-def]
    body = {
        "provider_agb": "87654321",
        "product_category": "45",
        "product_code": "45A48",
        "start_date": "2026-01-01",
        "end_date": "2026-06-30",
        "volume": 4,
        "unit": "04",
        "frequency": "2",
    }
    return {**body, **overrides}


async def intake_events(infra: Infrastructure, isolation: Isolation, count: int, topic: str) -> list[Envelope]:
    async with TopicReader(infra.kafka, isolation.topic(topic)) as reader:
        records = await reader.until(lambda rs: len(rs) >= count, what=f"{count} events on {topic}")
    return [Envelope.from_bytes(r.value) for r in records]


def short(envelopes: list[Envelope]) -> list[str]:
    return [e.type.rsplit(".", 1)[-1] for e in envelopes]
