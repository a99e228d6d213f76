"""Intake and contracting as real processes: Open House admission, a toewijzing issued at intake,
and a declaration contracting checks against it — the allocation travelling only over Kafka."""

from __future__ import annotations

from datetime import date, timedelta

import asyncpg
import httpx

from contracts import topics
from contracts.envelope import Envelope
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import TopicReader
from tests.support.polling import eventually
from tests.support.processes import create_key, service_process
from tests.support.server import free_port

AGB = "45678901"
BSN = "111222333"
BIRTH_DATE = "2013-05-01"
TODAY = date.today()
DAY = (TODAY.replace(day=28) + timedelta(days=4)).replace(day=1)  # first of next month: after admission today
LOT = {
    "name": "Ambulant (e2e)",
    "product_categories": ["45"],
    "product_codes": ["45T01"],
    "tariffs": [{"product_code": "45T01", "unit": "04", "eurocent": 8_000, "valid_from": "2020-01-01"}],
    "max_wait_days": 42,
    "requirements": [{"code": "vog", "description": "VOG"}],
    "status": "open",
}


def _key(role: str, subject: str, env: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_key(role, subject, env)}"}


async def _contracting_knows(infra: Infrastructure, isolation: Isolation, allocation_id: str) -> bool:
    conn = await asyncpg.connect(infra.database_url, server_settings={"search_path": f"{isolation.schema}_contracting"})
    try:
        return bool(
            await conn.fetchval("SELECT count(*) FROM allocation WHERE allocation_id = $1::uuid", allocation_id)
        )
    finally:
        await conn.close()


async def test_a_toewijzing_issued_at_intake_is_what_contracting_pays_a_declaration_against(
    env: dict[str, str], infra: Infrastructure, isolation: Isolation
) -> None:
    admin, provider = _key("admin", "inkoop", env), _key("provider", AGB, env)
    gemeente, gp = _key("gemeente", "0402", env), _key("referrer", "02:01234567", env)
    with (
        service_process("intake", free_port(), env, "e2e-contracting-intake") as intake,
        service_process("contracting", free_port(), env, "e2e-contracting") as contracting,
    ):
        async with httpx.AsyncClient(timeout=30) as http:
            (await http.put(f"{contracting}/v1/lots/AMB-E2E", json=LOT, headers=admin)).raise_for_status()
            applied = await http.post(
                f"{contracting}/v1/open-house/applications",
                headers=provider,
                json={
                    "provider_agb": AGB,
                    "kvk": "41234567",
                    "lots": ["AMB-E2E"],
                    "evidence": [{"requirement": "vog", "document_ref": "vog-2026"}],
                },
            )
            assert applied.json()["lots"][0]["outcome"] == "admitted", applied.text

            referral = await http.post(
                f"{intake}/v1/referrals",
                headers=gp,
                json={
                    "client": {"bsn": BSN, "birth_date": BIRTH_DATE, "municipality_code": "0402"},
                    "referrer": {"type": "02", "agb": "01234567"},
                    "product_category": "45",
                    "urgency": "regulier",
                    "ambulant_tried": False,
                },
            )
            assert referral.status_code == 201, referral.text
            allocation = await http.post(
                f"{intake}/v1/referrals/{referral.json()['referral_id']}/allocations",
                headers=gemeente,
                json={
                    "provider_agb": AGB,
                    "product_category": "45",
                    "product_code": "45T01",
                    "start_date": (TODAY - timedelta(days=10)).isoformat(),
                    "end_date": (TODAY + timedelta(days=300)).isoformat(),
                    "volume": 10,
                    "unit": "04",
                    "frequency": "6",
                },
            )
            assert allocation.status_code == 201, allocation.text
            issued = allocation.json()
            await eventually(
                lambda: _contracting_knows(infra, isolation, issued["allocation_id"]),
                timeout=60,
                what="contracting to learn the toewijzing from intake.events.v1",
            )

            def line(number: int, volume: int, day: date) -> dict:
                return {
                    "line_number": number,
                    "allocation_number": issued["allocation_number"],
                    "municipality_code": "0402",
                    "product_category": "45",
                    "product_code": "45T01",
                    "period_start": day.isoformat(),
                    "period_end": day.isoformat(),
                    "volume": volume,
                    "unit": "04",
                    "tariff": 8_000,
                    "amount": volume * 8_000,
                }

            response = await http.post(
                f"{contracting}/v1/declarations",
                headers=provider,
                json={
                    "declaration_number": "E2E-1",
                    "provider_agb": AGB,
                    "municipality_code": "0402",
                    "period_start": DAY.isoformat(),
                    "period_end": DAY.isoformat(),
                    "lines": [line(1, 8, DAY), line(2, 3, DAY + timedelta(days=1))],
                },
            )
            assert response.status_code == 201, response.text
            answer = response.json()

    assert [ln["return_codes"] for ln in answer["lines"]] == [["8001"], ["9321"]]
    assert answer["lines"][1]["rejections"][0]["contact"] == "consulent"
    assert (answer["approved_amount"], answer["rejected_amount"]) == (64_000, 24_000)
    async with TopicReader(infra.kafka, isolation.topic(topics.CONTRACTING_EVENTS)) as reader:
        records = await reader.until(
            lambda rs: any(b"DeclarationAssessed" in r.value for r in rs), what="DeclarationAssessed"
        )
    assessed = Envelope.from_bytes(next(r.value for r in records if b"DeclarationAssessed" in r.value))
    assert assessed.data["lines"][0]["allocation_id"] == issued["allocation_id"]
    # Who the youth is never reaches contracting's topic.
    assert not [r for r in records if BSN.encode() in r.value or BIRTH_DATE.encode() in r.value]
