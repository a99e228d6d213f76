"""Monitoring writes no topic, yet documents the ones it reads: its AsyncAPI page lists what it consumes
(the region's four, and the topic of each pool the region takes part in)."""

from __future__ import annotations

import asyncpg

from contracts import topics
from contracts.envelope import Envelope
from services.monitoring.app import build
from services.monitoring.settings import MonitoringSettings
from tests.support.infra import Infrastructure, Isolation
from tests.support.server import serving

READ = (
    topics.INTAKE_EVENTS,
    topics.CONTRACTING_EVENTS,
    topics.CAPACITY_EVENTS,
    topics.CAPACITY_ALERTS,
    topics.pool_capacity("midden-nederland"),
)


async def test_monitoring_documents_the_topics_it_reads_as_envelopes(  # type: ignore[no-untyped-def]
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool, http
) -> None:
    settings = isolation.settings(MonitoringSettings, infra)
    async with serving(build(settings)) as monitoring:
        response = await http.get(f"{monitoring}/asyncapi")

    assert response.status_code == 200, response.text
    document = response.json()
    channels = document["channels"].values()
    assert sorted(c["address"] for c in channels) == sorted(settings.topic(t) for t in READ)
    assert {o["action"] for o in document["operations"].values()} == {"receive"}
    # Each message read is documented as the envelope it is, not as FastStream's empty payload.
    payloads = [m["payload"] for m in document["components"]["messages"].values()]
    assert payloads == [{"$ref": "#/components/schemas/Envelope"}] * len(READ)
    schemas = document["components"]["schemas"]
    assert "EmptyPayload" not in schemas
    assert set(schemas["Envelope"]["required"]) == set(Envelope.model_json_schema()["required"])
