"""The pool view on the real broker and database: what the members of the shipped pool
(Midden-Nederland, JeugdzorgPlus) tell on the pool topic of the test's namespace becomes
``GET /v1/pools``, ``schakel_pool_places_free`` and a push on the live feed; a redelivery or a late
older report changes nothing, a malformed message goes to the pool topic's dead letters, and a
rebuild ends with the same view.

Events are written straight onto the pool topic, as the member regions' capacity relays would.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from httpx_sse import aconnect_sse

from contracts import topics
from contracts.envelope import Envelope, EventData
from contracts.pool import PoolCapacityReported, PoolShortageDetected, PoolShortageResolved
from contracts.verblijf import Setting
from services.monitoring.app import build
from services.monitoring.rebuild import rebuild
from services.monitoring.settings import MonitoringSettings
from services.runtime.roles import Role
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import TopicReader, produce
from tests.support.polling import eventually, scraped
from tests.support.server import serving
from tests.support.snapshots import commit_between_reads

POOL = "midden-nederland"
OWN, EEMLAND, FLEVOLAND = "gooi-en-vechtstreek", "eemland", "flevoland"
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
JZP = Setting.JEUGDZORGPLUS


def _places(
    region: str, agb: str, free: int, total: int, reserved: int = 0, at: datetime = NOW
) -> PoolCapacityReported:
    return PoolCapacityReported(
        pool=POOL, region=region, agb=agb, setting=JZP, free=free, total=total, reserved=reserved, reported_at=at
    )


def _detected(region: str, shortage_id: uuid.UUID) -> PoolShortageDetected:
    return PoolShortageDetected(
        pool=POOL,
        region=region,
        shortage_id=shortage_id,
        setting=JZP,
        free_places=0,
        waiting=2,
        detected_at=NOW + timedelta(minutes=1),
    )


@pytest.fixture
def settings(infra: Infrastructure, isolation: Isolation) -> MonitoringSettings:
    return isolation.settings(MonitoringSettings, infra)


@pytest.fixture
def pool_topic(settings: MonitoringSettings) -> str:
    return settings.topic(topics.pool_capacity(POOL))


@pytest.fixture
async def monitoring(settings: MonitoringSettings, db: asyncpg.Pool, http: httpx.AsyncClient) -> AsyncIterator[str]:
    async with serving(build(settings)) as url:
        await eventually(lambda: _ready(http, url), timeout=60, what="monitoring ready")
        yield url


async def _ready(http: httpx.AsyncClient, url: str) -> bool:
    return (await http.get(f"{url}/readyz")).status_code == 200


async def _send(infra: Infrastructure, topic: str, *events: EventData) -> list[Envelope]:
    envelopes = [Envelope.wrap(event, source="capacity", time=NOW) for event in events]
    for envelope in envelopes:
        await produce(infra.kafka, topic, envelope.to_bytes(), key=envelope.subject.encode())
    return envelopes


async def _pools(http: httpx.AsyncClient, url: str, key: dict[str, str]) -> dict:  # type: ignore[type-arg]
    answer = await http.get(f"{url}/v1/pools", headers=key)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _tiles(view: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    [pool] = view["pools"]
    [setting] = pool["settings"]
    return {r["region"]: r for r in setting["regions"]}


async def test_members_places_and_shortages_become_the_pool_view_with_the_own_region_first(  # type: ignore[no-untyped-def]
    monitoring: str, infra: Infrastructure, pool_topic: str, keys, http: httpx.AsyncClient
) -> None:
    shortage = uuid.uuid4()
    await _send(
        infra,
        pool_topic,
        _places(OWN, "11111111", 1, 4, reserved=1),
        _places(EEMLAND, "22222222", 3, 6),
        _places(EEMLAND, "33333333", 0, 2, reserved=2),
        _detected(FLEVOLAND, shortage),
        # Not agreed in this region's pools file: a region that is no member, a setting not shared.
        _places("west-brabant", "44444444", 9, 9),
        PoolCapacityReported(
            pool=POOL,
            region=EEMLAND,
            agb="55555555",
            setting=Setting.CRISISPLEK,
            free=5,
            total=5,
            reserved=0,
            reported_at=NOW,
        ),
    )
    schakel = await keys(Role.SCHAKELFUNCTIONARIS, "sf")

    async def shown() -> dict | None:  # type: ignore[type-arg]
        view = await _pools(http, monitoring, schakel)
        return view if _tiles(view)[FLEVOLAND]["shortage_since"] else None

    view = await eventually(shown, what="the members' places and the shortage")
    [pool] = view["pools"]
    [jzp] = pool["settings"]
    assert (view["region"], view["region_title"], pool["name"], jzp["setting"]) == (
        OWN,
        "Gooi en Vechtstreek",
        POOL,
        "jeugdzorgplus",
    )
    # This region first and marked, then the others in the pool's order of members.
    assert [(r["region"], r["own"]) for r in jzp["regions"]] == [(OWN, True)] + [
        (region, False)
        for region in ("eemland", "lekstroom", "utrecht-stad", "zuid-oost-utrecht", "utrecht-west", "flevoland")
    ]
    assert (jzp["free"], jzp["total"], jzp["reserved"], jzp["regions_in_shortage"]) == (4, 12, 3, 1)
    tiles = _tiles(view)
    assert (tiles[OWN]["free"], tiles[OWN]["total"], tiles[OWN]["reserved"], tiles[OWN]["state"]) == (1, 4, 1, "krap")
    assert (tiles[EEMLAND]["free"], tiles[EEMLAND]["total"], [p["agb"] for p in tiles[EEMLAND]["providers"]]) == (
        3,
        8,
        ["22222222", "33333333"],
    )
    assert (tiles[FLEVOLAND]["state"], tiles[FLEVOLAND]["total"]) == ("tekort", 0)
    assert tiles["lekstroom"]["state"] == tiles["utrecht-stad"]["state"] == "onbekend"

    # The shortage ends: the tile has no shortage any more.
    await _send(
        infra,
        pool_topic,
        PoolShortageResolved(**_detected(FLEVOLAND, shortage).model_dump(), resolved_at=NOW + timedelta(hours=3)),
    )

    async def resolved() -> bool:
        return _tiles(await _pools(http, monitoring, schakel))[FLEVOLAND]["shortage_since"] is None

    await eventually(resolved, what="the shortage resolved")


async def test_the_view_never_shows_a_shortage_without_the_places_committed_with_it(  # type: ignore[no-untyped-def]
    monitoring: str, keys, http: httpx.AsyncClient, db: asyncpg.Pool, isolation
) -> None:
    # The CI failure this guards: a batch's places and shortage committed between the view's two reads.
    operator = await keys(Role.OPERATOR)
    schema = isolation.schema
    view = await commit_between_reads(
        db,
        f'"{schema}".pool_shortage_view',
        "FROM pool_shortage_view",
        _pools(http, monitoring, operator),
        [
            (
                f"""INSERT INTO "{schema}".pool_capacity_view
                    (pool, region, agb, setting, free, total, reserved, reported_at)
                    VALUES ($1, $2, '22222222', 'jeugdzorgplus', 0, 2, 2, $3)""",
                POOL,
                EEMLAND,
                NOW,
            ),
            (
                f"""INSERT INTO "{schema}".pool_shortage_view
                    (pool, shortage_id, region, setting, free_places, waiting, detected_at)
                    VALUES ($1, $2, $3, 'jeugdzorgplus', 0, 2, $4)""",
                POOL,
                uuid.uuid4(),
                FLEVOLAND,
                NOW,
            ),
        ],
    )
    tiles = _tiles(view)
    # Neither: the view's snapshot was taken before the commit. Read statement by statement, it
    # showed the shortage without the places (total 0).
    assert (tiles[EEMLAND]["total"], tiles[FLEVOLAND]["shortage_since"]) == (0, None)
    tiles = _tiles(await _pools(http, monitoring, operator))
    assert (tiles[EEMLAND]["total"], tiles[FLEVOLAND]["shortage_since"] is not None) == (2, True)


async def test_a_redelivery_and_a_late_older_report_change_nothing(  # type: ignore[no-untyped-def]
    monitoring: str, infra: Infrastructure, pool_topic: str, keys, http: httpx.AsyncClient, db: asyncpg.Pool, isolation
) -> None:
    [first] = await _send(infra, pool_topic, _places(EEMLAND, "22222222", 2, 6))
    await _send(infra, pool_topic, _places(EEMLAND, "22222222", 5, 6, at=NOW + timedelta(minutes=10)))
    # The first one again (the same envelope: a redelivery), then a report older than the latest.
    await produce(infra.kafka, pool_topic, first.to_bytes(), key=first.subject.encode())
    await _send(infra, pool_topic, _places(EEMLAND, "22222222", 0, 6, at=NOW + timedelta(minutes=5)))
    # A marker after them all: once it is shown, everything before it was applied.
    await _send(infra, pool_topic, _places(FLEVOLAND, "66666666", 1, 1))
    operator = await keys(Role.OPERATOR)

    async def marker() -> dict | None:  # type: ignore[type-arg]
        tiles = _tiles(await _pools(http, monitoring, operator))
        return tiles if tiles[FLEVOLAND]["total"] == 1 else None

    tiles = await eventually(marker, what="every event applied")
    assert (tiles[EEMLAND]["free"], tiles[EEMLAND]["total"]) == (5, 6)
    schema = isolation.schema
    applied = await db.fetchval(
        f"""SELECT count(*) FROM "{schema}".inbox WHERE consumer = 'monitoring.pool-midden-nederland'"""
    )
    assert applied == 4  # five messages, one of them twice
    await scraped(
        http, monitoring, f'schakel_pool_places_free{{pool="{POOL}",region="{EEMLAND}",setting="jeugdzorgplus"}} 5.0'
    )


async def test_a_malformed_message_goes_to_the_pool_topics_dead_letters_and_the_pool_moves_on(  # type: ignore[no-untyped-def]
    monitoring: str, infra: Infrastructure, pool_topic: str, keys, http: httpx.AsyncClient
) -> None:
    poison = b'{"specversion": "1.0", "type": "nl.schakel.pool.PoolCapacityReported", "data": {}}'
    await produce(infra.kafka, pool_topic, poison, key=b"poison")
    await _send(infra, pool_topic, _places(EEMLAND, "22222222", 3, 6))
    async with TopicReader(infra.kafka, topics.dead_letter(pool_topic)) as reader:
        dead = await reader.until(lambda rs: len(rs) >= 1, what="a dead letter")
    assert (dead[0].value, dead[0].headers["x-dlq-reason"], dead[0].headers["x-original-topic"]) == (
        poison,
        "invalid",
        pool_topic,
    )
    operator = await keys(Role.OPERATOR)

    async def applied() -> bool:
        return _tiles(await _pools(http, monitoring, operator))[EEMLAND]["free"] == 3

    await eventually(applied, what="the good event after the poison one")


async def test_the_pool_view_is_for_the_schakelfunctie_roles_and_operators(  # type: ignore[no-untyped-def]
    monitoring: str, keys, http: httpx.AsyncClient
) -> None:
    for role in (Role.SCHAKELFUNCTIONARIS, Role.EXPERTTEAM, Role.OPERATOR):
        assert (
            await http.get(f"{monitoring}/v1/pools", headers=await keys(role, f"{role.value}.x"))
        ).status_code == 200
    assert (await http.get(f"{monitoring}/v1/pools", headers=await keys(Role.GEMEENTE, "0402"))).status_code == 403
    assert (await http.get(f"{monitoring}/v1/pools", headers=await keys(Role.PROVIDER, "12345678"))).status_code == 403
    assert (await http.get(f"{monitoring}/v1/pools")).status_code == 401


async def test_an_expertisenetwerk_sees_the_pool_its_key_names_only(  # type: ignore[no-untyped-def]
    monitoring: str, keys, http: httpx.AsyncClient
) -> None:
    own = await _pools(http, monitoring, await keys(Role.EXPERTISENETWERK, f"{POOL}.jzp"))
    other = await _pools(http, monitoring, await keys(Role.EXPERTISENETWERK, "noord-holland-noord"))
    assert ([p["name"] for p in own["pools"]], other["pools"]) == ([POOL], [])


async def test_a_pool_event_pushes_the_live_feed(  # type: ignore[no-untyped-def]
    monitoring: str, infra: Infrastructure, pool_topic: str, http: httpx.AsyncClient
) -> None:
    async with aconnect_sse(http, "GET", f"{monitoring}/v1/live") as source:
        events = source.aiter_sse()
        first = await anext(events)  # the state at connection
        assert first.event == "update"
        await _send(infra, pool_topic, _places(EEMLAND, "22222222", 3, 6))
        pushed = await anext(events)
    assert pushed.event == "update"


async def test_a_rebuild_ends_with_the_same_pool_view(  # type: ignore[no-untyped-def]
    monitoring: str, infra: Infrastructure, pool_topic: str, keys, http: httpx.AsyncClient, settings: MonitoringSettings
) -> None:
    await _send(
        infra,
        pool_topic,
        _places(EEMLAND, "22222222", 2, 6),
        _places(EEMLAND, "22222222", 4, 6, at=NOW + timedelta(minutes=1)),
        _detected(FLEVOLAND, uuid.uuid4()),
    )
    operator = await keys(Role.OPERATOR)

    async def shown() -> dict | None:  # type: ignore[type-arg]
        view = await _pools(http, monitoring, operator)
        tiles = _tiles(view)
        return view if tiles[EEMLAND]["free"] == 4 and tiles[FLEVOLAND]["shortage_since"] else None

    before = await eventually(shown, what="the pool's events applied")
    replayed = await rebuild(settings)
    assert replayed.applied >= 3
    assert await _pools(http, monitoring, operator) == before
