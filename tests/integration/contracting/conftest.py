"""The contracting service served for real, and small builders for its requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import asyncpg
import pytest

from contracts.envelope import Envelope
from services.contracting.app import build
from services.contracting.settings import ContractingSettings
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import TopicReader
from tests.support.server import serving

AGB_A, AGB_B, AGB_C = "12345678", "23456789", "34567890"
KVK = "41234567"
FULL_EVIDENCE = [
    {"requirement": r, "document_ref": f"doc-{r}", "valid_until": (date.today() + timedelta(days=365)).isoformat()}
    for r in ("kwaliteitskeurmerk", "vog", "aansprakelijkheidsverzekering", "skj-big-registratie", "meldcode")
]


@pytest.fixture
def contracting_settings(infra: Infrastructure, isolation: Isolation) -> ContractingSettings:
    return isolation.settings(ContractingSettings, infra)


@pytest.fixture
async def contracting(contracting_settings: ContractingSettings, db: asyncpg.Pool) -> AsyncIterator[str]:
    async with serving(build(contracting_settings)) as url:
        yield url


def application(agb: str, *lots: str, evidence: list[dict] | None = None) -> dict:
    return {
        "provider_agb": agb,
        "kvk": KVK,
        "lots": list(lots),
        "evidence": FULL_EVIDENCE if evidence is None else evidence,
    }


async def events(infra: Infrastructure, topic: str, count: int, what: str) -> list[Envelope]:
    async with TopicReader(infra.kafka, topic) as reader:
        records = await reader.until(lambda rs: len(rs) >= count, what=what)
    return [Envelope.from_bytes(r.value) for r in records]


def kinds(envelopes: list[Envelope]) -> list[str]:
    return [e.type.rsplit(".", 1)[-1] for e in envelopes]
