"""Lots, Open House admission, the waitlist and contracts on the real broker and database."""

from __future__ import annotations

from datetime import date, timedelta

import asyncpg
import pytest

from contracts import topics
from services.runtime.roles import Role
from tests.integration.contracting.conftest import AGB_A, AGB_B, AGB_C, FULL_EVIDENCE, application, events, kinds
from tests.support.infra import Infrastructure, Isolation

CLIENT = "e" * 64


async def test_the_regions_lots_are_seeded_and_any_key_reads_them(contracting: str, keys, http) -> None:  # type: ignore[no-untyped-def]
    headers = await keys(Role.GEMEENTE, "0402")
    lots = {lot["code"]: lot for lot in (await http.get(f"{contracting}/v1/lots", headers=headers)).json()}
    assert {
        "AMB-BEGELEIDING",
        "GEZINSHUIS",
        "RESIDENTIEEL",
        "DRIEMILIEU",
        "CRISIS",
        "JEUGDZORGPLUS",
        "JB-JR",
    } <= lots.keys()
    assert lots["AMB-BEGELEIDING"]["status"] == "waitlist" and lots["GEZINSHUIS"]["status"] == "open"
    gezinshuis = (await http.get(f"{contracting}/v1/lots/GEZINSHUIS", headers=headers)).json()
    assert gezinshuis["settings"] == ["gezinshuis"] and gezinshuis["contract_term_years"] == 8
    assert {r["code"] for r in gezinshuis["requirements"]} >= {"vog", "kwaliteitskeurmerk", "skj-big-registratie"}
    assert (await http.get(f"{contracting}/v1/lots/NOPE", headers=headers)).status_code == 404
    assert (await http.get(f"{contracting}/v1/lots")).status_code == 401


async def test_only_an_admin_edits_a_lot_and_an_inconsistent_lot_is_a_422(contracting: str, keys, http) -> None:  # type: ignore[no-untyped-def]
    lot = (await http.get(f"{contracting}/v1/lots/CRISIS", headers=await keys(Role.OPERATOR))).json()
    terms = {k: v for k, v in lot.items() if k != "code"} | {"max_wait_days": 2}
    assert (
        await http.put(f"{contracting}/v1/lots/CRISIS", json=terms, headers=await keys(Role.OPERATOR))
    ).status_code == 403
    admin = await keys(Role.ADMIN)
    changed = await http.put(f"{contracting}/v1/lots/CRISIS", json=terms, headers=admin)
    assert changed.status_code == 200 and changed.json()["lot"]["max_wait_days"] == 2
    bad = await http.put(f"{contracting}/v1/lots/CRISIS", json=terms | {"max_wait_days": 0}, headers=admin)
    assert bad.status_code == 422 and "max_wait_days" in bad.text


async def test_a_qualified_provider_is_admitted_with_an_eight_year_contract_and_the_lots_settings(
    contracting: str,
    keys,
    http,
    infra: Infrastructure,
    isolation: Isolation,  # type: ignore[no-untyped-def]
) -> None:
    provider = await keys(Role.PROVIDER, AGB_A)
    answer = await http.post(
        f"{contracting}/v1/open-house/applications", headers=provider, json=application(AGB_A, "GEZINSHUIS")
    )
    assert answer.status_code == 201, answer.text
    [gezinshuis] = answer.json()["lots"]
    assert gezinshuis["outcome"] == "admitted" and gezinshuis["contract_id"]

    [contract] = (await http.get(f"{contracting}/v1/contracts", headers=provider)).json()
    assert contract["id"] == gezinshuis["contract_id"] and contract["kind"] == "open_house"
    start = date.fromisoformat(contract["valid_from"])
    assert date.fromisoformat(contract["valid_to"]) == start.replace(year=start.year + 8) - timedelta(days=1)

    received, admitted = await events(infra, isolation.topic(topics.CONTRACTING_EVENTS), 2, "admission events")
    assert kinds([received, admitted]) == ["ApplicationReceived", "ProviderAdmitted"]
    assert admitted.subject == AGB_A and admitted.correlationid == received.id
    assert admitted.data["settings"] == ["gezinshuis"] and admitted.data["min_capacity"] == 1
    assert admitted.data["contract_id"] == contract["id"]


