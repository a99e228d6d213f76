"""The capacity service on the real broker and database: reports, shortages, alerts, roles."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from httpx_sse import aconnect_sse

from contracts import topics
from contracts.envelope import Envelope
from contracts.verblijf import Setting
from services.capacity.app import build
from services.capacity.settings import CapacitySettings
from services.runtime.roles import Role
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import TopicReader
from tests.support.polling import eventually
from tests.support.server import serving

AGB_A, AGB_B = "12345678", "87654321"


ALL_SETTINGS = [s.value for s in Setting]


async def admit(
    http: httpx.AsyncClient,
    url: str,
    admin: dict[str, str],
    agb: str,
    settings: list[str],
    municipality: str | None = None,
) -> None:
    response = await http.put(
        f"{url}/v1/providers/{agb}", headers=admin, json={"settings": settings, "municipality_code": municipality}
    )
    assert response.status_code == 200, response.text


@pytest.fixture
async def capacity(infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool, keys, http) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    async with serving(build(isolation.settings(CapacitySettings, infra))) as url:
        admin = await keys(Role.ADMIN, "beheer")
        for agb in (AGB_A, AGB_B):
            await admit(http, url, admin, agb, ALL_SETTINGS)
        yield url


def _types(records) -> list[str]:  # type: ignore[no-untyped-def]
    return [Envelope.from_bytes(r.value).type.rsplit(".", 1)[-1] for r in records]


async def test_a_provider_reports_its_own_places_and_the_region_sees_them(capacity: str, keys, http) -> None:  # type: ignore[no-untyped-def]
    provider = await keys(Role.PROVIDER, AGB_A)
    response = await http.put(
        f"{capacity}/v1/capacity/{AGB_A}/gezinshuis",
        headers=provider,
        json={"total": 4, "occupied": 1, "age_min": 4, "age_max": 17},
    )
    assert response.status_code == 200, response.text
    assert response.json()["free"] == 3 and response.json()["regional_free"] == 3

    overview = await http.get(f"{capacity}/v1/capacity", headers=await keys(Role.GEMEENTE, "0402"))
    [gezinshuis] = overview.json()
    assert gezinshuis["setting"] == "gezinshuis"
    assert (gezinshuis["free"], gezinshuis["total"], gezinshuis["providers"]) == (3, 4, 1)
    assert gezinshuis["last_updated"] and gezinshuis["shortage_active"] is False


async def test_every_report_is_kept_as_history(capacity: str, keys, http, db: asyncpg.Pool) -> None:  # type: ignore[no-untyped-def]
    provider = await keys(Role.PROVIDER, AGB_A)
    for occupied in (1, 2, 3):
        await http.put(
            f"{capacity}/v1/capacity/{AGB_A}/residentieel", headers=provider, json={"total": 5, "occupied": occupied}
        )
    history = await db.fetch("SELECT occupied FROM capacity_report WHERE agb = $1 ORDER BY id", AGB_A)
    assert [r["occupied"] for r in history] == [1, 2, 3]
    shown = await http.get(f"{capacity}/v1/capacity/{AGB_A}/residentieel/history", headers=provider)
    assert [r["occupied"] for r in shown.json()] == [3, 2, 1]
    other = await http.get(
        f"{capacity}/v1/capacity/{AGB_A}/residentieel/history", headers=await keys(Role.PROVIDER, AGB_B)
    )
    assert other.status_code == 403


async def test_only_admitted_providers_report_and_only_for_their_settings(capacity: str, keys, http) -> None:  # type: ignore[no-untyped-def]
    stranger = "11112222"
    response = await http.put(
        f"{capacity}/v1/capacity/{stranger}/gezinshuis",
        headers=await keys(Role.PROVIDER, stranger),
        json={"total": 1, "occupied": 0},
    )
    assert response.status_code == 409
    assert "not admitted for gezinshuis" in response.json()["detail"]
    await admit(http, capacity, await keys(Role.ADMIN, "beheer"), stranger, ["pleegzorg"])
    response = await http.put(
        f"{capacity}/v1/capacity/{stranger}/gezinshuis",
        headers=await keys(Role.PROVIDER, stranger),
        json={"total": 1, "occupied": 0},
    )
    assert response.status_code == 409
    response = await http.put(
        f"{capacity}/v1/capacity/{stranger}/pleegzorg",
        headers=await keys(Role.PROVIDER, stranger),
        json={"total": 1, "occupied": 0},
    )
    assert response.status_code == 200


async def test_a_provider_may_not_report_for_another_agb(capacity: str, keys, http) -> None:  # type: ignore[no-untyped-def]
    response = await http.put(
        f"{capacity}/v1/capacity/{AGB_B}/gezinshuis",
        headers=await keys(Role.PROVIDER, AGB_A),
        json={"total": 1, "occupied": 0},
    )
    assert response.status_code == 403
    assert AGB_A in response.json()["detail"]


async def test_only_providers_report_and_only_with_a_valid_key(capacity: str, keys, http) -> None:  # type: ignore[no-untyped-def]
    url = f"{capacity}/v1/capacity/{AGB_A}/gezinshuis"
    body = {"total": 1, "occupied": 0}
    assert (await http.put(url, json=body)).status_code == 401
    assert (await http.put(url, json=body, headers={"Authorization": "Bearer sk_wrong"})).status_code == 401
    assert (await http.put(url, json=body, headers=await keys(Role.OPERATOR))).status_code == 403


@pytest.mark.parametrize(
    ("body", "path", "field"),
    [
        ({"total": 2, "occupied": 3}, "gezinshuis", "occupied (3) cannot exceed total (2)"),
        ({"total": -1, "occupied": 0}, "gezinshuis", "total"),
        ({"total": 2}, "gezinshuis", "occupied"),
        ({"total": 2, "occupied": 0}, "zwembad", "setting"),
        # Past the event's bound it was a 500 once: the body allowed 27, CapacityReported 23.
        ({"total": 2, "occupied": 0, "age_max": 25}, "gezinshuis", "age_max"),
    ],
)
async def test_invalid_reports_get_a_422_naming_the_field(capacity: str, keys, http, body, path, field) -> None:  # type: ignore[no-untyped-def]
    response = await http.put(
        f"{capacity}/v1/capacity/{AGB_A}/{path}", json=body, headers=await keys(Role.PROVIDER, AGB_A)
    )
    assert response.status_code == 422
    assert field in response.text


async def test_last_free_place_taken_raises_a_shortage_and_a_freed_place_resolves_it(
    capacity: str,
    keys,
    http,
    infra: Infrastructure,
    isolation: Isolation,  # type: ignore[no-untyped-def]
) -> None:
    a, b = await keys(Role.PROVIDER, AGB_A), await keys(Role.PROVIDER, AGB_B)
    url = f"{capacity}/v1/capacity/{{}}/crisisplek"
    await http.put(url.format(AGB_A), headers=a, json={"total": 2, "occupied": 1})
    await http.put(url.format(AGB_B), headers=b, json={"total": 1, "occupied": 0})
    await http.put(url.format(AGB_A), headers=a, json={"total": 2, "occupied": 2})
    # B still has a place: no shortage yet. B closing to admission takes the last one.
    await http.put(url.format(AGB_B), headers=b, json={"total": 1, "occupied": 0, "closed_to_admission": True})
    await http.put(url.format(AGB_A), headers=a, json={"total": 2, "occupied": 1})

    async with TopicReader(infra.kafka, isolation.topic(topics.CAPACITY_ALERTS)) as reader:
        alerts = await reader.until(lambda rs: len(rs) >= 2, what="detected and resolved")
    assert _types(alerts) == ["ShortageDetected", "ShortageResolved"]
    detected, resolved = (Envelope.from_bytes(r.value) for r in alerts)
    assert detected.data["setting"] == "crisisplek" and detected.data["free_places"] == 0
    assert resolved.data["shortage_id"] == detected.data["shortage_id"]
    assert resolved.data["free_places"] == 1
    async with TopicReader(infra.kafka, isolation.topic(topics.CAPACITY_EVENTS)) as reader:
        reports = await reader.until(lambda rs: len(rs) >= 5, what="five capacity reports")
    # Two providers' reports are keyed apart, so they may sit on two partitions: order them as made.
    made = sorted((Envelope.from_bytes(r.value) for r in reports), key=lambda e: e.data["reported_at"])
    assert [e.data["regional_free"] for e in made] == [1, 2, 1, 0, 1]


async def test_alerts_stream_live_and_resume_from_last_event_id(capacity: str, keys, http) -> None:  # type: ignore[no-untyped-def]
    provider = await keys(Role.PROVIDER, AGB_A)
    watcher = await keys(Role.SCHAKELFUNCTIONARIS)
    received: list[tuple[str, dict]] = []

    async def listen(headers: dict[str, str], until: int) -> None:
        async with aconnect_sse(http, "GET", f"{capacity}/v1/alerts/stream", headers=headers) as source:
            async for sse in source.aiter_sse():
                received.append((sse.id, json.loads(sse.data)))
                if len(received) >= until:
                    return

    listener = asyncio.create_task(listen(watcher, 1))
    # The stream is open once the server holds a LISTEN for it; report only then.
    await eventually(lambda: _streaming(http, capacity), what="the stream to be open")
    # An unpooled setting: a pooled one's shortage is also a pool-wide one here (test_pool_placements.py).
    await http.put(f"{capacity}/v1/capacity/{AGB_A}/residentieel", headers=provider, json={"total": 1, "occupied": 1})
    await asyncio.wait_for(listener, 20)
    first_id, shortage = received[0]
    assert shortage["type"] == "nl.schakel.capacity.ShortageDetected"
    assert shortage["data"]["setting"] == "residentieel"

    # While nobody listens the shortage resolves; a reconnecting client gets it from its last id.
    await http.put(f"{capacity}/v1/capacity/{AGB_A}/residentieel", headers=provider, json={"total": 1, "occupied": 0})
    await asyncio.wait_for(listen({**watcher, "Last-Event-ID": first_id}, 2), 20)
    assert received[1][1]["type"] == "nl.schakel.capacity.ShortageResolved"
    assert int(received[1][0]) > int(first_id)


async def _streaming(http: httpx.AsyncClient, capacity: str) -> bool:
    metrics = (await http.get(f"{capacity}/metrics")).text
    return "schakel_alert_streams_open 1.0" in metrics


async def test_the_stream_and_the_alert_list_are_for_alert_roles_only(capacity: str, keys, http) -> None:  # type: ignore[no-untyped-def]
    provider = await keys(Role.PROVIDER, AGB_A)
    assert (await http.get(f"{capacity}/v1/alerts/stream", headers=provider)).status_code == 403
    assert (await http.get(f"{capacity}/v1/alerts", headers=provider)).status_code == 403


async def test_an_alert_is_acknowledged_once_with_who_and_when(capacity: str, keys, http, infra, isolation) -> None:  # type: ignore[no-untyped-def]
    await http.put(
        f"{capacity}/v1/capacity/{AGB_A}/residentieel",
        headers=await keys(Role.PROVIDER, AGB_A),
        json={"total": 3, "occupied": 3},
    )
    sf = await keys(Role.SCHAKELFUNCTIONARIS, "sf.gooi")
    [alert] = (await http.get(f"{capacity}/v1/alerts?acknowledged=false", headers=sf)).json()
    first = await http.post(f"{capacity}/v1/alerts/{alert['id']}/acknowledge", headers=sf)
    again = await http.post(f"{capacity}/v1/alerts/{alert['id']}/acknowledge", headers=sf)
    assert first.json() == {"acknowledged": True} and again.json() == {"acknowledged": False}
    [acked] = (await http.get(f"{capacity}/v1/alerts?acknowledged=true", headers=sf)).json()
    assert acked["acknowledged_by"] == "sf.gooi" and acked["acknowledged_role"] == "schakelfunctionaris"
    async with TopicReader(infra.kafka, isolation.topic(topics.CAPACITY_ALERTS)) as reader:
        alerts = await reader.until(lambda rs: len(rs) >= 2, what="the acknowledgement")
    assert _types(alerts) == ["ShortageDetected", "AlertAcknowledged"]
    unknown = await http.post(f"{capacity}/v1/alerts/00000000-0000-4000-8000-000000000000/acknowledge", headers=sf)
    assert unknown.status_code == 404


async def test_readiness_checks_postgres_and_kafka(capacity: str, http) -> None:  # type: ignore[no-untyped-def]
    ready = await eventually(lambda: _ready(http, capacity), what="readiness")
    assert {k: ready[k] for k in ("ready", "postgres", "kafka", "service")} == {
        "ready": True,
        "postgres": True,
        "kafka": True,
        "service": "capacity",
    }
    assert ready["status"] == "ready" and ready["publishing"] is True and ready["parked"] == 0
    assert (await http.get(f"{capacity}/healthz")).json()["status"] == "ok"


async def _ready(http: httpx.AsyncClient, url: str) -> dict | None:
    response = await http.get(f"{url}/readyz")
    return response.json() if response.status_code == 200 else None


async def test_readiness_fails_while_kafka_is_unreachable(
    infra: Infrastructure, isolation: Isolation, db, http
) -> None:  # type: ignore[no-untyped-def]
    settings = isolation.settings(CapacitySettings, infra).model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1"})
    async with serving(build(settings), kafka=False) as url:
        response = await http.get(f"{url}/readyz")
    assert response.status_code == 503
    assert response.json()["postgres"] is True and response.json()["kafka"] is False
    # Still accepting requests into the outbox, but nothing reaches the bus: degraded, not down.
    assert response.json()["status"] == "degraded"


async def test_the_asyncapi_page_documents_both_capacity_topics(capacity: str, http, isolation: Isolation) -> None:  # type: ignore[no-untyped-def]
    response = await http.get(f"{capacity}/asyncapi")
    assert response.status_code == 200, response.text
    document = json.dumps(response.json())
    assert isolation.topic(topics.CAPACITY_EVENTS) in document
    assert isolation.topic(topics.CAPACITY_ALERTS) in document
