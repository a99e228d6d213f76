"""Referrals on the real broker and database: validation, rights, legal basis, pseudonyms, placement."""

from __future__ import annotations

import asyncpg
import pytest

from contracts import topics
from contracts.capacity import PlacementConfirmed
from contracts.contracting import ProviderAdmitted
from contracts.envelope import Envelope
from services.intake.privacy import client_ref
from services.intake.settings import IntakeSettings
from services.runtime.roles import Role
from tests.integration.intake.conftest import Served, client, intake_events, referral_body, short
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import produce
from tests.support.polling import eventually

GP = "02:01234567"


async def test_a_crisis_referral_is_received_and_published_with_what_capacity_needs(
    intake: Served, keys, http, infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool
) -> None:  # type: ignore[no-untyped-def]
    body = referral_body(
        product_category="46",
        urgency="crisis",
        setting="crisisplek",
        settings=["gezinshuis", "crisisplek"],
        ambulant_tried=False,
    )
    response = await http.post(f"{intake.url}/v1/referrals", json=body, headers=await keys(Role.REFERRER, GP))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "received"
    assert created["client_ref"] == client_ref("111222333", IntakeSettings(dev_mode=True).client_ref_key())

    [event] = await intake_events(infra, isolation, 1, topics.INTAKE_EVENTS)
    assert event.type == "nl.schakel.intake.ReferralReceived"
    assert event.subject == created["referral_id"]
    data = event.data
    assert data["settings"] == ["crisisplek", "gezinshuis"]
    assert (data["urgency"], data["municipality_code"], data["client_ref"]) == ("crisis", "0402", created["client_ref"])
    assert data["age"] == 14 and data["needs_gemeente_decision"] is True and data["ambulant_tried"] is False
    assert "111222333" not in event.model_dump_json() and "2012-05-01" not in event.model_dump_json()
    # At rest the BSN is encrypted.
    sealed = await db.fetchval("SELECT personal FROM client")
    assert b"111222333" not in sealed


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"client": client(bsn="123456789")}, "bsn"),
        ({"client": client(municipality_code="0363")}, "client.municipality_code"),
        ({"client": client(birth_date="1990-01-01")}, "client.birth_date"),
        ({"product_category": "45", "setting": "gezinshuis"}, "settings"),
        ({"product_category": "44"}, "settings"),
        ({"urgency": "gisteren"}, "urgency"),
        ({"referral_date": "2099-01-01"}, "referral_date"),
    ],
)
async def test_an_invalid_referral_is_a_422_naming_the_field(intake: Served, keys, http, overrides, field) -> None:  # type: ignore[no-untyped-def]
    response = await http.post(
        f"{intake.url}/v1/referrals", json=referral_body(**overrides), headers=await keys(Role.REFERRER, GP)
    )
    assert response.status_code == 422, response.text
    assert field.split(".")[-1] in response.text
    # The rejected BSN is not echoed back.
    assert "123456789" not in response.text


async def test_weesp_is_valid_for_a_referral_dated_before_the_merger_only(intake: Served, keys, http) -> None:  # type: ignore[no-untyped-def]
    headers = await keys(Role.REFERRER, GP)
    weesp = client(municipality_code="0457")
    before = await http.post(
        f"{intake.url}/v1/referrals", headers=headers, json=referral_body(client=weesp, referral_date="2022-03-01")
    )
    assert before.status_code == 201, before.text
    after = await http.post(
        f"{intake.url}/v1/referrals", headers=headers, json=referral_body(client=weesp, referral_date="2022-04-01")
    )
    assert after.status_code == 422 and "0457 (Weesp) did not exist on 2022-04-01" in after.text


async def test_a_key_refers_only_as_itself_and_a_gemeente_only_for_its_residents(intake: Served, keys, http) -> None:  # type: ignore[no-untyped-def]
    url = f"{intake.url}/v1/referrals"
    assert (await http.post(url, json=referral_body())).status_code == 401
    other_gp = await http.post(url, json=referral_body(), headers=await keys(Role.REFERRER, "02:99999999"))
    assert other_gp.status_code == 403 and "02:99999999" in other_gp.text
    gemeente = await keys(Role.GEMEENTE, "0406")
    as_gemeente = referral_body(referrer={"type": "01"})
    assert (await http.post(url, json=as_gemeente, headers=gemeente)).status_code == 403
    own = await http.post(
        url, json=referral_body(referrer={"type": "01"}, client=client(municipality_code="0406")), headers=gemeente
    )
    assert own.status_code == 201, own.text
    assert (await http.post(url, json=referral_body(), headers=await keys(Role.OPERATOR))).status_code == 403


async def test_a_court_referral_needs_no_gemeente_decision_and_veilig_thuis_is_flagged(
    intake: Served, keys, http, infra: Infrastructure, isolation: Isolation
) -> None:  # type: ignore[no-untyped-def]
    court = await http.post(
        f"{intake.url}/v1/referrals",
        headers=await keys(Role.REFERRER, "08:22222222"),
        json=referral_body(referrer={"type": "08", "agb": "22222222"}),
    )
    assert court.status_code == 201 and court.json()["needs_gemeente_decision"] is False
    vt = await http.post(
        f"{intake.url}/v1/referrals",
        headers=await keys(Role.GEMEENTE, "0402"),
        json=referral_body(referrer={"type": "01"}, veilig_thuis=True),
    )
    assert vt.status_code == 201
    first, second = await intake_events(infra, isolation, 2, topics.INTAKE_EVENTS)
    assert first.data["needs_gemeente_decision"] is False and first.data["referrer_type"] == "08"
    assert second.data["veilig_thuis"] is True and second.data["referrer_agb"] is None


