"""Declarations assessed against allocations that arrived as intake's events, on the real broker and database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx

from contracts import topics
from contracts.envelope import Envelope
from contracts.intake import AllocationChanged, AllocationIssued, AllocationWithdrawn
from services.contracting.app import build
from services.contracting.settings import ContractingSettings
from services.runtime.roles import Role
from tests.integration.contracting.conftest import AGB_A, AGB_B, application, events, kinds
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import produce
from tests.support.polling import eventually
from tests.support.server import serving

CLIENT = "f" * 64
PRODUCT, HOUR, TARIFF = "45T01", "04", 8_000
TODAY = date.today()
# Periods lie after the Open House contract starts (today), each within one calendar month.
DAY_1 = (TODAY.replace(day=28) + timedelta(days=4)).replace(day=1)
DAY_2 = DAY_1 + timedelta(days=1)
LOT = {
    "name": "Ambulant (test)",
    "product_categories": ["45"],
    "product_codes": [PRODUCT],
    "tariffs": [{"product_code": PRODUCT, "unit": HOUR, "eurocent": TARIFF, "valid_from": "2020-01-01"}],
    "max_wait_days": 42,
    "requirements": [],
    "status": "open",
}


async def contracted(http: httpx.AsyncClient, url: str, keys, agb: str = AGB_A) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """An admin puts a test lot; the provider is admitted to it. Returns the provider's headers."""
    (await http.put(f"{url}/v1/lots/AMB-TEST", json=LOT, headers=await keys(Role.ADMIN))).raise_for_status()
    provider = await keys(Role.PROVIDER, agb)
    answer = await http.post(
        f"{url}/v1/open-house/applications", headers=provider, json=application(agb, "AMB-TEST", evidence=[])
    )
    assert answer.json()["lots"][0]["outcome"] == "admitted", answer.text
    return provider


def issued(number: int, *, agb: str = AGB_A, gemeente: str = "0402", volume: int = 10) -> Envelope:
    event = AllocationIssued(
        allocation_id=uuid.uuid4(),
        allocation_number=number,
        referral_id=uuid.uuid4(),
        client_ref=CLIENT,
        municipality_code=gemeente,
        provider_agb=agb,
        product_category="45",
        product_code=PRODUCT,
        start_date=TODAY - timedelta(days=30),
        end_date=TODAY + timedelta(days=400),
        volume=volume,
        unit=HOUR,
        frequency="6",
        issued_at=datetime.now(UTC),
    )
    return Envelope.wrap(event, source="intake")


def withdrawn(allocation: Envelope, reason: str = "13") -> Envelope:
    data = allocation.data
    event = AllocationWithdrawn(
        allocation_id=data["allocation_id"],
        referral_id=data["referral_id"],
        municipality_code=data["municipality_code"],
        provider_agb=data["provider_agb"],
        reason=reason,
        effective_date=TODAY,
        withdrawn_at=datetime.now(UTC),
    )
    return Envelope.wrap(event, source="intake")


async def from_intake(infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool, *envelopes: Envelope) -> None:
    """Put intake's events on the test's intake topic and wait until contracting has applied them."""
    for envelope in envelopes:
        await produce(
            infra.kafka, isolation.topic(topics.INTAKE_EVENTS), envelope.to_bytes(), key=envelope.subject.encode()
        )
    ids = [e.id for e in envelopes]
    await eventually(
        lambda: db.fetchval("SELECT count(*) = $1 FROM inbox WHERE event_id = ANY($2::uuid[])", len(ids), ids),
        what="contracting to apply intake's events",
    )


def line(
    number: int, allocation_number: int, *, day: date = DAY_1, volume: int = 8, tariff: int = TARIFF, **changes
) -> dict:  # type: ignore[no-untyped-def]
    return {
        "line_number": number,
        "allocation_number": allocation_number,
        "municipality_code": "0402",
        "product_category": "45",
        "product_code": PRODUCT,
        "period_start": day.isoformat(),
        "period_end": day.isoformat(),
        "volume": volume,
        "unit": HOUR,
        "tariff": tariff,
        "amount": volume * tariff,
    } | changes


def declaration(number: str, *lines: dict, agb: str = AGB_A) -> dict:
    return {
        "declaration_number": number,
        "provider_agb": agb,
        "municipality_code": "0402",
        "period_start": DAY_1.isoformat(),
        "period_end": DAY_1.isoformat(),
        "lines": list(lines),
    }


