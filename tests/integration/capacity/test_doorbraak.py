"""The doorbraak on the real broker and database: the expert team takes up an escalated youth, meets
and decides; a maatwerk contract from contracting carries the decision out and its provider is
proposed for this youth alone; care starting closes the case. A decision past its due date raises
DecisionOverdue once; a withdrawn decision closes the case."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import pytest

from contracts import topics
from contracts.codes import Productcategorie, Urgentie, Verwijzer
from contracts.contracting import ContractConcluded, ContractKind
from contracts.envelope import Envelope, EventData
from contracts.intake import CareStarted, ReferralReceived
from services.capacity.app import build
from services.capacity.settings import CapacitySettings
from services.runtime.clock import Clock
from services.runtime.roles import Role
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import TopicReader, produce
from tests.support.polling import eventually
from tests.support.server import serving

HILVERSUM = "0402"
NEAR, MAATWERK_AGB = "20000001", "40000001"
NOTES = "vertrouwelijk: moeder belt niet terug"


@dataclass
class Capacity:
    url: str
    clock: Clock
    http: httpx.AsyncClient
    infra: Infrastructure
    isolation: Isolation
    admin: dict[str, str]
    sf: dict[str, str]
    et: dict[str, str]
    operator: dict[str, str]

    async def publish(self, topic: str, event: EventData, key: str) -> None:
        envelope = Envelope.wrap(event, source="test")
        await produce(self.infra.kafka, self.isolation.topic(topic), envelope.to_bytes(), key=key.encode())

    async def referral(self) -> ReferralReceived:
        referral = ReferralReceived(
            referral_id=uuid.uuid4(),
            client_ref=uuid.uuid4().hex * 2,
            age=15,
            municipality_code=HILVERSUM,
            referrer_type=Verwijzer.HUISARTS,
            referrer_agb="01234567",
            product_category=Productcategorie.CRISIS,
            settings=["crisisplek"],
            urgency=Urgentie.CRISIS,
            ambulant_tried=True,
            needs_gemeente_decision=True,
            received_at=datetime.now(UTC),
        )
        await self.publish(topics.INTAKE_EVENTS, referral, str(referral.referral_id))
        return referral

    async def placement(self, referral_id: uuid.UUID, status: str, headers: dict[str, str] | None = None) -> dict:
        async def found() -> dict | None:
            response = await self.http.get(
                f"{self.url}/v1/placements",
                headers=headers or self.sf,
                params={"status": ["open", "proposed", "confirmed", "withdrawn", "elsewhere"]},
            )
            return next(
                (p for p in response.json() if p["referral_id"] == str(referral_id) and p["status"] == status), None
            )

        return await eventually(found, what=f"placement of {referral_id} {status}")

    async def escalated_youth(self) -> tuple[ReferralReceived, dict]:
        referral = await self.referral()
        placement = await self.placement(referral.referral_id, "open")
        response = await self.http.post(f"{self.url}/v1/placements/{placement['id']}/escalate", headers=self.sf)
        assert response.status_code == 200, response.text
        return referral, placement

    async def take_up(self, placement_id: str) -> httpx.Response:
        return await self.http.post(
            f"{self.url}/v1/cases", headers=self.et, json={"placement_id": placement_id, "team": "expertteam"}
        )

    async def case(self, case_id: str, headers: dict[str, str] | None = None) -> dict:
        response = await self.http.get(f"{self.url}/v1/cases/{case_id}", headers=headers or self.et)
        assert response.status_code == 200, response.text
        return response.json()

    async def decide(self, case_id: str, **body: object) -> httpx.Response:
        decision = {"kind": "maatwerk", "executor": "gemeente", "working_days": 5, **body}
        return await self.http.post(f"{self.url}/v1/cases/{case_id}/decisions", headers=self.et, json=decision)

    async def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        await self.http.post(f"{self.url}/v1/admin/clock", headers=self.admin, json={"seconds": 0.001})


@pytest.fixture
async def capacity(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool, keys, http
) -> AsyncIterator[Capacity]:  # type: ignore[no-untyped-def]
    clock = Clock()
    settings = isolation.settings(
        CapacitySettings, infra, test_clock=True, timer_interval_seconds=3600, reservation_minutes=600
    )
    async with serving(build(settings, clock)) as url:
        admin = await keys(Role.ADMIN, "beheer")
        response = await http.put(
            f"{url}/v1/providers/{NEAR}",
            headers=admin,
            json={"settings": ["crisisplek"], "municipality_code": HILVERSUM},
        )
        assert response.status_code == 200, response.text
        response = await http.put(
            f"{url}/v1/capacity/{NEAR}/crisisplek",
            headers=await keys(Role.PROVIDER, NEAR),
            json={"total": 1, "occupied": 1},
        )
        assert response.status_code == 200, response.text
        yield Capacity(
            url,
            clock,
            http,
            infra,
            isolation,
            admin,
            await keys(Role.SCHAKELFUNCTIONARIS, "sf"),
            await keys(Role.EXPERTTEAM, "et"),
            await keys(Role.OPERATOR, "op"),
        )


async def test_a_maatwerk_decision_leads_to_a_proposal_and_care_starting_closes_the_case(
    capacity: Capacity,
    keys,  # type: ignore[no-untyped-def]
) -> None:
    c = capacity
    referral, placement = await c.escalated_youth()

    # A youth not escalated has no case; the escalated one is taken up once.
    other = await c.placement((await c.referral()).referral_id, "open")
    assert (await c.take_up(other["id"])).status_code == 409
    taken = await c.take_up(placement["id"])
    assert taken.status_code == 201, taken.text
    case = taken.json()
    assert (case["placement_id"], case["referral_id"], case["status"]) == (
        placement["id"],
        str(referral.referral_id),
        "open",
    )
    again = await c.take_up(placement["id"])
    assert (again.status_code, again.json()["case_id"]) == (200, case["case_id"])

    meeting = {"held_on": date.today().isoformat(), "parties": ["gemeente", "aanbieder"], "notes": NOTES}
    url = f"{c.url}/v1/cases/{case['case_id']}/meetings"
    assert (await c.http.post(url, headers=c.et, json=meeting)).status_code == 201
    assert (await c.http.post(url, headers=c.et, json=meeting)).status_code == 200
    assert (await c.http.post(url, headers=c.sf, json=meeting)).status_code == 403

    made = await c.decide(case["case_id"], provider_agb=MAATWERK_AGB, settings=["crisisplek"], notes=NOTES)
    assert made.status_code == 201, made.text
    decision = made.json()
    assert decision["status"] == "open" and date.fromisoformat(decision["due_date"]) > date.today()
    retried = await c.decide(case["case_id"], provider_agb=MAATWERK_AGB, settings=["crisisplek"], notes=NOTES)
    assert (retried.status_code, retried.json()["decision_id"]) == (200, decision["decision_id"])
    assert (await c.decide(case["case_id"], kind="pgb")).status_code == 409

    listed = (await c.http.get(f"{c.url}/v1/cases", headers=c.sf, params={"status": "open"})).json()
    assert [x["case_id"] for x in listed] == [case["case_id"]]
    assert listed[0]["open_decision"]["decision_id"] == decision["decision_id"]

    file = await c.case(case["case_id"])
    assert file["client_ref"] == referral.client_ref and file["urgency"] == "crisis"
    assert [e["level"] for e in file["escalations"]] == ["schakelfunctionaris"]
    assert file["meetings"][0]["notes"] == NOTES and file["decisions"][0]["notes"] == NOTES
    seen_by_operator = await c.case(case["case_id"], c.operator)
    assert seen_by_operator["meetings"][0]["notes"] is None and seen_by_operator["decisions"][0]["notes"] is None

    # Contracting concludes the maatwerk contract that carries the decision out.
    contract_id = uuid.uuid4()
    concluded = ContractConcluded(
        contract_id=contract_id,
        kind=ContractKind.MAATWERK,
        provider_agb=MAATWERK_AGB,
        lot="CRISIS",
        settings=["crisisplek"],
        client_ref=referral.client_ref,
        decision_id=uuid.UUID(decision["decision_id"]),
        valid_from=date.today(),
        valid_to=date.today() + timedelta(days=365),
        concluded_at=datetime.now(UTC),
    )
    await c.publish(topics.CONTRACTING_EVENTS, concluded, MAATWERK_AGB)
    maatwerk = await keys(Role.PROVIDER, MAATWERK_AGB)
    proposed = await c.placement(referral.referral_id, "proposed", maatwerk)
    assert [p["agb"] for p in proposed["proposals"]] == [MAATWERK_AGB]
    accepted = await c.http.post(f"{c.url}/v1/placements/{placement['id']}/accept", headers=maatwerk)
    assert accepted.status_code == 200, accepted.text
    assert (await c.case(case["case_id"]))["decisions"][0]["contract_id"] == str(contract_id)

    started = CareStarted(
        allocation_id=uuid.uuid4(),
        referral_id=referral.referral_id,
        client_ref=referral.client_ref,
        municipality_code=HILVERSUM,
        provider_agb=MAATWERK_AGB,
        product_category=Productcategorie.CRISIS,
        start_date=date.today(),
        reported_at=datetime.now(UTC),
    )
    await c.publish(topics.INTAKE_EVENTS, started, str(referral.referral_id))

    async def closed() -> dict | None:
        file = await c.case(case["case_id"])
        return file if file["status"] == "closed" else None

    file = await eventually(closed, what="the case closed")
    assert file["closed_reason"] == "zorg_gestart"
    assert file["decisions"][0]["status"] == "carried_out"

    async with TopicReader(c.infra.kafka, c.isolation.topic(topics.CAPACITY_EVENTS)) as reader:
        records = await reader.until(lambda rs: any(b"CaseClosed" in r.value for r in rs), what="CaseClosed")
    kinds = [json.loads(r.value)["type"].rsplit(".", 1)[1] for r in records]
    doorbraak = [
        k for k in kinds if k in {"CaseTakenUp", "MeetingHeld", "DecisionMade", "DecisionCarriedOut", "CaseClosed"}
    ]
    assert doorbraak == ["CaseTakenUp", "MeetingHeld", "DecisionMade", "DecisionCarriedOut", "CaseClosed"]
    assert {r.key for r in records if b"CaseTakenUp" in r.value} == {str(referral.referral_id).encode()}
    assert not [r for r in records if NOTES.encode() in r.value]


async def test_a_decision_past_its_due_date_is_overdue_once_and_withdrawing_it_closes_the_case(
    capacity: Capacity,
) -> None:
    c = capacity
    _, placement = await c.escalated_youth()
    case = (await c.take_up(placement["id"])).json()
    decision = (await c.decide(case["case_id"], kind="pgb", executor="gemeente", working_days=1)).json()

    await c.advance(timedelta(days=6))

    async def overdue_alerts() -> list[dict] | None:
        response = await c.http.get(
            f"{c.url}/v1/alerts", headers=c.et, params={"type": "nl.schakel.capacity.DecisionOverdue"}
        )
        return response.json() or None

    [alert] = await eventually(overdue_alerts, what="DecisionOverdue")
    assert alert["event"]["data"]["decision_id"] == decision["decision_id"]
    listed = (await c.http.get(f"{c.url}/v1/cases", headers=c.et, params={"status": "open"})).json()
    assert listed[0]["open_decision"]["overdue"] is True
    await c.advance(timedelta(days=1))
    assert len(await overdue_alerts() or []) == 1
    # The operator watches the region, not the case: the alert is not in its list.
    operator_list = await c.http.get(
        f"{c.url}/v1/alerts", headers=c.operator, params={"type": "nl.schakel.capacity.DecisionOverdue"}
    )
    assert operator_list.json() == []

    url = f"{c.url}/v1/cases/{case['case_id']}/decisions/{decision['decision_id']}/withdrawal"
    withdrawn = await c.http.post(url, headers=c.et, json={"reason": "niet_uitvoerbaar", "notes": NOTES})
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["withdrawal_reason"] == "niet_uitvoerbaar"
    assert (await c.http.post(url, headers=c.et, json={"reason": "niet_uitvoerbaar"})).status_code == 200
    assert (await c.http.post(url, headers=c.et, json={"reason": "overig"})).status_code == 409
    file = await c.case(case["case_id"])
    assert (file["status"], file["closed_reason"]) == ("closed", "besluit_ingetrokken")
    # Closed, so it can be taken up anew.
    assert (await c.take_up(placement["id"])).status_code == 201
