"""The pool-aware schakelfunctie on the real broker and database (docs/pools.md): two capacity
deployments, Gooi en Vechtstreek and Eemland, each with its own schema and topic namespace, sharing
the pool's topic. A youth Gooi en Vechtstreek cannot place is asked of Eemland's provider, which
answers in Eemland; the pool-wide shortage follows; an escalation in Eemland reaches Gooi en
Vechtstreek's expertisenetwerk and nobody else there."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from contracts import topics
from contracts.codes import Productcategorie, Urgentie, Verwijzer
from contracts.envelope import Envelope
from contracts.intake import ReferralReceived
from contracts.pool import NetworkCaseEscalated, PoolWideShortageDetected
from services.capacity.app import build
from services.runtime.roles import Role
from tests.integration.capacity.test_pools import EEMLAND, GV, Regions, _ready, _region
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import TopicReader, produce
from tests.support.polling import eventually
from tests.support.server import serving

AGB_GV, AGB_EM = "24000001", "34000001"


@pytest.fixture
async def regions(infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool, keys) -> AsyncIterator[Regions]:  # type: ignore[no-untyped-def]
    await keys(Role.ADMIN, "beheer")
    async with (
        serving(build(_region(infra, isolation, GV, "gv"))) as gv,
        serving(build(_region(infra, isolation, EEMLAND, "em"))) as eemland,
    ):
        async with httpx.AsyncClient(timeout=30) as http:
            await eventually(lambda: _ready(http, gv), timeout=60, what="gooi-en-vechtstreek connected to Kafka")
            await eventually(lambda: _ready(http, eemland), timeout=60, what="eemland connected to Kafka")
        yield Regions(gv, eemland)


async def _places(http: httpx.AsyncClient, url: str, keys, agb: str, total: int, occupied: int) -> None:  # type: ignore[no-untyped-def]
    admitted = await http.put(
        f"{url}/v1/providers/{agb}", headers=await keys(Role.ADMIN, "beheer"), json={"settings": ["jeugdzorgplus"]}
    )
    assert admitted.status_code == 200, admitted.text
    reported = await http.put(
        f"{url}/v1/capacity/{agb}/jeugdzorgplus",
        headers=await keys(Role.PROVIDER, agb),
        json={"total": total, "occupied": occupied},
    )
    assert reported.status_code == 200, reported.text


async def _refer(infra: Infrastructure, isolation: Isolation, tag: str) -> ReferralReceived:
    """A JeugdzorgPlus referral, as the region's intake announces it on its own topic."""
    referral = ReferralReceived(
        referral_id=uuid.uuid4(),
        client_ref=uuid.uuid4().hex * 2,
        age=15,
        municipality_code="0402",
        referrer_type=Verwijzer.RECHTER_OFFICIER,
        referrer_agb=None,
        product_category=Productcategorie.VERBLIJF_INCL_BEHANDELING,
        settings=["jeugdzorgplus"],
        urgency=Urgentie.SPOED,
        ambulant_tried=True,
        needs_gemeente_decision=False,
        received_at=datetime.now(UTC),
    )
    topic = f"{isolation.namespace}-{tag}.{topics.INTAKE_EVENTS}"
    await produce(infra.kafka, topic, Envelope.wrap(referral, source="intake").to_bytes(), key=b"r")
    return referral


async def _placement(http: httpx.AsyncClient, url: str, sf: dict[str, str], referral: ReferralReceived) -> dict | None:
    response = await http.get(f"{url}/v1/placements", headers=sf, params={"status": ["open", "proposed", "confirmed"]})
    return next((p for p in response.json() if p["referral_id"] == str(referral.referral_id)), None)