async def test_a_declaration_is_assessed_against_allocations_that_arrived_from_intake(
    contracting: str,
    keys,
    http,
    infra: Infrastructure,
    isolation: Isolation,
    db: asyncpg.Pool,  # type: ignore[no-untyped-def]
) -> None:
    provider = await contracted(http, contracting, keys)
    # No CareStarted is sent: a missing start message must not reject the line (iJw OP364).
    await from_intake(infra, isolation, db, issued(1001))
    response = await http.post(
        f"{contracting}/v1/declarations", headers=provider, json=declaration("2026-11-001", line(1, 1001), line(2, 999))
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    approved, unknown = answer["lines"]
    assert approved["approved"] is True and approved["return_codes"] == ["8001"]
    assert unknown["return_codes"] == ["9019"] and unknown["approved"] is False
    [why] = unknown["rejections"]
    assert why["rule"] == "allocation-known" and why["contact"] == "consulent" and "999" in why["reason"]
    assert (answer["submitted_amount"], answer["approved_amount"], answer["rejected_amount"]) == (
        16 * TARIFF,
        8 * TARIFF,
        8 * TARIFF,
    )

    envelopes = await events(infra, isolation.topic(topics.CONTRACTING_EVENTS), 4, "the declaration's events")
    submitted, assessed = envelopes[2:]
    assert kinds([submitted, assessed]) == ["DeclarationSubmitted", "DeclarationAssessed"]
    assert assessed.causationid == submitted.id and assessed.subject == answer["declaration_id"]
    assert submitted.data["lines"] == 2 and submitted.data["amount"] == 16 * TARIFF
    assert assessed.data["approved_amount"] == 8 * TARIFF and assessed.data["submitted_amount"] == 16 * TARIFF
    assert [ln["return_codes"] for ln in assessed.data["lines"]] == [["8001"], ["9019"]]
    assert assessed.data["lines"][1]["rejections"][0]["contact"] == "consulent"

    again = await http.get(f"{contracting}/v1/declarations/{answer['declaration_id']}", headers=provider)
    assert again.json() == answer


async def test_a_withdrawn_allocation_is_9384_and_volume_counts_over_earlier_declarations(
    contracting: str,
    keys,
    http,
    infra: Infrastructure,
    isolation: Isolation,
    db: asyncpg.Pool,  # type: ignore[no-untyped-def]
) -> None:
    provider = await contracted(http, contracting, keys)
    never_valid = issued(2002)
    await from_intake(infra, isolation, db, issued(2001, volume=10), never_valid, withdrawn(never_valid))
    first = (
        await http.post(
            f"{contracting}/v1/declarations",
            headers=provider,
            json=declaration("A-1", line(1, 2001, volume=8), line(2, 2002)),
        )
    ).json()
    assert [ln["return_codes"] for ln in first["lines"]] == [["8001"], ["9384"]]
    second = (
        await http.post(
            f"{contracting}/v1/declarations",
            headers=provider,
            json=declaration("A-2", line(1, 2001, day=DAY_2, volume=3)),
        )
    ).json()
    [over] = second["lines"]
    assert over["return_codes"] == ["9321"] and "2 of 10 left" in over["rejections"][0]["reason"]
    third = (
        await http.post(
            f"{contracting}/v1/declarations",
            headers=provider,
            json=declaration("A-3", line(1, 2001, day=DAY_2, volume=2)),
        )
    ).json()
    assert third["lines"][0]["return_codes"] == ["8001"]


async def test_an_identical_repost_is_idempotent_and_other_content_under_the_number_is_a_409(
    contracting: str,
    keys,
    http,
    infra: Infrastructure,
    isolation: Isolation,
    db: asyncpg.Pool,  # type: ignore[no-untyped-def]
) -> None:
    provider = await contracted(http, contracting, keys)
    await from_intake(infra, isolation, db, issued(3001))
    body = declaration("B-1", line(1, 3001))
    first = await http.post(f"{contracting}/v1/declarations", headers=provider, json=body)
    second = await http.post(f"{contracting}/v1/declarations", headers=provider, json=body)
    assert first.status_code == second.status_code == 201 and first.json() == second.json()
    assessed = await db.fetchval("SELECT count(*) FROM outbox WHERE event_type LIKE '%DeclarationAssessed'")
    assert assessed == 1
    changed = await http.post(
        f"{contracting}/v1/declarations", headers=provider, json=declaration("B-1", line(1, 3001, volume=7))
    )
    assert changed.status_code == 409 and "immutable" in changed.json()["detail"]


async def test_a_corrected_line_is_credited_and_declared_again(
    contracting: str,
    keys,
    http,
    infra: Infrastructure,
    isolation: Isolation,
    db: asyncpg.Pool,  # type: ignore[no-untyped-def]
) -> None:
    provider = await contracted(http, contracting, keys)
    await from_intake(infra, isolation, db, issued(4001))
    url = f"{contracting}/v1/declarations"
    await http.post(url, headers=provider, json=declaration("C-1", line(1, 4001, volume=8)))
    stacked = (await http.post(url, headers=provider, json=declaration("C-2", line(1, 4001, volume=2)))).json()
    assert [r["rule"] for r in stacked["lines"][0]["rejections"]] == ["no-stacking"]
    corrected = (
        await http.post(
            url,
            headers=provider,
            json=declaration("C-3", line(1, 4001, volume=8, credit=True), line(2, 4001, volume=6)),
        )
    ).json()
    assert [ln["return_codes"] for ln in corrected["lines"]] == [["8001"], ["8001"]]
    assert (corrected["credited_amount"], corrected["approved_amount"]) == (8 * TARIFF, 6 * TARIFF)
    standing = await db.fetch("SELECT volume FROM booking WHERE credited_by IS NULL")
    assert [r["volume"] for r in standing] == [6]


async def test_a_youth_who_moved_inside_the_region_is_paid_on_the_old_allocation_by_default(
    contracting: str,
    keys,
    http,
    infra: Infrastructure,
    isolation: Isolation,
    db: asyncpg.Pool,  # type: ignore[no-untyped-def]
) -> None:
    provider = await contracted(http, contracting, keys)
    await from_intake(infra, isolation, db, issued(5001, gemeente="0402"))
    # The line names the youth's new gemeente; the declaration goes to the gemeente that allocated the care.
    moved = line(1, 5001, municipality_code="0406", client_ref=CLIENT)
    answer = (
        await http.post(f"{contracting}/v1/declarations", headers=provider, json=declaration("D-1", moved))
    ).json()
    assert answer["lines"][0]["return_codes"] == ["8001"]


async def test_a_line_declared_to_another_gemeente_than_its_allocations_is_refused(
    contracting: str,
    keys,
    http,
    infra: Infrastructure,
    isolation: Isolation,
    db: asyncpg.Pool,  # type: ignore[no-untyped-def]
) -> None:
    provider = await contracted(http, contracting, keys)
    await from_intake(infra, isolation, db, issued(6001, gemeente="0402"))
    # Sent to Huizen, a line of Hilversum's allocation would count in Huizen's spending and figures.
    to_huizen = declaration(
        "H-1",
        line(1, 6001),
        line(2, 6001, municipality_code="0406", client_ref=CLIENT),
        line(3, 6001, municipality_code="0406"),
    ) | {"municipality_code": "0406"}
    response = await http.post(f"{contracting}/v1/declarations", headers=provider, json=to_huizen)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert [ln["return_codes"] for ln in answer["lines"]] == [["9019"]] * 3
    rules_named = [[why["rule"] for why in ln["rejections"]] for ln in answer["lines"]]
    assert rules_named == [["municipality-of-allocation"], ["municipality-of-allocation"], ["allocation-known"]]
    why = answer["lines"][0]["rejections"][0]
    assert why["contact"] == "administratie" and "declare the line to 0402" in why["reason"]
    assert answer["approved_amount"] == 0
    assessed = [
        e
        for e in await events(infra, isolation.topic(topics.CONTRACTING_EVENTS), 4, "the assessment")
        if e.type.endswith("DeclarationAssessed")
    ]
    assert [(e.data["municipality_code"], e.data["approved_amount"]) for e in assessed] == [("0406", 0)]
    assert await db.fetchval("SELECT count(*) FROM booking") == 0

    # Sent to Hilversum, the same line is paid.
    to_hilversum = declaration("V-1", line(1, 6001))
    paid = (await http.post(f"{contracting}/v1/declarations", headers=provider, json=to_hilversum)).json()
    assert paid["lines"][0]["return_codes"] == ["8001"]


async def test_the_rules_are_published_with_return_code_contact_and_whether_they_are_on(
    contracting: str,
    keys,
    http,  # type: ignore[no-untyped-def]
) -> None:
    published = (await http.get(f"{contracting}/v1/declaration-rules", headers=await keys(Role.PROVIDER, AGB_A))).json()
    by_code = {r["code"]: r for r in published}
    assert by_code["tariff"] == by_code["tariff"] | {
        "return_code": "0611",
        "contact": "inkoop_en_contractbeheer",
        "active": True,
    }
    assert by_code["moved-within-region"]["active"] is False and by_code["moved-within-region"]["switchable"]
    assert by_code["allocation-known"]["switchable"] is False
    assert by_code["municipality-of-allocation"] == by_code["municipality-of-allocation"] | {
        "return_code": "9019",
        "switchable": False,
        "active": True,
    }
    assert {r["return_code"] for r in published} >= {
        "9019",
        "9384",
        "9307",
        "9308",
        "0611",
        "9346",
        "9321",
        "9322",
        "9369",
    }


async def test_a_rule_switched_off_by_configuration_no_longer_rejects(
    infra: Infrastructure,
    isolation: Isolation,
    db: asyncpg.Pool,
    keys,
    http,  # type: ignore[no-untyped-def]
) -> None:
    settings = isolation.settings(ContractingSettings, infra, declaration_rules_disabled=frozenset({"tariff"}))
    async with serving(build(settings)) as url:
        provider = await contracted(http, url, keys)
        await from_intake(infra, isolation, db, issued(6001))
        published = (await http.get(f"{url}/v1/declaration-rules", headers=provider)).json()
        assert {r["code"]: r["active"] for r in published}["tariff"] is False
        answer = (
            await http.post(
                f"{url}/v1/declarations", headers=provider, json=declaration("E-1", line(1, 6001, tariff=TARIFF + 500))
            )
        ).json()
    assert answer["lines"][0]["return_codes"] == ["8001"]


async def test_a_provider_declares_and_reads_only_its_own(
    contracting: str,
    keys,
    http,
    infra: Infrastructure,
    isolation: Isolation,
    db: asyncpg.Pool,  # type: ignore[no-untyped-def]
) -> None:
    provider = await contracted(http, contracting, keys)
    await from_intake(infra, isolation, db, issued(7001))
    url = f"{contracting}/v1/declarations"
    assert (
        await http.post(url, headers=await keys(Role.PROVIDER, AGB_B), json=declaration("F-1", line(1, 7001)))
    ).status_code == 403
    assert (
        await http.post(url, headers=await keys(Role.GEMEENTE, "0402"), json=declaration("F-1", line(1, 7001)))
    ).status_code == 403
    answer = (await http.post(url, headers=provider, json=declaration("F-1", line(1, 7001)))).json()
    one = f"{url}/{answer['declaration_id']}"
    assert (await http.get(one, headers=await keys(Role.PROVIDER, AGB_B))).status_code == 404
    assert (await http.get(one, headers=await keys(Role.OPERATOR))).json() == answer
    assert (await http.get(one, headers=await keys(Role.GEMEENTE, "0402"))).status_code == 403


async def test_an_invalid_declaration_is_a_422_naming_the_field(contracting: str, keys, http) -> None:  # type: ignore[no-untyped-def]
    provider = await keys(Role.PROVIDER, AGB_A)
    url = f"{contracting}/v1/declarations"
    backwards = line(1, 1, period_start=DAY_2.isoformat(), period_end=DAY_1.isoformat())
    cases = [
        (declaration("G-1", backwards), "lies before period_start"),
        (declaration("G-1", line(1, 1), line(1, 2)), "line_number must be unique"),
        (declaration("G-1", line(1, 1, unit="99")), "unit"),
        (declaration("G-1", line(1, 1, client_ref="123456782")), "client_ref"),
        (declaration("G 1", line(1, 1)), "declaration_number"),
        (declaration("G-1"), "lines"),
    ]
    for body, field in cases:
        response = await http.post(url, headers=provider, json=body)
        assert response.status_code == 422 and field in response.text, (field, response.text)


async def test_concurrent_declarations_cannot_both_spend_the_same_volume(
    contracting: str,
    keys,
    http,
    infra: Infrastructure,
    isolation: Isolation,
    db: asyncpg.Pool,  # type: ignore[no-untyped-def]
) -> None:
    provider = await contracted(http, contracting, keys)
    await from_intake(infra, isolation, db, issued(8001, volume=10))
    url = f"{contracting}/v1/declarations"
    answers = await asyncio.gather(
        *(
            http.post(url, headers=provider, json=declaration(f"H-{i}", line(1, 8001, day=day, volume=8)))
            for i, day in enumerate((DAY_1, DAY_2, DAY_1 + timedelta(days=2)))
        )
    )
    codes = sorted(a.json()["lines"][0]["return_codes"][0] for a in answers)
    assert codes == ["8001", "9321", "9321"]
    assert await db.fetchval("SELECT sum(volume) FROM booking WHERE credited_by IS NULL") == 8


async def test_a_changed_allocation_is_checked_with_its_new_volume(
    contracting: str,
    keys,
    http,
    infra: Infrastructure,
    isolation: Isolation,
    db: asyncpg.Pool,  # type: ignore[no-untyped-def]
) -> None:
    provider = await contracted(http, contracting, keys)
    original = issued(9001, volume=10)
    data = original.data
    change = AllocationChanged(
        allocation_id=data["allocation_id"],
        allocation_number=9001,
        referral_id=data["referral_id"],
        client_ref=CLIENT,
        municipality_code="0402",
        provider_agb=AGB_A,
        reason="02",
        start_date=data["start_date"],
        end_date=data["end_date"],
        volume=20,
        unit=HOUR,
        frequency="6",
        changed_at=datetime.now(UTC),
    )
    await from_intake(infra, isolation, db, original, Envelope.wrap(change, source="intake"))
    answer = (
        await http.post(
            f"{contracting}/v1/declarations", headers=provider, json=declaration("I-1", line(1, 9001, volume=15))
        )
    ).json()
    assert answer["lines"][0]["return_codes"] == ["8001"]
