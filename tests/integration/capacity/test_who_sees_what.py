"""Who sees what, on the real broker and database: the live stream and the alert list hold the webhooks'
audience rule, notes reach only those they were written for, and a malformed Last-Event-ID is a 422."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from httpx_sse import aconnect_sse

from contracts import topics
from contracts.codes import Productcategorie, Urgentie, Verwijzer
from contracts.envelope import Envelope
from contracts.intake import ReferralReceived
from services.capacity.app import build
from services.capacity.settings import CapacitySettings
from services.runtime.roles import Role
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import produce
from tests.support.polling import eventually
from tests.support.server import serving

NEAR, FAR = "20000001", "20000002"
GP = "01234567"
SHORTAGE = "nl.schakel.capacity.ShortageDetected"
ESCALATED = "nl.schakel.capacity.CaseEscalated"


@dataclass
class Capacity:
    url: str
    http: httpx.AsyncClient
    infra: Infrastructure
    isolation: Isolation
    sf: dict[str, str]
    et: dict[str, str]
    operator: dict[str, str]

    async def referral(self) -> uuid.UUID:
        """A crisis referral from the GP: with no crisis place free it also raises a shortage."""
        referral = ReferralReceived(
            referral_id=uuid.uuid4(),
            client_ref=uuid.uuid4().hex * 2,
            age=15,
            municipality_code="0402",
            referrer_type=Verwijzer.HUISARTS,
            referrer_agb=GP,
            product_category=Productcategorie.CRISIS,
            settings=["crisisplek"],
            urgency=Urgentie.CRISIS,
            ambulant_tried=True,
            needs_gemeente_decision=True,
            received_at=datetime.now(UTC),
        )
        envelope = Envelope.wrap(referral, source="intake")
        await produce(
            self.infra.kafka,
            self.isolation.topic(topics.INTAKE_EVENTS),
            envelope.to_bytes(),
            key=str(referral.referral_id).encode(),
        )
        return referral.referral_id

    async def placement(self, referral_id: uuid.UUID, status: str) -> dict:
        async def found() -> dict | None:
            response = await self.http.get(
                f"{self.url}/v1/placements", headers=self.sf, params={"status": ["open", "proposed"]}
            )
            return next(
                (p for p in response.json() if p["referral_id"] == str(referral_id) and p["status"] == status), None
            )

        return await eventually(found, what=f"placement of {referral_id} ({status})")

    async def escalate(self, placement_id: str, headers: dict[str, str], note: str | None = None) -> dict:
        response = await self.http.post(
            f"{self.url}/v1/placements/{placement_id}/escalate", headers=headers, json={"note": note}
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def alert_list(self, headers: dict[str, str]) -> list[tuple[str, str | None]]:
        alerts = (await self.http.get(f"{self.url}/v1/alerts", headers=headers)).json()
        return [(a["type"], a["event"]["data"].get("level")) for a in reversed(alerts)]


@pytest.fixture
async def capacity(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool, keys, http
) -> AsyncIterator[Capacity]:  # type: ignore[no-untyped-def]
    settings = isolation.settings(
        CapacitySettings, infra, test_clock=True, timer_interval_seconds=3600, reservation_minutes=60
    )
    async with serving(build(settings)) as url:
        admin = await keys(Role.ADMIN, "beheer")
        for agb in (NEAR, FAR):
            response = await http.put(f"{url}/v1/providers/{agb}", headers=admin, json={"settings": ["crisisplek"]})
            assert response.status_code == 200, response.text
        yield Capacity(
            url,
            http,
            infra,
            isolation,
            await keys(Role.SCHAKELFUNCTIONARIS, "sf"),
            await keys(Role.EXPERTTEAM, "et"),
            await keys(Role.OPERATOR, "op"),
        )


async def escalated_to_the_expertteam(c: Capacity) -> str:
    """A shortage, an escalation to the schakelfunctionaris and one on to the expert team, in that order."""
    referral = await c.referral()
    placement = await c.placement(referral, "open")
    await eventually(lambda: _has(c, SHORTAGE), what="the shortage alert")
    await c.escalate(placement["id"], c.sf)
    await c.escalate(placement["id"], c.sf, note="doorbraaktafel nodig")
    return str(placement["id"])


async def _has(c: Capacity, alert_type: str) -> bool:
    return alert_type in [t for t, _ in await c.alert_list(c.sf)]


async def _streams_open(c: Capacity, count: int) -> bool:
    return f"schakel_alert_streams_open {count}.0" in (await c.http.get(f"{c.url}/metrics")).text


async def test_the_expertteams_stream_skips_alerts_outside_its_audience(capacity: Capacity) -> None:
    c = capacity
    received: dict[str, list[tuple[str, str | None]]] = {"et": [], "sf": []}

    async def listen(who: str, headers: dict[str, str]) -> None:
        async with aconnect_sse(c.http, "GET", f"{c.url}/v1/alerts/stream", headers=headers) as source:
            async for sse in source.aiter_sse():
                envelope = json.loads(sse.data)
                received[who].append((envelope["type"], envelope["data"].get("level")))
                if envelope["data"].get("level") == "expertteam":
                    return

    listeners = [asyncio.create_task(listen("et", c.et)), asyncio.create_task(listen("sf", c.sf))]
    await eventually(lambda: _streams_open(c, 2), what="both streams to be open")
    await escalated_to_the_expertteam(c)
    await asyncio.wait_for(asyncio.gather(*listeners), 20)

    # Raised before it, the shortage and the first escalation never reached the expert team's stream.
    assert received["et"] == [(ESCALATED, "expertteam")]
    assert received["sf"] == [(SHORTAGE, None), (ESCALATED, "schakelfunctionaris"), (ESCALATED, "expertteam")]


async def test_the_alert_list_holds_the_same_audience_rule(capacity: Capacity, keys) -> None:  # type: ignore[no-untyped-def]
    c = capacity
    await escalated_to_the_expertteam(c)
    everything = [(SHORTAGE, None), (ESCALATED, "schakelfunctionaris"), (ESCALATED, "expertteam")]
    assert await c.alert_list(c.sf) == everything
    assert await c.alert_list(c.operator) == everything
    assert await c.alert_list(c.et) == [(ESCALATED, "expertteam")]
    only_shortages = (await c.http.get(f"{c.url}/v1/alerts", headers=c.et, params={"type": SHORTAGE})).json()
    assert only_shortages == []
    for outsider in (await keys(Role.PROVIDER, NEAR), await keys(Role.REFERRER, f"02:{GP}")):
        assert (await c.http.get(f"{c.url}/v1/alerts", headers=outsider)).status_code == 403

    # Nor may the expert team acknowledge what it is not shown; its own escalation it may.
    ids = {
        (a["type"], a["event"]["data"].get("level")): a["id"]
        for a in (await c.http.get(f"{c.url}/v1/alerts", headers=c.sf)).json()
    }
    acknowledge = f"{c.url}/v1/alerts/{{}}/acknowledge"
    not_theirs = await c.http.post(acknowledge.format(ids[SHORTAGE, None]), headers=c.et)
    assert not_theirs.status_code == 404
    theirs = await c.http.post(acknowledge.format(ids[ESCALATED, "expertteam"]), headers=c.et)
    assert theirs.json() == {"acknowledged": True}
    assert (await c.http.post(acknowledge.format(ids[SHORTAGE, None]), headers=c.sf)).json() == {"acknowledged": True}


async def test_notes_reach_only_those_they_were_written_for(capacity: Capacity, keys) -> None:  # type: ignore[no-untyped-def]
    c = capacity
    near, far = await keys(Role.PROVIDER, NEAR), await keys(Role.PROVIDER, FAR)
    for headers, agb in ((near, NEAR), (far, FAR)):
        response = await c.http.put(
            f"{c.url}/v1/capacity/{agb}/crisisplek", headers=headers, json={"total": 1, "occupied": 0}
        )
        assert response.status_code == 200, response.text
    referral = await c.referral()
    proposed = await c.placement(referral, "proposed")
    first, second = (NEAR, near), (FAR, far)
    if proposed["proposals"][0]["agb"] == FAR:
        first, second = second, first
    declined = await c.http.post(
        f"{c.url}/v1/placements/{proposed['id']}/decline",
        headers=first[1],
        json={"reason": "zorgzwaarte", "note": "te zware zorg voor onze groep"},
    )
    assert declined.status_code == 200, declined.text

    # The referrer escalates: it sees how the case runs, not the provider's own words.
    escalated = await c.escalate(proposed["id"], await keys(Role.REFERRER, f"02:{GP}"), note="thuis onhoudbaar")
    assert [(p["agb"], p["reason"], p["note"]) for p in escalated["proposals"]] == [
        (first[0], "zorgzwaarte", None),
        (second[0], None, None),
    ]
    assert escalated["escalation_level"] == "schakelfunctionaris" and escalated["escalation_note"] is None

    # The provider now proposed sees its own proposal, not the other's answer nor the escalation note.
    [seen] = (await c.http.get(f"{c.url}/v1/placements", headers=second[1])).json()
    assert [p["agb"] for p in seen["proposals"]] == [second[0]]
    assert (seen["escalation_level"], seen["escalation_note"]) == (None, None)
    assert "thuis onhoudbaar" not in json.dumps(seen) and "te zware zorg" not in json.dumps(seen)

    # The provider that declined keeps its own note; the schakelfunctie sees both notes.
    [own] = (await c.http.get(f"{c.url}/v1/placements", headers=first[1])).json()
    assert [p["note"] for p in own["proposals"]] == ["te zware zorg voor onze groep"]
    full = await c.placement(referral, "proposed")
    assert full["escalation_note"] == "thuis onhoudbaar"
    assert [p["note"] for p in full["proposals"]] == ["te zware zorg voor onze groep", None]
    operator_view = (await c.http.get(f"{c.url}/v1/placements", headers=c.operator)).json()
    assert "thuis onhoudbaar" not in json.dumps(operator_view) and "te zware zorg" not in json.dumps(operator_view)

    # Escalated on to the expert team without words, the case keeps the referrer's note for them.
    await c.escalate(proposed["id"], c.sf)
    [for_et] = [
        p for p in (await c.http.get(f"{c.url}/v1/placements", headers=c.et)).json() if p["id"] == proposed["id"]
    ]
    assert (for_et["escalation_level"], for_et["escalation_note"]) == ("expertteam", "thuis onhoudbaar")


@pytest.mark.parametrize("event_id", ["²".encode("latin-1"), b"\xd9\xa3", b"-1", b"1e3", b"12a", b"9" * 19])
async def test_a_malformed_last_event_id_is_a_422_never_a_500(capacity: Capacity, event_id: bytes) -> None:
    c = capacity
    response = await c.http.get(f"{c.url}/v1/alerts/stream", headers={**c.sf, "Last-Event-ID": event_id})
    assert response.status_code == 422, response.text
    assert "Last-Event-ID" in response.text


async def test_an_unbounded_since_is_a_422(capacity: Capacity) -> None:
    response = await capacity.http.get(
        f"{capacity.url}/v1/alerts/stream", headers=capacity.sf, params={"since": str(10**30)}
    )
    assert response.status_code == 422, response.text