async def _alerts(http: httpx.AsyncClient, url: str, headers: dict[str, str], kind: str) -> list[dict[str, Any]]:
    response = await http.get(f"{url}/v1/alerts", headers=headers, params={"type": kind})
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_youth_without_a_place_at_home_is_placed_with_the_other_regions_provider(
    regions: Regions,
    keys,  # type: ignore[no-untyped-def]
    http: httpx.AsyncClient,
    infra: Infrastructure,
    isolation: Isolation,
) -> None:
    sf_gv = await keys(Role.SCHAKELFUNCTIONARIS, "sf.gooi")
    em_provider = await keys(Role.PROVIDER, AGB_EM)
    await _places(http, regions.gv, keys, AGB_GV, total=1, occupied=1)
    await _places(http, regions.eemland, keys, AGB_EM, total=2, occupied=1)

    async def room_in_eemland() -> bool:
        pools = (await http.get(f"{regions.gv}/v1/pools", headers=sf_gv)).json()
        return pools["pools"][0]["figures"][0]["room_elsewhere"] == [EEMLAND]

    await eventually(room_in_eemland, timeout=30, what="gooi-en-vechtstreek to hear of eemland's free place")
    referral = await _refer(infra, isolation, "gv")
    # A second youth right behind: Eemland's one place is not asked twice, whatever Eemland told meanwhile.
    second = await _refer(infra, isolation, "gv")

    async def asked() -> list[dict[str, Any]] | None:
        response = await http.get(f"{regions.eemland}/v1/pool-requests", headers=em_provider)
        assert response.status_code == 200, response.text
        return response.json() or None

    [request] = await eventually(asked, timeout=30, what="eemland's provider to see the request")
    waits = await eventually(lambda: _placement(http, regions.gv, sf_gv, second), timeout=30, what="the second youth")
    assert waits["status"] == "open" and waits["proposals"] == []
    assert (request["from_region"], request["agb"], request["age"], request["urgency"]) == (GV, AGB_EM, 15, "spoed")
    proposed = await _placement(http, regions.gv, sf_gv, referral)
    assert proposed is not None and proposed["status"] == "proposed"
    assert [(p["agb"], p["region"]) for p in proposed["proposals"]] == [(AGB_EM, EEMLAND)]
    # Eemland holds the place: its own figures count it as reserved.
    [figures] = (await http.get(f"{regions.eemland}/v1/capacity", headers=em_provider)).json()
    assert (figures["free"], figures["reserved"]) == (0, 1)
    # A provider of Gooi en Vechtstreek cannot answer for Eemland's provider in Eemland.
    refused = await http.post(
        f"{regions.eemland}/v1/pool-requests/{request['id']}/accept", headers=await keys(Role.PROVIDER, AGB_GV)
    )
    assert refused.status_code == 409, refused.text

    accepted = await http.post(f"{regions.eemland}/v1/pool-requests/{request['id']}/accept", headers=em_provider)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["outcome"] == "accepted"

    async def confirmed() -> dict | None:
        found = await _placement(http, regions.gv, sf_gv, referral)
        return found if found and found["status"] == "confirmed" else None

    placed = await eventually(confirmed, timeout=30, what="gooi-en-vechtstreek to confirm the placement")
    assert placed["confirmed_agb"] == AGB_EM

    # Both regions are full now: Gooi en Vechtstreek's pool cannot help, which is its own alert.
    wide = await eventually(
        lambda: _alerts(http, regions.gv, sf_gv, PoolWideShortageDetected.event_type),
        timeout=30,
        what="the pool-wide shortage",
    )
    assert sorted(wide[0]["event"]["data"]["members_short"]) == [EEMLAND, GV]

    async with TopicReader(infra.kafka, f"{isolation.namespace}-gv.{topics.CAPACITY_EVENTS}") as reader:
        records = await reader.until(
            lambda rs: any(b"PlacementConfirmed" in r.value for r in rs), what="PlacementConfirmed in gv"
        )
    [confirmation] = [Envelope.from_bytes(r.value) for r in records if b"PlacementConfirmed" in r.value]
    assert confirmation.data["provider_region"] == EEMLAND
    assert confirmation.data["client_ref"] == referral.client_ref  # on the region's own topic only
    async with TopicReader(infra.kafka, isolation.topic(topics.pool_capacity("midden-nederland"))) as reader:
        told = await reader.until(lambda rs: any(b"PoolPlacementAnswered" in r.value for r in rs), what="answer")
    for record in told:
        assert referral.client_ref.encode() not in record.value
        assert str(referral.referral_id).encode() not in record.value


async def test_an_escalation_in_one_region_reaches_the_other_regions_expertisenetwerk_only(
    regions: Regions,
    keys,  # type: ignore[no-untyped-def]
    http: httpx.AsyncClient,
    infra: Infrastructure,
    isolation: Isolation,
) -> None:
    sf_em = await keys(Role.SCHAKELFUNCTIONARIS, "sf.eemland")
    network = await keys(Role.EXPERTISENETWERK, "midden-nederland")
    await _places(http, regions.eemland, keys, AGB_EM, total=1, occupied=1)
    referral = await _refer(infra, isolation, "em")
    waiting = await eventually(
        lambda: _placement(http, regions.eemland, sf_em, referral), timeout=30, what="the youth waiting in eemland"
    )
    escalated = await http.post(f"{regions.eemland}/v1/placements/{waiting['id']}/escalate", headers=sf_em)
    assert escalated.status_code == 200, escalated.text

    heard = await eventually(
        lambda: _alerts(http, regions.gv, network, NetworkCaseEscalated.event_type),
        timeout=30,
        what="gooi-en-vechtstreek's expertisenetwerk to hear eemland's escalation",
    )
    data = heard[0]["event"]["data"]
    assert (data["region"], data["level"], data["settings"], data["age"]) == (
        EEMLAND,
        "schakelfunctionaris",
        ["jeugdzorgplus"],
        15,
    )
    assert "client_ref" not in data and "municipality_code" not in data
    # Gooi en Vechtstreek's schakelfunctionaris has no part in it; the network no part in regional alerts.
    sf_gv = await keys(Role.SCHAKELFUNCTIONARIS, "sf.gooi")
    assert await _alerts(http, regions.gv, sf_gv, NetworkCaseEscalated.event_type) == []
    assert await _alerts(http, regions.eemland, network, "nl.schakel.capacity.CaseEscalated") == []

    # In a region it holds a key of, the network may take the case up itself, as the network.
    as_expertteam = await http.post(
        f"{regions.eemland}/v1/cases", headers=network, json={"placement_id": waiting["id"], "team": "expertteam"}
    )
    assert as_expertteam.status_code == 403, as_expertteam.text
    taken = await http.post(
        f"{regions.eemland}/v1/cases",
        headers=network,
        json={"placement_id": waiting["id"], "team": "expertisenetwerk"},
    )
    assert taken.status_code == 201, taken.text
    assert taken.json()["team"] == "expertisenetwerk"
