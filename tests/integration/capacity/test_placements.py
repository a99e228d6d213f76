"""The schakelfunctie on the real broker and database: referrals become placement requests,
proposals go to the best provider, declines and lapsed reservations move on, timers escalate."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from contracts import topics
from contracts.codes import Productcategorie, Urgentie, Verwijzer
from contracts.contracting import ContractEnded, ProviderAdmitted
from contracts.envelope import Envelope
from contracts.intake import ReferralReceived, ReferralWithdrawn
from contracts.verblijf import Setting
from services.capacity.app import build
from services.capacity.settings import CapacitySettings
from services.runtime.clock import Clock
from services.runtime.roles import Role
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import TopicReader, produce
from tests.support.polling import eventually
from tests.support.server import serving

HILVERSUM, HUIZEN = "0402", "0406"
NEAR, FAR = "20000001", "20000002"
GP = "01234567"


@dataclass
class Capacity:
    url: str
    clock: Clock
    http: httpx.AsyncClient
    infra: Infrastructure
    isolation: Isolation
    admin: dict[str, str]
    sf: dict[str, str]

    async def referral(
        self,
        *settings: Setting,
        urgency: Urgentie = Urgentie.CRISIS,
        age: int = 15,
        category: Productcategorie = Productcategorie.CRISIS,
    ) -> uuid.UUID:
        referral = ReferralReceived(
            referral_id=uuid.uuid4(),
            client_ref=uuid.uuid4().hex * 2,
            age=age,
            municipality_code=HILVERSUM,
            referrer_type=Verwijzer.HUISARTS,
            referrer_agb=GP,
            product_category=category,
            settings=list(settings),
            urgency=urgency,
            ambulant_tried=True,
            needs_gemeente_decision=True,
            received_at=datetime.now(UTC),
        )
        await self.publish(referral, referral.referral_id)
        return referral.referral_id

    async def publish(self, event, referral_id: uuid.UUID) -> None:  # type: ignore[no-untyped-def]
        envelope = Envelope.wrap(event, source="intake")
        await produce(
            self.infra.kafka,
            self.isolation.topic(topics.INTAKE_EVENTS),
            envelope.to_bytes(),
            key=str(referral_id).encode(),
        )

    async def placement(self, referral_id: uuid.UUID, status: str | None = None) -> dict:
        async def found() -> dict | None:
            response = await self.http.get(
                f"{self.url}/v1/placements",
                headers=self.sf,
                params={"status": ["open", "proposed", "confirmed", "withdrawn"]},
            )
            for p in response.json():
                if p["referral_id"] == str(referral_id) and (status is None or p["status"] == status):
                    return p
            return None

        return await eventually(found, what=f"placement of {referral_id} ({status or 'any status'})")

    async def alerts(self, kind: str, count: int) -> list[dict]:
        """The payloads of the first ``count`` alerts of ``kind``, oldest first, once they exist."""

        async def enough() -> list[dict] | None:
            response = await self.http.get(
                f"{self.url}/v1/alerts", headers=self.sf, params={"type": f"nl.schakel.capacity.{kind}"}
            )
            found = [a["event"]["data"] for a in reversed(response.json())]
            return found[:count] if len(found) >= count else None

        return await eventually(enough, what=f"{count} {kind} alert(s)")

    async def advance(self, delta: timedelta) -> None:
        # Served in-process, so the test moves the very clock the service reads.
        self.clock.advance(delta)
        await self.http.post(f"{self.url}/v1/admin/clock", headers=self.admin, json={"seconds": 0.001})


@pytest.fixture
async def capacity(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool, keys, http
) -> AsyncIterator[Capacity]:  # type: ignore[no-untyped-def]
    clock = Clock()
    settings = isolation.settings(
        CapacitySettings, infra, test_clock=True, timer_interval_seconds=3600, reservation_minutes=60
    )
    async with serving(build(settings, clock)) as url:
        admin = await keys(Role.ADMIN, "beheer")
        for agb, municipality in ((NEAR, HILVERSUM), (FAR, HUIZEN)):
            response = await http.put(
                f"{url}/v1/providers/{agb}",
                headers=admin,
                json={"settings": ["crisisplek", "gezinshuis"], "municipality_code": municipality},
            )
            assert response.status_code == 200, response.text
        yield Capacity(url, clock, http, infra, isolation, admin, await keys(Role.SCHAKELFUNCTIONARIS, "sf"))


async def report(c: Capacity, keys, agb: str, setting: str, total: int, occupied: int) -> None:  # type: ignore[no-untyped-def]
    response = await c.http.put(
        f"{c.url}/v1/capacity/{agb}/{setting}",
        headers=await keys(Role.PROVIDER, agb),
        json={"total": total, "occupied": occupied},
    )
    assert response.status_code == 200, response.text


async def test_a_crisis_referral_is_proposed_to_the_nearest_free_place_and_accepted(capacity: Capacity, keys) -> None:  # type: ignore[no-untyped-def]
    c = capacity
    await report(c, keys, FAR, "crisisplek", 2, 0)
    await report(c, keys, NEAR, "crisisplek", 1, 0)
    referral = await c.referral(Setting.CRISISPLEK)
    placement = await c.placement(referral, "proposed")
    [proposal] = placement["proposals"]
    assert (proposal["agb"], proposal["setting"]) == (NEAR, "crisisplek")
    assert placement["age"] == 15 and placement["urgency"] == "crisis"

    # The reserved place is not free for anyone else.
    overview = (await c.http.get(f"{c.url}/v1/capacity", headers=c.sf)).json()
    crisis = next(s for s in overview if s["setting"] == "crisisplek")
    assert (crisis["free"], crisis["reserved"]) == (2, 1)

    other = await c.http.post(f"{c.url}/v1/placements/{placement['id']}/accept", headers=await keys(Role.PROVIDER, FAR))
    assert other.status_code == 409
    accepted = await c.http.post(
        f"{c.url}/v1/placements/{placement['id']}/accept", headers=await keys(Role.PROVIDER, NEAR)
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "confirmed" and accepted.json()["confirmed_agb"] == NEAR
    history = (await c.http.get(f"{c.url}/v1/capacity/{NEAR}/crisisplek/history", headers=c.sf)).json()
    assert [h["occupied"] for h in history] == [1, 0]

    async with TopicReader(c.infra.kafka, c.isolation.topic(topics.CAPACITY_EVENTS)) as reader:
        records = await reader.until(
            lambda rs: any(b"PlacementConfirmed" in r.value for r in rs), what="PlacementConfirmed"
        )
    types = [json.loads(r.value)["type"].rsplit(".", 1)[1] for r in records if r.key == str(referral).encode()]
    assert types == ["PlacementRequested", "PlacementProposed", "PlacementConfirmed"]


async def test_a_decline_asks_the_next_candidate_and_when_nobody_is_left_the_expert_team(
    capacity: Capacity, keys
) -> None:  # type: ignore[no-untyped-def]
    c = capacity
    await report(c, keys, NEAR, "crisisplek", 1, 0)
    await report(c, keys, FAR, "crisisplek", 1, 0)
    referral = await c.referral(Setting.CRISISPLEK)
    placement = await c.placement(referral, "proposed")
    declined = await c.http.post(
        f"{c.url}/v1/placements/{placement['id']}/decline",
        headers=await keys(Role.PROVIDER, NEAR),
        json={"reason": "groep_vol", "note": "groep is vol tot maart"},
    )
    assert declined.status_code == 200, declined.text
    # The provider that declined sees its own answer only; the schakelfunctie sees the next proposal.
    assert [p["agb"] for p in declined.json()["proposals"]] == [NEAR]
    assert [p["agb"] for p in (await c.placement(referral, "proposed"))["proposals"]] == [NEAR, FAR]
    seen_by_far = (await c.http.get(f"{c.url}/v1/placements", headers=await keys(Role.PROVIDER, FAR))).json()
    assert [[p["agb"] for p in v["proposals"]] for v in seen_by_far] == [[FAR]]
    seen_by_other = (await c.http.get(f"{c.url}/v1/placements", headers=await keys(Role.PROVIDER, "29999999"))).json()
    assert seen_by_other == []
    assert declined.json()["proposals"][0]["reason"] == "groep_vol"
    assert declined.json()["proposals"][0]["note"] == "groep is vol tot maart"

    # FAR never answers: when its reservation lapses nobody is left.
    await c.advance(timedelta(minutes=61))
    lapsed = await c.placement(referral, "open")
    assert [p["outcome"] for p in lapsed["proposals"]] == ["declined", "timeout"]
    assert lapsed["escalation_level"] == "expertteam"
    alerts = (
        await c.http.get(f"{c.url}/v1/alerts", headers=c.sf, params={"type": "nl.schakel.capacity.CaseEscalated"})
    ).json()
    assert [a["event"]["data"]["level"] for a in alerts] == ["expertteam"]


async def test_an_unplaced_crisis_escalates_on_its_timers_and_a_referrer_may_escalate_early(
    capacity: Capacity, keys
) -> None:  # type: ignore[no-untyped-def]
    c = capacity
    crisis = await c.referral(Setting.CRISISPLEK)
    regular = await c.referral(
        Setting.GEZINSHUIS, urgency=Urgentie.REGULIER, category=Productcategorie.VERBLIJF_EXCL_BEHANDELING
    )
    placement = await c.placement(crisis, "open")
    assert placement["escalation_level"] is None

    await c.advance(timedelta(hours=4, minutes=1))
    assert (await c.placement(crisis))["escalation_level"] == "schakelfunctionaris"
    await c.advance(timedelta(hours=24))
    assert (await c.placement(crisis))["escalation_level"] == "expertteam"
    # Ten working days have not passed for the regular case.
    regular_placement = await c.placement(regular)
    assert regular_placement["escalation_level"] is None

    someone_else = await keys(Role.REFERRER, f"02:{'7' * 8}")
    refused = await c.http.post(f"{c.url}/v1/placements/{regular_placement['id']}/escalate", headers=someone_else)
    assert refused.status_code == 403
    early = await c.http.post(
        f"{c.url}/v1/placements/{regular_placement['id']}/escalate",
        headers=await keys(Role.REFERRER, f"02:{GP}"),
        json={"note": "thuis onhoudbaar"},
    )
    assert early.status_code == 200, early.text
    assert early.json()["escalation_level"] == "schakelfunctionaris"
    # The note is for the schakelfunctionaris: the schakelfunctie sees it, the referrer's answer does not echo it.
    assert early.json()["escalation_note"] is None
    assert (await c.placement(regular))["escalation_note"] == "thuis onhoudbaar"
    alerts = (
        await c.http.get(f"{c.url}/v1/alerts", headers=c.sf, params={"type": "nl.schakel.capacity.CaseEscalated"})
    ).json()
    # The referrer's words stay in capacity; the published event carries only the code.
    assert {a["event"]["data"]["reason"] for a in alerts} == {"termijn_verlopen", "handmatig"}
    assert "thuis onhoudbaar" not in json.dumps(alerts)


async def test_reserving_the_last_place_starts_a_shortage_and_a_withdrawal_hands_it_to_the_next_youth(
    capacity: Capacity, keys
) -> None:  # type: ignore[no-untyped-def]
    c = capacity
    await report(c, keys, NEAR, "crisisplek", 1, 0)
    first = await c.referral(Setting.CRISISPLEK)
    await c.placement(first, "proposed")
    second = await c.referral(Setting.CRISISPLEK)
    await c.placement(second, "open")
    detected = (
        await c.http.get(f"{c.url}/v1/alerts", headers=c.sf, params={"type": "nl.schakel.capacity.ShortageDetected"})
    ).json()
    assert [(a["setting"], a["event"]["data"]["severity"]) for a in detected] == [("crisisplek", "tekort")]
    # A youth now waits with no place left: the open shortage turns critical.
    [critical] = await c.alerts("ShortageChanged", 1)
    assert (critical["severity"], critical["previous_severity"], critical["waiting"]) == ("kritiek", "tekort", 1)

    await c.publish(
        ReferralWithdrawn(
            referral_id=first,
            client_ref="b" * 64,
            municipality_code=HILVERSUM,
            reason="elders_geholpen",
            withdrawn_at=datetime.now(UTC),
        ),
        first,
    )
    # The withdrawn youth's place goes to the one still waiting; nobody waits any more.
    await c.placement(first, "withdrawn")
    await c.placement(second, "proposed")
    calmer = await c.alerts("ShortageChanged", 2)
    assert [a["severity"] for a in calmer] == ["kritiek", "tekort"]


async def test_a_report_not_refreshed_in_time_raises_one_stale_alert(capacity: Capacity, keys) -> None:  # type: ignore[no-untyped-def]
    c = capacity
    await report(c, keys, NEAR, "gezinshuis", 3, 1)
    await c.advance(timedelta(hours=25))
    await c.advance(timedelta(hours=1))

    async def stale() -> list | None:
        alerts = (
            await c.http.get(
                f"{c.url}/v1/alerts", headers=c.sf, params={"type": "nl.schakel.capacity.CapacityReportStale"}
            )
        ).json()
        return alerts or None

    [alert] = await stale()  # type: ignore[misc]
    assert alert["event"]["data"]["agb"] == NEAR and alert["setting"] == "gezinshuis"
    await report(c, keys, NEAR, "gezinshuis", 3, 2)
    assert len(await stale() or []) == 1


async def test_open_house_admission_lets_a_provider_offer_places_and_an_ended_contract_stops_it(
    capacity: Capacity, keys
) -> None:  # type: ignore[no-untyped-def]
    c = capacity
    newcomer, contract = "20000009", uuid.uuid4()
    today = datetime.now(UTC)
    refused = await c.http.put(
        f"{c.url}/v1/capacity/{newcomer}/residentieel",
        headers=await keys(Role.PROVIDER, newcomer),
        json={"total": 4, "occupied": 0},
    )
    assert refused.status_code == 409

    async def contracting(event) -> None:  # type: ignore[no-untyped-def]
        envelope = Envelope.wrap(event, source="contracting")
        await produce(
            c.infra.kafka, c.isolation.topic(topics.CONTRACTING_EVENTS), envelope.to_bytes(), key=newcomer.encode()
        )

    await contracting(
        ProviderAdmitted(
            application_id=uuid.uuid4(),
            contract_id=contract,
            provider_agb=newcomer,
            lot="JH-VERBLIJF-RES",
            settings=[Setting.RESIDENTIEEL],
            valid_from=today.date(),
            valid_to=today.date().replace(year=today.year + 8),
            admitted_at=today,
        )
    )

    async def reported() -> bool:
        response = await c.http.put(
            f"{c.url}/v1/capacity/{newcomer}/residentieel",
            headers=await keys(Role.PROVIDER, newcomer),
            json={"total": 4, "occupied": 0},
        )
        return response.status_code == 200

    await eventually(reported, what="the admitted provider's report accepted")
    await contracting(
        ContractEnded(
            contract_id=contract,
            provider_agb=newcomer,
            lot="JH-VERBLIJF-RES",
            end_date=today.date(),
            reason="faillissement",
            ended_at=today,
            settings=[Setting.RESIDENTIEEL],
        )
    )

    async def gone() -> bool:
        overview = (await c.http.get(f"{c.url}/v1/capacity", headers=c.sf)).json()
        return not any(s["setting"] == "residentieel" and s["total"] for s in overview)

    await eventually(gone, what="the ended contract's places no longer counted")
    referral = await c.referral(
        Setting.RESIDENTIEEL, urgency=Urgentie.SPOED, category=Productcategorie.VERBLIJF_INCL_BEHANDELING
    )
    assert (await c.placement(referral, "open"))["proposals"] == []


async def test_an_ambulant_referral_costs_capacity_no_transaction(capacity: Capacity, db: asyncpg.Pool) -> None:
    """Capacity places verblijf and crisis care only: an ambulant referral is acknowledged without a
    transaction or an inbox row (issue 13), and the crisis referral behind it on the partition opens
    its request as always."""
    c = capacity
    ambulant = await c.referral(urgency=Urgentie.REGULIER, category=Productcategorie.AMBULANT)
    crisis = await c.referral(Setting.CRISISPLEK)
    await c.placement(crisis)
    assert await db.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'capacity.referrals'") == 1
    assert await db.fetchval("SELECT count(*) FROM placement WHERE referral_id = $1", ambulant) == 0