async def test_each_lot_gets_its_own_outcome_and_a_rejection_names_what_is_missing(
    contracting: str,
    keys,
    http,
    infra: Infrastructure,
    isolation: Isolation,  # type: ignore[no-untyped-def]
) -> None:
    without_vog = [e for e in FULL_EVIDENCE if e["requirement"] != "vog"]
    answer = await http.post(
        f"{contracting}/v1/open-house/applications",
        headers=await keys(Role.PROVIDER, AGB_A),
        json=application(AGB_A, "RESIDENTIEEL", "AMB-BEGELEIDING", evidence=without_vog),
    )
    residentieel, begeleiding = answer.json()["lots"]
    assert residentieel["outcome"] == "rejected" and begeleiding["outcome"] == "rejected"
    assert residentieel["reasons"] == [
        "missing requirement vog: Verklaring Omtrent het Gedrag van alle medewerkers met cliëntcontact"
    ]

    answer = await http.post(
        f"{contracting}/v1/open-house/applications",
        headers=await keys(Role.PROVIDER, AGB_B),
        json=application(AGB_B, "RESIDENTIEEL", "AMB-BEGELEIDING"),
    )
    residentieel, begeleiding = answer.json()["lots"]
    assert residentieel["outcome"] == "admitted"
    assert begeleiding == {
        "lot": "AMB-BEGELEIDING",
        "outcome": "waitlisted",
        "contract_id": None,
        "position": 1,
        "reasons": [],
    }
    envelopes = await events(infra, isolation.topic(topics.CONTRACTING_EVENTS), 6, "both applications")
    assert kinds(envelopes) == [
        "ApplicationReceived",
        "ApplicationRejected",
        "ApplicationRejected",
        "ApplicationReceived",
        "ProviderAdmitted",
        "ProviderWaitlisted",
    ]


async def test_the_number_of_admitted_providers_is_not_capped(contracting: str, keys, http) -> None:  # type: ignore[no-untyped-def]
    outcomes = []
    for agb in (AGB_A, AGB_B, AGB_C, "45678901", "56789012"):
        answer = await http.post(
            f"{contracting}/v1/open-house/applications",
            headers=await keys(Role.PROVIDER, agb),
            json=application(agb, "CRISIS"),
        )
        outcomes.append(answer.json()["lots"][0]["outcome"])
    assert outcomes == ["admitted"] * 5


async def test_reopening_a_waitlisted_lot_admits_the_waitlist_in_order_of_arrival(
    contracting: str,
    keys,
    http,
    infra: Infrastructure,
    isolation: Isolation,  # type: ignore[no-untyped-def]
) -> None:
    positions = []
    for agb in (AGB_B, AGB_A):
        answer = await http.post(
            f"{contracting}/v1/open-house/applications",
            headers=await keys(Role.PROVIDER, agb),
            json=application(agb, "AMB-BEGELEIDING"),
        )
        positions.append(answer.json()["lots"][0]["position"])
    assert positions == [1, 2]
    again = await http.post(
        f"{contracting}/v1/open-house/applications",
        headers=await keys(Role.PROVIDER, AGB_A),
        json=application(AGB_A, "AMB-BEGELEIDING"),
    )
    assert again.json()["lots"][0]["reasons"] == ["already on the waitlist of lot AMB-BEGELEIDING at position 2"]

    admin = await keys(Role.ADMIN)
    lot = (await http.get(f"{contracting}/v1/lots/AMB-BEGELEIDING", headers=admin)).json()
    reopened = await http.put(
        f"{contracting}/v1/lots/AMB-BEGELEIDING",
        headers=admin,
        json={k: v for k, v in lot.items() if k != "code"} | {"status": "open"},
    )
    assert [(r["outcome"]) for r in reopened.json()["from_waitlist"]] == ["admitted", "admitted"]

    envelopes = await events(infra, isolation.topic(topics.CONTRACTING_EVENTS), 7, "the admissions on reopening")
    # The two admissions are keyed by provider, so Kafka need not deliver them in order: take the
    # order in which they were made from the answer, and each one's provider from its event.
    admitted = {e.data["contract_id"]: e for e in envelopes if e.type.endswith("ProviderAdmitted")}
    made = [r["contract_id"] for r in reopened.json()["from_waitlist"]]
    assert [admitted[c].data["provider_agb"] for c in made] == [AGB_B, AGB_A]
    contracts = (await http.get(f"{contracting}/v1/contracts", headers=await keys(Role.OPERATOR))).json()
    assert sorted(c["provider_agb"] for c in contracts if c["lot"] == "AMB-BEGELEIDING") == [AGB_A, AGB_B]


