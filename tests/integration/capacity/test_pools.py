"""Two regions of one pool on the real broker and database (docs/pools.md): each its own schema and
topic namespace, the pool topic shared. What one region reports of a pooled setting the other sees;
an unpooled setting never reaches the pool topic; a malformed message there is dead-lettered."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from contracts import topics
from contracts.envelope import Envelope
from services.capacity.app import build
from services.capacity.settings import CapacitySettings
from services.runtime.roles import Role
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import TopicReader, produce
from tests.support.polling import eventually
from tests.support.server import serving
from tests.support.snapshots import commit_between_reads

GV, EEMLAND = "gooi-en-vechtstreek", "eemland"
POOL_TOPIC = topics.pool_capacity("midden-nederland")
AGB_GV = "24000001"


@dataclass(frozen=True)
class Regions:
    gv: str
    eemland: str


def _region(infra: Infrastructure, isolation: Isolation, region: str, tag: str) -> CapacitySettings:
    """A deployment of ``region``: its own schema and topic namespace; the pool namespace is the test's."""
    return CapacitySettings(
        region=region,
        kafka_bootstrap_servers=infra.kafka,
        database_url=infra.database_url,
        db_schema=f"{isolation.schema}_{tag}",
        # One key store for the test's convenience; each region has its own in production.
        auth_database_url=infra.database_url,
        auth_db_schema=isolation.schema,
        topic_namespace=f"{isolation.namespace}-{tag}",
        pool_topic_namespace=isolation.namespace,
        kafka_partitions=1,
    )


@pytest.fixture
async def regions(infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool, keys) -> AsyncIterator[Regions]:  # type: ignore[no-untyped-def]
    await keys(Role.ADMIN, "beheer")  # the shared key store exists before either region starts
    async with (
        serving(build(_region(infra, isolation, GV, "gv"))) as gv,
        serving(build(_region(infra, isolation, EEMLAND, "em"))) as eemland,
    ):
        async with httpx.AsyncClient(timeout=30) as http:
            await eventually(lambda: _ready(http, gv), timeout=60, what="gooi-en-vechtstreek connected to Kafka")
            await eventually(lambda: _ready(http, eemland), timeout=60, what="eemland connected to Kafka")
        yield Regions(gv, eemland)


async def _ready(http: httpx.AsyncClient, url: str) -> bool:
    return (await http.get(f"{url}/readyz")).status_code == 200


async def _report(http: httpx.AsyncClient, url: str, keys, setting: str, total: int, occupied: int) -> None:  # type: ignore[no-untyped-def]
    admitted = await http.put(
        f"{url}/v1/providers/{AGB_GV}", headers=await keys(Role.ADMIN, "beheer"), json={"settings": [setting]}
    )
    assert admitted.status_code == 200, admitted.text
    reported = await http.put(
        f"{url}/v1/capacity/{AGB_GV}/{setting}",
        headers=await keys(Role.PROVIDER, AGB_GV),
        json={"total": total, "occupied": occupied},
    )
    assert reported.status_code == 200, reported.text


def _jeugdzorgplus(pools: dict[str, Any]) -> dict[str, Any]:
    [pool] = pools["pools"]
    [figures] = [f for f in pool["figures"] if f["setting"] == "jeugdzorgplus"]
    return figures


async def test_a_free_jeugdzorgplus_place_in_one_region_shows_in_the_others_pool_view(
    regions: Regions,
    keys,  # type: ignore[no-untyped-def]
    http: httpx.AsyncClient,
) -> None:
    await _report(http, regions.gv, keys, "jeugdzorgplus", total=3, occupied=2)
    sf = await keys(Role.SCHAKELFUNCTIONARIS, "sf.eemland")

    async def seen_in_eemland() -> dict[str, Any] | None:
        response = await http.get(f"{regions.eemland}/v1/pools", headers=sf)
        assert response.status_code == 200, response.text
        figures = _jeugdzorgplus(response.json())
        return figures if figures["pool_has_room"] else None

    figures = await eventually(seen_in_eemland, timeout=30, what="eemland to see gooi-en-vechtstreek's free place")
    assert figures["room_elsewhere"] == [GV]
    [gv] = [r for r in figures["regions"] if r["region"] == GV]
    assert (gv["free"], gv["total"], gv["reserved"], gv["providers"]) == (1, 3, 0, 1)
    assert (figures["free"], figures["shortage_here"]) == (1, False)

    # The reporting region sees its own places at once (written with the event), and nobody else's room.
    own = (await http.get(f"{regions.gv}/v1/pools", headers=await keys(Role.OPERATOR, "beheer"))).json()
    assert own["region"] == GV and [p["name"] for p in own["pools"]] == ["midden-nederland"]
    assert _jeugdzorgplus(own)["free"] == 1 and _jeugdzorgplus(own)["pool_has_room"] is False
    # A provider is no schakelfunctionaris: the pool view is for the alert roles and the admin.
    refused = await http.get(f"{regions.eemland}/v1/pools", headers=await keys(Role.PROVIDER, AGB_GV))
    assert refused.status_code == 403


