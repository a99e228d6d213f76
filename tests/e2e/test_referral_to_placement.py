"""Across services, as processes: a crisis referral posted at intake becomes a placement request
at capacity, the provider accepts the proposed place, and intake shows the referral placed."""

from __future__ import annotations

import httpx

from tests.support.polling import eventually
from tests.support.processes import bearer, service_process
from tests.support.server import free_port

PROVIDER, GP = "50000001", "01234567"


async def test_a_crisis_referral_at_intake_is_placed_by_capacity_and_intake_learns_it(env: dict[str, str]) -> None:
    admin, provider = bearer("admin", "beheer", env), bearer("provider", PROVIDER, env)
    huisarts = bearer("referrer", f"02:{GP}", env)

    with (
        service_process("intake", free_port(), env, "e2e-placement-intake") as intake,
        service_process("capacity", free_port(), env, "e2e-placement-capacity") as capacity,
    ):
        async with httpx.AsyncClient(timeout=30) as http:
            (
                await http.put(
                    f"{capacity}/v1/providers/{PROVIDER}",
                    headers=admin,
                    json={"settings": ["crisisplek"], "municipality_code": "0402"},
                )
            ).raise_for_status()
            (
                await http.put(
                    f"{capacity}/v1/capacity/{PROVIDER}/crisisplek", headers=provider, json={"total": 3, "occupied": 2}
                )
            ).raise_for_status()

            response = await http.post(
                f"{intake}/v1/referrals",
                headers=huisarts,
                json={
                    "client": {"bsn": "111222333", "birth_date": "2011-06-01", "municipality_code": "0402"},
                    "referrer": {"type": "02", "agb": GP},
                    "product_category": "46",
                    "setting": "crisisplek",
                    "urgency": "crisis",
                    "ambulant_tried": True,
                },
            )
            assert response.status_code == 201, response.text
            referral = response.json()

            async def proposed_to_me() -> dict | None:
                placements = (await http.get(f"{capacity}/v1/placements", headers=provider)).json()
                return next((p for p in placements if p["referral_id"] == referral["referral_id"]), None)

            placement = await eventually(proposed_to_me, what="a proposal to the provider")
            assert placement["client_ref"] == referral["client_ref"]
            assert "111222333" not in str(placement)
            accepted = await http.post(f"{capacity}/v1/placements/{placement['id']}/accept", headers=provider)
            assert accepted.status_code == 200, accepted.text

            async def placed() -> dict | None:
                view = (await http.get(f"{intake}/v1/referrals/{referral['referral_id']}", headers=huisarts)).json()
                return view if view["status"] == "placed" else None

            view = await eventually(placed, what="intake to mark the referral placed")
    assert view["referral_id"] == referral["referral_id"]
