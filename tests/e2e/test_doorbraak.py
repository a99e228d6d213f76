"""The doorbraak across services, as processes: a crisis youth nobody can place escalates to the
expert team (capacity's clock is moved, nobody sleeps), which takes up the case, meets and decides on
maatwerk. The decision runs past its due date (DecisionOverdue, once). The gemeente then makes the
maatwerk contract in contracting naming the decision; capacity proposes that provider for this youth
alone, the provider accepts, the gemeente issues the toewijzing at intake, the provider starts care,
and the case closes."""

from __future__ import annotations

import json
from datetime import date, timedelta

import httpx

from contracts import topics
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import TopicReader
from tests.support.polling import eventually
from tests.support.processes import bearer, service_process
from tests.support.server import free_port

FULL, MAATWERK_AGB, GP = "50000011", "50000012", "01234567"
BSN, BIRTH_DATE = "111222333", "2011-06-01"
NOTES = "vertrouwelijk gesprek met de moeder"
TODAY = date.today()


async def test_a_youth_nobody_can_place_is_placed_through_a_maatwerk_decision_and_the_case_closes(
    infra: Infrastructure, isolation: Isolation
) -> None:
    env = {**isolation.env(infra), "SCHAKEL_TEST_CLOCK": "true", "SCHAKEL_RESERVATION_MINUTES": "600000"}
    admin, full = bearer("admin", "beheer", env), bearer("provider", FULL, env)
    maatwerk, gemeente = bearer("provider", MAATWERK_AGB, env), bearer("gemeente", "0402", env)
    huisarts, sf = bearer("referrer", f"02:{GP}", env), bearer("schakelfunctionaris", "sf.gooi", env)
    et = bearer("expertteam", "et.gooi", env)

    with (
        service_process("intake", free_port(), env, "e2e-doorbraak-intake") as intake,
        service_process("contracting", free_port(), env, "e2e-doorbraak-contracting") as contracting,
        service_process("capacity", free_port(), env, "e2e-doorbraak-capacity") as capacity,
    ):
        async with httpx.AsyncClient(timeout=30) as http:

            async def ok(response: httpx.Response, status: int = 200) -> dict:
                assert response.status_code == status, response.text
                return response.json()

            async def advance(seconds: float) -> None:
                await ok(await http.post(f"{capacity}/v1/admin/clock", headers=admin, json={"seconds": seconds}))

            # The region's only crisis place is taken.
            await ok(
                await http.put(
                    f"{capacity}/v1/providers/{FULL}",
                    headers=admin,
                    json={"settings": ["crisisplek"], "municipality_code": "0402"},
                )
            )
            await ok(
                await http.put(
                    f"{capacity}/v1/capacity/{FULL}/crisisplek", headers=full, json={"total": 1, "occupied": 1}
                )
            )
            referral = await ok(
                await http.post(
                    f"{intake}/v1/referrals",
                    headers=huisarts,
                    json={
                        "client": {"bsn": BSN, "birth_date": BIRTH_DATE, "municipality_code": "0402"},
                        "referrer": {"type": "02", "agb": GP},
                        "product_category": "46",
                        "setting": "crisisplek",
                        "urgency": "crisis",
                        "ambulant_tried": True,
                    },
                ),
                201,
            )

            async def placement(status: str, headers: dict[str, str] = sf) -> dict | None:
                placements = (
                    await http.get(
                        f"{capacity}/v1/placements",
                        headers=headers,
                        params={"status": ["open", "proposed", "confirmed"]},
                    )
                ).json()
                return next(
                    (p for p in placements if p["referral_id"] == referral["referral_id"] and p["status"] == status),
                    None,
                )

            waiting = await eventually(lambda: placement("open"), timeout=60, what="the youth waiting, unplaced")

            # Crisis escalates after 4 hours to the schakelfunctionaris, 24 hours later to the expert team.
            await advance(4 * 3600 + 60)
            await advance(24 * 3600)

            async def at_expertteam() -> dict | None:
                found = await placement("open")
                return found if found and found["escalation_level"] == "expertteam" else None

            await eventually(at_expertteam, what="the escalation to the expert team")

            case = await ok(
                await http.post(
                    f"{capacity}/v1/cases", headers=et, json={"placement_id": waiting["id"], "team": "expertteam"}
                ),
                201,
            )
            case_url = f"{capacity}/v1/cases/{case['case_id']}"
            meeting = {"held_on": TODAY.isoformat(), "parties": ["gemeente", "jeugdarts"], "notes": NOTES}
            await ok(await http.post(f"{case_url}/meetings", headers=et, json=meeting), 201)
            decision = await ok(
                await http.post(
                    f"{case_url}/decisions",
                    headers=et,
                    json={
                        "kind": "maatwerk",
                        "executor": "gemeente",
                        "provider_agb": MAATWERK_AGB,
                        "settings": ["crisisplek"],
                        "working_days": 1,
                        "notes": NOTES,
                    },
                ),
                201,
            )

            # The gemeente takes longer than a working day: the decision is overdue, once.
            await advance(5 * 24 * 3600)

            async def overdue() -> list[dict] | None:
                alerts = (
                    await http.get(
                        f"{capacity}/v1/alerts", headers=sf, params={"type": "nl.schakel.capacity.DecisionOverdue"}
                    )
                ).json()
                return alerts or None

            [alert] = await eventually(overdue, what="DecisionOverdue")
            assert alert["event"]["data"]["decision_id"] == decision["decision_id"]

            # The gemeente makes the maatwerk contract that carries the decision out.
            contract = await ok(
                await http.post(
                    f"{contracting}/v1/contracts",
                    headers=gemeente,
                    json={
                        "kind": "maatwerk",
                        "provider_agb": MAATWERK_AGB,
                        "lot": "CRISIS",
                        "client_ref": referral["client_ref"],
                        "decision_id": decision["decision_id"],
                        "valid_from": TODAY.isoformat(),
                        "valid_to": (TODAY + timedelta(days=365)).isoformat(),
                    },
                ),
                201,
            )
            assert contract["decision_id"] == decision["decision_id"]

            proposed = await eventually(
                lambda: placement("proposed", maatwerk), timeout=60, what="the maatwerk provider proposed"
            )
            assert [p["agb"] for p in proposed["proposals"]] == [MAATWERK_AGB]
            await ok(await http.post(f"{capacity}/v1/placements/{waiting['id']}/accept", headers=maatwerk))

            async def placed() -> dict | None:
                view = (await http.get(f"{intake}/v1/referrals/{referral['referral_id']}", headers=gemeente)).json()
                return view if view["status"] == "placed" else None

            await eventually(placed, timeout=60, what="intake to learn the placement")
            allocation = await ok(
                await http.post(
                    f"{intake}/v1/referrals/{referral['referral_id']}/allocations",
                    headers=gemeente,
                    json={
                        "provider_agb": MAATWERK_AGB,
                        "product_category": "46",
                        "product_code": "46001",
                        "start_date": TODAY.isoformat(),
                        "end_date": (TODAY + timedelta(days=90)).isoformat(),
                        "volume": 90,
                        "unit": "14",
                        "frequency": "6",
                    },
                ),
                201,
            )
            await ok(
                await http.post(
                    f"{intake}/v1/allocations/{allocation['allocation_id']}/start",
                    headers=maatwerk,
                    json={"start_date": TODAY.isoformat()},
                )
            )

            async def closed() -> dict | None:
                file = (await http.get(case_url, headers=et)).json()
                return file if file["status"] == "closed" else None

            file = await eventually(closed, timeout=60, what="the case closed when care started")
            assert file["closed_reason"] == "zorg_gestart"
            assert [d["status"] for d in file["decisions"]] == ["carried_out"]
            assert file["decisions"][0]["contract_id"] == contract["id"]

            # Time goes on: the overdue decision is not raised again.
            await advance(7 * 24 * 3600)
            assert len(await overdue() or []) == 1

    async with TopicReader(infra.kafka, isolation.topic(topics.CAPACITY_EVENTS)) as reader:
        records = await reader.until(lambda rs: any(b"CaseClosed" in r.value for r in rs), what="CaseClosed")
    kinds = [json.loads(r.value)["type"].rsplit(".", 1)[1] for r in records]
    assert [k for k in kinds if k.startswith(("Case", "Meeting", "Decision"))] == [
        "CaseTakenUp",
        "MeetingHeld",
        "DecisionMade",
        "DecisionCarriedOut",
        "CaseClosed",
    ]
    for record in records:
        assert BSN.encode() not in record.value and BIRTH_DATE.encode() not in record.value
        assert NOTES.encode() not in record.value