async def test_an_unpooled_setting_never_reaches_the_pool_topic(
    regions: Regions,
    keys,  # type: ignore[no-untyped-def]
    http: httpx.AsyncClient,
    infra: Infrastructure,
    isolation: Isolation,
) -> None:
    await _report(http, regions.gv, keys, "crisisplek", total=1, occupied=1)  # a shortage as well
    await _report(http, regions.gv, keys, "gezinshuis", total=4, occupied=1)
    await _report(http, regions.gv, keys, "jeugdzorgplus", total=2, occupied=2)  # last, and a shortage

    async with TopicReader(infra.kafka, isolation.topic(POOL_TOPIC)) as reader:
        records = await reader.until(
            lambda rs: {"PoolCapacityReported", "PoolShortageDetected"} <= {_kind(r.value) for r in rs},
            what="the jeugdzorgplus places and shortage on the pool topic",
        )
    told = [Envelope.from_bytes(r.value) for r in records]
    assert {e.data["setting"] for e in told} == {"jeugdzorgplus"}
    assert {e.data["region"] for e in told} == {GV}
    # What the region published at all (its outbox): only jeugdzorgplus went to the pool's topic.
    async with _schema(infra, f"{isolation.schema}_gv") as conn:
        rows = await conn.fetch("SELECT topic, payload FROM outbox WHERE topic LIKE '%pool.%'")
    assert {r["topic"] for r in rows} == {isolation.topic(POOL_TOPIC)}
    assert {Envelope.from_bytes(r["payload"]).data["setting"] for r in rows} == {"jeugdzorgplus"}


async def test_a_malformed_message_on_the_pool_topic_is_dead_lettered_and_the_pool_moves_on(
    regions: Regions,
    keys,  # type: ignore[no-untyped-def]
    http: httpx.AsyncClient,
    infra: Infrastructure,
    isolation: Isolation,
) -> None:
    await produce(infra.kafka, isolation.topic(POOL_TOPIC), b'{"not": "an event"}', key=b"eemland/jeugdzorgplus")
    async with TopicReader(infra.kafka, topics.dead_letter(isolation.topic(POOL_TOPIC))) as reader:
        [letter, *_] = await reader.until(lambda rs: len(rs) >= 1, what="the dead letter of the pool topic")
    assert letter.value == b'{"not": "an event"}'
    assert letter.headers["x-dlq-reason"] == "invalid"
    assert letter.headers["x-dlq-consumer"] == "capacity.pool-midden-nederland"

    await _report(http, regions.gv, keys, "jeugdzorgplus", total=1, occupied=0)
    sf = await keys(Role.SCHAKELFUNCTIONARIS, "sf.eemland")

    async def seen_in_eemland() -> bool:
        response = await http.get(f"{regions.eemland}/v1/pools", headers=sf)
        return _jeugdzorgplus(response.json())["room_elsewhere"] == [GV]

    await eventually(seen_in_eemland, timeout=30, what="eemland's consumer to move past the dead letter")


async def test_the_pool_view_never_shows_a_shortage_without_the_places_committed_with_it(
    regions: Regions,
    keys,  # type: ignore[no-untyped-def]
    http: httpx.AsyncClient,
    db: asyncpg.Pool,
    isolation: Isolation,
) -> None:
    schema, operator = f"{isolation.schema}_gv", await keys(Role.OPERATOR, "beheer")
    answer = await commit_between_reads(
        db,
        f'"{schema}".pool_shortage',
        "detected_at FROM pool_shortage WHERE",
        http.get(f"{regions.gv}/v1/pools", headers=operator),
        [
            (
                f"""INSERT INTO "{schema}".pool_capacity (pool, region, agb, setting, free, total, reserved, reported_at)
                    VALUES ('midden-nederland', $1, '22222222', 'jeugdzorgplus', 0, 2, 2, now())""",
                EEMLAND,
            ),
            (
                f"""INSERT INTO "{schema}".pool_shortage (pool, region, setting, shortage_id, free_places, waiting,
                                                        detected_at)
                    VALUES ('midden-nederland', $1, 'jeugdzorgplus', gen_random_uuid(), 0, 2, now())""",
                GV,
            ),
        ],
    )
    figures = _jeugdzorgplus(answer.json())
    # Neither: the view's snapshot was taken before the commit. Read statement by statement, it
    # showed this region's shortage without the places told with it.
    assert (figures["total"], figures["shortage_here"]) == (0, False)
    figures = _jeugdzorgplus((await http.get(f"{regions.gv}/v1/pools", headers=operator)).json())
    assert (figures["total"], figures["shortage_here"]) == (2, True)


def _kind(value: bytes) -> str:
    return Envelope.from_bytes(value).type.rsplit(".", 1)[-1]


@contextlib.asynccontextmanager
async def _schema(infra: Infrastructure, schema: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to one region's schema."""
    conn = await asyncpg.connect(infra.database_url, server_settings={"search_path": schema})
    try:
        yield conn
    finally:
        await conn.close()
