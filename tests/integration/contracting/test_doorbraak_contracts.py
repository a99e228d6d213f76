"""A maatwerk contract that carries out a doorbraak decision, on the real database and broker: a
gemeente may make it (maatwerk only), it is announced as ContractConcluded naming the decision, a
retry returns the same contract (also two at once), other terms for the decision are a 409, and
ending it announces ContractEnded."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

from contracts import topics
from services.runtime.roles import Role
from tests.integration.contracting.conftest import AGB_A, AGB_B, events, kinds
from tests.support.infra import Infrastructure, Isolation

CLIENT = "a" * 64


def _maatwerk(decision_id: uuid.UUID, **changes: object) -> dict:
    return {
        "kind": "maatwerk",
        "provider_agb": AGB_A,
        "lot": "CRISIS",
        "client_ref": CLIENT,
        "decision_id": str(decision_id),
        "valid_from": date.today().isoformat(),
        "valid_to": (date.today() + timedelta(days=180)).isoformat(),
    } | changes


async def test_a_gemeente_makes_the_maatwerk_contract_of_a_decision_once(  # type: ignore[no-untyped-def]
    contracting: str, keys, http, infra: Infrastructure, isolation: Isolation
) -> None:
    gemeente, decision = await keys(Role.GEMEENTE, "0402"), uuid.uuid4()
    url = f"{contracting}/v1/contracts"

    first, second = await asyncio.gather(
        http.post(url, headers=gemeente, json=_maatwerk(decision)),
        http.post(url, headers=gemeente, json=_maatwerk(decision)),
    )
    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    assert first.json()["id"] == second.json()["id"] and first.json()["decision_id"] == str(decision)
    other = await http.post(url, headers=gemeente, json=_maatwerk(decision, provider_agb=AGB_B))
    assert other.status_code == 409, other.text
    uitloop = {"kind": "uitloop", "provider_agb": AGB_B, "lot": "RESIDENTIEEL", "valid_from": date.today().isoformat()}
    assert (await http.post(url, headers=gemeente, json=uitloop)).status_code == 403

    ended = await http.post(
        f"{url}/{first.json()['id']}/end",
        headers=await keys(Role.ADMIN),
        json={"end_date": date.today().isoformat(), "reason": "zorg beëindigd"},
    )
    assert ended.status_code == 200, ended.text

    published = await events(infra, isolation.topic(topics.CONTRACTING_EVENTS), 2, "ContractConcluded and Ended")
    assert kinds(published) == ["ContractConcluded", "ContractEnded"]
    concluded = published[0].data
    assert (concluded["decision_id"], concluded["client_ref"], concluded["kind"]) == (str(decision), CLIENT, "maatwerk")
    assert concluded["settings"] == ["crisisplek"] and published[0].subject == AGB_A
    assert published[1].data["kind"] == "maatwerk"
