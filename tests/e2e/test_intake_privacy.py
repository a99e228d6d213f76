"""No BSN, name or birth date leaves intake: not on any topic (dead letters included), not in its
log, not in its metrics — after every step of the lifecycle, run against the real process."""

from __future__ import annotations

import json

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from contracts import topics
from contracts.capacity import PlacementConfirmed
from contracts.envelope import Envelope
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import TopicReader, produce
from tests.support.polling import eventually
from tests.support.processes import ARTIFACTS, create_key, service_process
from tests.support.server import free_port

BSNS = ("111222333", "123456782")
BIRTH_DATES = ((2012, 5, 1), (2009, 7, 3))
NAME = "Voorbeeld-Jansen"
LOG = "e2e-intake-privacy"
REFUSED_REQUEST_ID = "privacy-refused-1"
REFUSED_BIRTH_DATE = "1990-01-01"


def forbidden_strings() -> list[str]:
    needles = [NAME]
    for bsn in BSNS:
        needles += [bsn, f"{bsn[:3]} {bsn[3:6]} {bsn[6:]}", f"{bsn[:4]}.{bsn[4:6]}.{bsn[6:]}"]
    months = [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ]
    for y, m, d in BIRTH_DATES:
        needles += [
            f"{y}-{m:02}-{d:02}",
            f"{d:02}-{m:02}-{y}",
            f"{d}-{m}-{y}",
            f"{d:02}/{m:02}/{y}",
            f"{d}/{m}/{y}",
            f"{m:02}/{d:02}/{y}",
            f"{y}/{m:02}/{d:02}",
            f"{y}{m:02}{d:02}",
            f"{d:02}{m:02}{y}",
            f"{d:02}.{m:02}.{y}",
            f"{d} {months[m - 1]} {y}",
        ]
    return needles


def leaks(text: str) -> list[str]:
    return [needle for needle in forbidden_strings() if needle in text]


@pytest.fixture
def env(infra: Infrastructure, isolation: Isolation) -> dict[str, str]:
    # DEBUG: the most the service will ever write to its log.
    return {**isolation.env(infra), "SCHAKEL_LOG_LEVEL": "DEBUG"}


async def _whole_lifecycle(http: httpx.AsyncClient, intake: str, env: dict[str, str]) -> int:
    """Referral → toewijzing → start → end; a second youth withdrawn; a request refused; returns events made."""

    def key(role: str, subject: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {create_key(role, subject, env)}"}

    gp, gemeente, provider = key("referrer", "02:01234567"), key("gemeente", "0402"), key("provider", "87654321")
    (y1, m1, d1), (y2, m2, d2) = BIRTH_DATES

    async def post(path: str, headers: dict, body: dict, expect: int = 200) -> dict:  # type: ignore[type-arg]
        response = await http.post(f"{intake}{path}", headers=headers, json=body)
        assert response.status_code == expect, response.text
        return response.json()

    first = await post(
        "/v1/referrals",
        gp,
        {
            "client": {
                "bsn": BSNS[0],
                "birth_date": f"{y1}-{m1:02}-{d1:02}",
                "municipality_code": "0402",
                "name": NAME,
            },
            "referrer": {"type": "02", "agb": "01234567"},
            "product_category": "43",
            "settings": ["gezinshuis", "residentieel"],
            "urgency": "spoed",
            "ambulant_tried": True,
        },
        201,
    )
    allocation = await post(
        f"/v1/referrals/{first['referral_id']}/allocations",
        gemeente,
        {
            "provider_agb": "87654321",
            "product_category": "43",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "budget": 5_000_000,
        },
        201,
    )
    await post(f"/v1/allocations/{allocation['allocation_id']}/start", provider, {"start_date": "2026-01-10"})
    await post(
        f"/v1/allocations/{allocation['allocation_id']}/end", provider, {"end_date": "2026-02-10", "reason": "34"}
    )

    second = await post(
        "/v1/referrals",
        provider,
        {
            "client": {
                "bsn": BSNS[1],
                "birth_date": f"{y2}-{m2:02}-{d2:02}",
                "municipality_code": "0402",
                "name": NAME,
            },
            "referrer": {"type": "02", "agb": "01234567"},
            "product_category": "45",
            "urgency": "regulier",
            "ambulant_tried": False,
        },
        201,
    )
    request = await post(
        "/v1/allocation-requests",
        provider,
        {
            "referral_id": second["referral_id"],
            "product_category": "45",
            "start_date": "2026-01-01",
            "end_date": "2026-03-31",
            "budget": 100_000,
        },
        201,
    )
    await post(f"/v1/allocation-requests/{request['request_id']}/rejection", gemeente, {"reason": "6"})
    other = await post(
        f"/v1/referrals/{second['referral_id']}/allocations",
        gemeente,
        {
            "provider_agb": "87654321",
            "product_category": "45",
            "start_date": "2026-01-01",
            "end_date": "2026-03-31",
            "budget": 100_000,
        },
        201,
    )
    await post(f"/v1/allocations/{other['allocation_id']}/withdrawal", gemeente, {"reason": "13"})
    await post(f"/v1/referrals/{second['referral_id']}/withdrawal", gp, {"reason": "verhuisd"})
    # Refused input must not reach the log either.
    await post(
        "/v1/referrals",
        {**gp, "X-Request-ID": REFUSED_REQUEST_ID},
        {
            "client": {"bsn": BSNS[0], "birth_date": REFUSED_BIRTH_DATE, "municipality_code": "0402", "name": NAME},
            "referrer": {"type": "02", "agb": "01234567"},
            "product_category": "45",
            "urgency": "regulier",
            "ambulant_tried": False,
        },
        422,
    )
    return 10


async def _every_record(infra: Infrastructure, isolation: Isolation, intake_events: int) -> list:  # type: ignore[type-arg]
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(isolation.namespace + ".")]
    finally:
        await admin.close()
    dlq = isolation.topic(topics.dead_letter(topics.CAPACITY_EVENTS))
    assert isolation.topic(topics.INTAKE_EVENTS) in names and dlq in names
    async with TopicReader(infra.kafka, *names) as reader:
        return await reader.until(
            lambda rs: (
                sum(r.topic.endswith(topics.INTAKE_EVENTS) for r in rs) >= intake_events
                and any(r.topic == dlq for r in rs)
            ),
            what="every intake event and the dead letter",
        )