async def test_a_provider_applies_only_for_itself_with_valid_fields(contracting: str, keys, http) -> None:  # type: ignore[no-untyped-def]
    provider = await keys(Role.PROVIDER, AGB_A)
    url = f"{contracting}/v1/open-house/applications"
    assert (await http.post(url, headers=provider, json=application(AGB_B, "CRISIS"))).status_code == 403
    assert (await http.post(url, headers=await keys(Role.ADMIN), json=application(AGB_A, "CRISIS"))).status_code == 403
    bad_kvk = await http.post(url, headers=provider, json=application(AGB_A, "CRISIS") | {"kvk": "123"})
    assert bad_kvk.status_code == 422 and "kvk" in bad_kvk.text
    unknown = await http.post(url, headers=provider, json=application(AGB_A, "ZWEMBAD"))
    assert unknown.status_code == 422 and "ZWEMBAD" in unknown.text


async def test_ending_a_contract_emits_contract_ended_with_the_lots_settings_once(
    contracting: str,
    keys,
    http,
    infra: Infrastructure,
    isolation: Isolation,
    db: asyncpg.Pool,  # type: ignore[no-untyped-def]
) -> None:
    answer = await http.post(
        f"{contracting}/v1/open-house/applications",
        headers=await keys(Role.PROVIDER, AGB_A),
        json=application(AGB_A, "JEUGDZORGPLUS"),
    )
    contract_id = answer.json()["lots"][0]["contract_id"]
    url = f"{contracting}/v1/contracts/{contract_id}/end"
    body = {"end_date": (date.today() + timedelta(days=30)).isoformat(), "reason": "faillissement"}
    assert (await http.post(url, json=body, headers=await keys(Role.PROVIDER, AGB_A))).status_code == 403
    admin = await keys(Role.ADMIN)
    ended = await http.post(url, json=body, headers=admin)
    assert ended.status_code == 200 and ended.json()["end_reason"] == "faillissement"
    assert (await http.post(url, json=body, headers=admin)).status_code == 409

    envelopes = await events(infra, isolation.topic(topics.CONTRACTING_EVENTS), 3, "ContractEnded")
    end = envelopes[-1]
    assert end.type.endswith("ContractEnded") and end.subject == AGB_A
    assert (end.data["provider_agb"], end.data["lot"], end.data["settings"]) == (
        AGB_A,
        "JEUGDZORGPLUS",
        ["jeugdzorgplus"],
    )
    unknown = await http.post(
        f"{contracting}/v1/contracts/00000000-0000-4000-8000-000000000000/end", json=body, headers=admin
    )
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "maatwerk"}, "client_ref"),
        ({"kind": "uitloop", "client_ref": CLIENT}, "client_ref"),
        ({"kind": "open_house", "valid_from": (date.today() + timedelta(days=1)).isoformat()}, "valid_from"),
        ({"kind": "taakgericht", "lot": "NOPE"}, "lot"),
    ],
)
async def test_a_contract_beside_open_house_is_checked(contracting: str, keys, http, body, field) -> None:  # type: ignore[no-untyped-def]
    base = {"provider_agb": AGB_A, "lot": "JB-JR", "valid_from": date.today().isoformat()}
    response = await http.post(f"{contracting}/v1/contracts", json=base | body, headers=await keys(Role.ADMIN))
    assert response.status_code == 422 and field in response.text


