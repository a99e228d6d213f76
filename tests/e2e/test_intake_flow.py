"""Intake as a real process: a crisis referral reaches the intake topic with what capacity needs."""

from __future__ import annotations

import httpx

from contracts import topics
from contracts.envelope import decode
from contracts.intake import ReferralReceived
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import TopicReader
from tests.support.polling import eventually
from tests.support.processes import create_key, service_process
from tests.support.server import free_port


async def test_a_crisis_referral_is_published_for_capacity_to_open_a_placement(
    env: dict[str, str], infra: Infrastructure, isolation: Isolation
) -> None:
    jeugdarts = {"Authorization": f"Bearer {create_key('referrer', '03:01234567', env)}"}
    with service_process("intake", free_port(), env, "e2e-intake-flow") as intake:
        async with httpx.AsyncClient(timeout=30) as http:

            async def ready() -> bool:
                return (await http.get(f"{intake}/readyz")).status_code == 200

            await eventually(ready, timeout=60, what="intake ready")
            response = await http.post(
                f"{intake}/v1/referrals",
                headers=jeugdarts,
                json={
                    "client": {"bsn": "123456782", "birth_date": "2010-02-14", "municipality_code": "1942"},
                    "referrer": {"type": "03", "agb": "01234567"},
                    "product_category": "46",
                    "setting": "crisisplek",
                    "settings": ["pleegzorg"],
                    "urgency": "crisis",
                    "ambulant_tried": False,
                },
            )
            assert response.status_code == 201, response.text
            created = response.json()

        async with TopicReader(infra.kafka, isolation.topic(topics.INTAKE_EVENTS)) as reader:
            [record] = await reader.until(lambda rs: len(rs) >= 1, what="ReferralReceived")

    envelope, event = decode(record.value)
    assert isinstance(event, ReferralReceived)
    assert record.key == created["referral_id"].encode() == envelope.subject.encode()
    assert str(event.referral_id) == created["referral_id"] and event.client_ref == created["client_ref"]
    assert event.settings == ["crisisplek", "pleegzorg"] and event.urgency == "crisis"
    assert (event.municipality_code, event.product_category, event.age) == ("1942", "46", 16)
    assert event.ambulant_tried is False and event.needs_gemeente_decision is True