async def test_a_referral_to_a_provider_without_contract_is_accepted_and_flagged_for_consultation(
    intake: Served, keys, http, infra: Infrastructure, isolation: Isolation
) -> None:  # type: ignore[no-untyped-def]
    admitted = ProviderAdmitted(
        application_id="00000000-0000-4000-8000-000000000001",
        contract_id="00000000-0000-4000-8000-000000000002",
        provider_agb="87654321",
        lot="AMBULANT-1",
        valid_from="2020-01-01",
        valid_to="2034-12-31",
        admitted_at="2020-01-01T00:00:00Z",
    )
    await produce(
        infra.kafka,
        isolation.topic(topics.CONTRACTING_EVENTS),
        Envelope.wrap(admitted, source="contracting").to_bytes(),
    )
    headers = await keys(Role.REFERRER, GP)

    async def contracted() -> bool:
        response = await http.post(
            f"{intake.url}/v1/referrals", headers=headers, json=referral_body(provider_agb="87654321")
        )
        return response.json()["contracted_provider"] is True

    await eventually(contracted, what="intake to learn the contract")
    response = await http.post(
        f"{intake.url}/v1/referrals", headers=headers, json=referral_body(provider_agb="55555555")
    )
    assert response.status_code == 201
    assert response.json()["contracted_provider"] is False and response.json()["consult_gemeente"] is True
    view = await http.get(f"{intake.url}/v1/referrals/{response.json()['referral_id']}", headers=headers)
    assert "consult the gemeente" in view.json()["history"][0]["detail"]


async def test_a_confirmed_placement_marks_the_referral_placed(
    intake: Served, keys, http, infra: Infrastructure, isolation: Isolation
) -> None:  # type: ignore[no-untyped-def]
    headers = await keys(Role.REFERRER, GP)
    created = (
        await http.post(
            f"{intake.url}/v1/referrals",
            headers=headers,
            json=referral_body(product_category="43", settings=["gezinshuis"], urgency="spoed"),
        )
    ).json()
    placed = PlacementConfirmed(
        placement_id="00000000-0000-4000-8000-000000000009",
        referral_id=created["referral_id"],
        client_ref=created["client_ref"],
        provider_agb="87654321",
        setting="gezinshuis",
        confirmed_at="2026-01-02T10:00:00Z",
    )
    envelope = Envelope.wrap(placed, source="capacity")
    # Delivered twice: the inbox applies it once.
    for _ in range(2):
        await produce(infra.kafka, isolation.topic(topics.CAPACITY_EVENTS), envelope.to_bytes())

    async def status() -> str | None:
        view = (await http.get(f"{intake.url}/v1/referrals/{created['referral_id']}", headers=headers)).json()
        return view if view["status"] == "placed" else None

    view = await eventually(status, what="the referral to read placed")
    assert [h["status"] for h in view["history"]] == ["received", "placed"]
    assert view["placed_with"] == "87654321"


async def test_a_referral_is_readable_by_its_referrer_gemeente_and_operators_only(intake: Served, keys, http) -> None:  # type: ignore[no-untyped-def]
    created = (
        await http.post(f"{intake.url}/v1/referrals", json=referral_body(), headers=await keys(Role.REFERRER, GP))
    ).json()
    url = f"{intake.url}/v1/referrals/{created['referral_id']}"
    for role, subject in ((Role.REFERRER, GP), (Role.GEMEENTE, "0402"), (Role.OPERATOR, "ops")):
        response = await http.get(url, headers=await keys(role, subject))
        assert response.status_code == 200, (role, response.text)
        assert "bsn" not in response.text and "birth_date" not in response.text
    for role, subject in ((Role.REFERRER, "02:99999999"), (Role.GEMEENTE, "0406"), (Role.PROVIDER, "87654321")):
        assert (await http.get(url, headers=await keys(role, subject))).status_code == 403
    view = (await http.get(url, headers=await keys(Role.OPERATOR, "ops"))).json()
    assert view["waiting"]["ongoing"] is True and view["waiting"]["seconds"] >= 0


async def test_a_referral_is_withdrawn_by_its_referrer_and_then_closed(
    intake: Served, keys, http, infra: Infrastructure, isolation: Isolation
) -> None:  # type: ignore[no-untyped-def]
    headers = await keys(Role.REFERRER, GP)
    created = (await http.post(f"{intake.url}/v1/referrals", json=referral_body(), headers=headers)).json()
    url = f"{intake.url}/v1/referrals/{created['referral_id']}/withdrawal"
    assert (
        await http.post(url, json={"reason": "verhuisd"}, headers=await keys(Role.GEMEENTE, "0406"))
    ).status_code == 403
    response = await http.post(url, json={"reason": "verhuisd"}, headers=headers)
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
    again = await http.post(url, json={"reason": "verhuisd"}, headers=headers)
    assert again.status_code == 409 and "withdrawn" in again.text
    _, withdrawn = await intake_events(infra, isolation, 2, topics.INTAKE_EVENTS)
    assert withdrawn.type.endswith("ReferralWithdrawn") and withdrawn.subject == created["referral_id"]
    assert short([withdrawn]) == ["ReferralWithdrawn"]