async def test_admin_makes_maatwerk_uitloop_and_taakgericht_and_a_provider_sees_only_its_own(
    contracting: str,
    keys,
    http,  # type: ignore[no-untyped-def]
) -> None:
    admin = await keys(Role.ADMIN)
    today = date.today().isoformat()
    made = [
        await http.post(
            f"{contracting}/v1/contracts",
            headers=admin,
            json={
                "kind": "maatwerk",
                "provider_agb": AGB_A,
                "lot": "DRIEMILIEU",
                "client_ref": CLIENT,
                "valid_from": today,
                "valid_to": (date.today() + timedelta(days=365)).isoformat(),
                "tariffs": [{"product_code": "43A05", "unit": "14", "eurocent": 45_000, "valid_from": today}],
            },
        ),
        await http.post(
            f"{contracting}/v1/contracts",
            headers=admin,
            json={"kind": "uitloop", "provider_agb": AGB_B, "lot": "RESIDENTIEEL", "valid_from": today},
        ),
        await http.post(
            f"{contracting}/v1/contracts",
            headers=admin,
            json={"kind": "taakgericht", "provider_agb": AGB_C, "lot": "JB-JR", "valid_from": today},
        ),
    ]
    assert [m.status_code for m in made] == [201, 201, 201]
    assert made[0].json()["tariffs"][0]["eurocent"] == 45_000
    assert (
        made[1].json()["valid_to"] == (date.today().replace(year=date.today().year + 8) - timedelta(days=1)).isoformat()
    )
    own = (await http.get(f"{contracting}/v1/contracts", headers=await keys(Role.PROVIDER, AGB_B))).json()
    assert [c["kind"] for c in own] == ["uitloop"]
    everyone = (await http.get(f"{contracting}/v1/contracts", headers=await keys(Role.OPERATOR))).json()
    assert sorted(c["kind"] for c in everyone) == ["maatwerk", "taakgericht", "uitloop"]
    assert (await http.get(f"{contracting}/v1/contracts", headers=await keys(Role.GEMEENTE, "0402"))).status_code == 403
    other = await http.get(f"{contracting}/v1/contracts?provider_agb={AGB_A}", headers=await keys(Role.PROVIDER, AGB_B))
    assert other.status_code == 403


async def test_an_open_house_contract_running_from_before_schakel_is_registered_once_and_announced(
    contracting: str,
    keys,
    http,
    infra: Infrastructure,
    isolation: Isolation,  # type: ignore[no-untyped-def]
) -> None:
    admin, since = await keys(Role.ADMIN), date(2021, 1, 1)
    body = {"kind": "open_house", "provider_agb": AGB_A, "lot": "JEUGDZORGPLUS", "valid_from": since.isoformat()}
    registered = await http.post(f"{contracting}/v1/contracts", json=body, headers=admin)
    assert registered.status_code == 201, registered.text
    assert (await http.post(f"{contracting}/v1/contracts", json=body, headers=admin)).status_code == 409

    [admitted] = await events(infra, isolation.topic(topics.CONTRACTING_EVENTS), 1, "ProviderAdmitted")
    assert (admitted.data["provider_agb"], admitted.data["valid_from"], admitted.data["settings"]) == (
        AGB_A,
        "2021-01-01",
        ["jeugdzorgplus"],
    )
    answer = await http.post(
        f"{contracting}/v1/open-house/applications",
        headers=await keys(Role.PROVIDER, AGB_A),
        json=application(AGB_A, "JEUGDZORGPLUS"),
    )
    [lot] = answer.json()["lots"]
    assert lot["outcome"] == "rejected" and "already holds" in " ".join(lot["reasons"])