async def test_no_bsn_name_or_birth_date_on_any_topic_in_the_log_or_in_metrics(
    env: dict[str, str], infra: Infrastructure, isolation: Isolation
) -> None:
    with service_process("intake", free_port(), env, LOG) as intake:
        async with httpx.AsyncClient(timeout=30) as http:

            async def ready() -> bool:
                return (await http.get(f"{intake}/readyz")).status_code == 200

            await eventually(ready, timeout=60, what="intake ready")
            events = await _whole_lifecycle(http, intake, env)
            # A placement for an unknown referral (logged) and a poison message (dead-lettered).
            placed = PlacementConfirmed(
                placement_id="00000000-0000-4000-8000-000000000009",
                referral_id="00000000-0000-4000-8000-000000000008",
                client_ref="b" * 64,
                provider_agb="87654321",
                setting="gezinshuis",
                confirmed_at="2026-01-02T10:00:00Z",
            )
            capacity_topic = isolation.topic(topics.CAPACITY_EVENTS)
            placed_event = Envelope.wrap(placed, source="capacity")
            await produce(infra.kafka, capacity_topic, placed_event.to_bytes())
            await produce(infra.kafka, capacity_topic, b"not an event")
            records = await _every_record(infra, isolation, events)
            metrics = (await http.get(f"{intake}/metrics")).text

    assert len({r.topic for r in records}) >= 3
    for record in records:
        text = b" ".join([record.key or b"", record.value, *(v.encode() for v in record.headers.values())])
        assert leaks(text.decode(errors="replace")) == [], f"{record.topic}@{record.offset} leaks personal data"
    assert leaks(metrics) == []
    log = (ARTIFACTS / f"{LOG}.log").read_text()
    assert "dead letters" in log  # the log was captured and has content worth scanning
    assert leaks(log) == [] and REFUSED_BIRTH_DATE not in log
    _every_line_is_json_with_its_ids(log, unknown_referral_event=placed_event)


def _every_line_is_json_with_its_ids(log: str, unknown_referral_event: Envelope) -> None:
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert all(
        line["service"] == "intake" and {"timestamp", "level", "logger", "message"} <= line.keys() for line in lines
    )
    access = [line for line in lines if line["logger"] == "services.runtime.access"]
    assert all(line["request_id"] and "?" not in line["route"] for line in access)
    # The refused referral: its access line, with the template and status, and none of its input.
    [refused] = [line for line in access if line["request_id"] == REFUSED_REQUEST_ID]
    assert (refused["method"], refused["route"], refused["status"]) == ("POST", "/v1/referrals", 422)
    assert len({line["request_id"] for line in access}) >= 10
    # The warning about a placement intake does not know names the event it came with.
    [warning] = [line for line in lines if "which intake does not know" in line["message"]]
    assert warning["event_id"] == str(unknown_referral_event.id)
    assert warning["event_type"] == unknown_referral_event.type
    assert warning["correlation_id"] == str(unknown_referral_event.correlationid)


def test_the_scanner_finds_each_format() -> None:
    assert leaks("born 01/05/2012") == ["01/05/2012"]
    assert leaks("bsn 1112.22.333") == ["1112.22.333"]
    assert leaks("3 juli 2009") == ["3 juli 2009"]
    assert leaks("20120501") == ["20120501"]
