"""The issue's scenario with capacity as a real process: two crisis places, three crisis
referrals. Two youths are placed, the shortage reaches the alert stream, the third youth is
escalated to the schakelfunctionaris and then the expert team as its timers run out (the
service's clock is moved, nobody sleeps), and the shortage ends when places free up."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import httpx
from httpx_sse import aconnect_sse

from contracts import topics
from contracts.codes import Productcategorie, Urgentie, Verwijzer
from contracts.envelope import Envelope
from contracts.intake import ReferralReceived
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import produce
from tests.support.polling import eventually
from tests.support.processes import bearer, service_process
from tests.support.server import free_port

PROVIDER = "30000001"


async def _refer(infra: Infrastructure, isolation: Isolation) -> str:
    referral = ReferralReceived(
        referral_id=uuid.uuid4(),
        client_ref=uuid.uuid4().hex * 2,
        age=16,
        municipality_code="0402",
        referrer_type=Verwijzer.GECERTIFICEERDE_INSTELLING,
        referrer_agb="04000001",
        product_category=Productcategorie.CRISIS,
        settings=["crisisplek"],
        urgency=Urgentie.CRISIS,
        ambulant_tried=False,
        needs_gemeente_decision=False,
        received_at=datetime.now(UTC),
    )
    envelope = Envelope.wrap(referral, source="intake")
    await produce(
        infra.kafka, isolation.topic(topics.INTAKE_EVENTS), envelope.to_bytes(), key=envelope.subject.encode()
    )
    return str(referral.referral_id)


async def test_two_places_three_crisis_referrals_shortage_escalation_and_recovery(
    infra: Infrastructure,
    isolation: Isolation,
) -> None:
    env = {**isolation.env(infra), "SCHAKEL_TEST_CLOCK": "true", "SCHAKEL_RESERVATION_MINUTES": "600"}
    admin, provider = bearer("admin", "beheer", env), bearer("provider", PROVIDER, env)
    sf = bearer("schakelfunctionaris", "sf.gooi", env)

    with service_process("capacity", free_port(), env, "e2e-schakelfunctie-capacity") as capacity:
        async with httpx.AsyncClient(base_url=capacity, timeout=30) as http:
            (
                await http.put(
                    f"/v1/providers/{PROVIDER}",
                    headers=admin,
                    json={"settings": ["crisisplek"], "municipality_code": "0402"},
                )
            ).raise_for_status()
            (
                await http.put(
                    f"/v1/capacity/{PROVIDER}/crisisplek", headers=provider, json={"total": 2, "occupied": 0}
                )
            ).raise_for_status()

            alerts: list[dict] = []

            async def listen() -> None:
                async with aconnect_sse(
                    http, "GET", "/v1/alerts/stream", headers=sf, params={"since": 0}, timeout=None
                ) as source:
                    async for sse in source.aiter_sse():
                        alerts.append(json.loads(sse.data))

            listener = asyncio.create_task(listen())
            try:
                referrals = [await _refer(infra, isolation) for _ in range(3)]

                async def placement(referral: str, status: str) -> dict | None:
                    response = await http.get(
                        "/v1/placements", headers=sf, params={"status": ["open", "proposed", "confirmed"]}
                    )
                    return next(
                        (p for p in response.json() if p["referral_id"] == referral and p["status"] == status), None
                    )

                first = await eventually(lambda: placement(referrals[0], "proposed"), what="first proposal")
                second = await eventually(lambda: placement(referrals[1], "proposed"), what="second proposal")
                third = await eventually(lambda: placement(referrals[2], "open"), what="third youth waiting")
                for p in (first, second):
                    (await http.post(f"/v1/placements/{p['id']}/accept", headers=provider)).raise_for_status()

                await eventually(lambda: _has(alerts, "ShortageDetected"), what="the shortage on the stream")
                detected = _of(alerts, "ShortageDetected")[0]["data"]
                assert (detected["setting"], detected["free_places"]) == ("crisisplek", 0)

                (await http.post("/v1/admin/clock", headers=admin, json={"seconds": 4 * 3600 + 60})).raise_for_status()
                await eventually(lambda: _has(alerts, "CaseEscalated"), what="escalation to the schakelfunctionaris")
                (await http.post("/v1/admin/clock", headers=admin, json={"seconds": 24 * 3600})).raise_for_status()
                await eventually(lambda: _has(alerts, "CaseEscalated", 2), what="escalation to the expert team")
                escalations = [a["data"] for a in _of(alerts, "CaseEscalated")]
                assert [e["level"] for e in escalations] == ["schakelfunctionaris", "expertteam"]
                assert {e["referral_id"] for e in escalations} == {referrals[2]}

                # One youth goes home: the freed place goes to the third youth at once.
                (
                    await http.put(
                        f"/v1/capacity/{PROVIDER}/crisisplek", headers=provider, json={"total": 2, "occupied": 1}
                    )
                ).raise_for_status()
                third = await eventually(lambda: placement(referrals[2], "proposed"), what="third youth proposed")
                (await http.post(f"/v1/placements/{third['id']}/accept", headers=provider)).raise_for_status()
                # Another goes home: a free place and nobody waiting ends the shortage.
                (
                    await http.put(
                        f"/v1/capacity/{PROVIDER}/crisisplek", headers=provider, json={"total": 2, "occupied": 1}
                    )
                ).raise_for_status()
                await eventually(lambda: _has(alerts, "ShortageResolved"), what="the shortage resolved")
            finally:
                listener.cancel()

    kinds = [a["type"].rsplit(".", 1)[1] for a in alerts]
    # Moving the clock 28 hours also let the provider's report go stale, as it would in real life.
    assert [k for k in kinds if k != "CapacityReportStale"] == [
        "ShortageDetected",
        "ShortageChanged",
        "CaseEscalated",
        "CaseEscalated",
        "ShortageChanged",
        "ShortageResolved",
    ]
    # Critical while the third youth waited without a place; back to a plain shortage once proposed.
    assert [a["data"]["severity"] for a in _of(alerts, "ShortageChanged")] == ["kritiek", "tekort"]
    assert kinds.count("CapacityReportStale") == 1
    assert all("bsn" not in json.dumps(a).lower() for a in alerts)


def _of(alerts: list[dict], kind: str) -> list[dict]:
    return [a for a in alerts if a["type"].endswith("." + kind)]


async def _has(alerts: list[dict], kind: str, count: int = 1) -> bool:
    return len(_of(alerts, kind)) >= count
