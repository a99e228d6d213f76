"""One referral is one trace: the request at intake, the event it writes to the outbox, the relay's
publish, capacity applying it and the placement request capacity emits in turn, and monitoring
applying both — each service a real process exporting over OTLP/HTTP to a receiver in the test.
On the topics, every message carries that trace's ``traceparent`` and the envelope's correlation id."""

from __future__ import annotations

import json

import httpx

from contracts import topics
from contracts.envelope import Envelope
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import Record, TopicReader
from tests.support.otlp import Collector, ReceivedSpan, otlp_receiver
from tests.support.polling import eventually
from tests.support.processes import bearer, service_process
from tests.support.server import free_port

GP, BSN, BIRTH_DATE = "01234567", "111222333", "2011-06-01"
REFERRAL_RECEIVED = "nl.schakel.intake.ReferralReceived"
PLACEMENT_REQUESTED = "nl.schakel.capacity.PlacementRequested"


def _traced(env: dict[str, str], collector: Collector) -> dict[str, str]:
    # The standard variables an operator sets; a short batch delay so the test need not wait 5 s.
    return {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}


def _matching(spans: list[ReceivedSpan], service: str, name: str, event_type: str | None) -> list[ReceivedSpan]:
    return [
        s
        for s in spans
        if s.service == f"schakel-{service}"
        and s.name == name
        and (event_type is None or s.attributes.get("cloudevents.event_type") == event_type)
    ]


def _one(spans: list[ReceivedSpan], service: str, name: str, event_type: str | None = None) -> ReceivedSpan:
    found = _matching(spans, service, name, event_type)
    assert len(found) == 1, f"expected one {name} ({event_type}) of {service}, found {found}"
    return found[0]


def _traceparent_ids(record: Record) -> tuple[str, str]:
    _version, trace_id, span_id, _flags = record.headers["traceparent"].split("-")
    return trace_id, span_id


async def test_one_referral_is_one_trace_from_intake_through_capacity_to_monitoring(
    env: dict[str, str], infra: Infrastructure, isolation: Isolation
) -> None:
    intake_topic = f"{isolation.namespace}.{topics.INTAKE_EVENTS}"
    capacity_topic = f"{isolation.namespace}.{topics.CAPACITY_EVENTS}"
    with otlp_receiver() as collector:
        traced = _traced(env, collector)
        huisarts = bearer("referrer", f"02:{GP}", env)
        with (
            service_process("intake", free_port(), traced, "e2e-trace-intake") as intake,
            service_process("capacity", free_port(), traced, "e2e-trace-capacity"),
            service_process("monitoring", free_port(), traced, "e2e-trace-monitoring"),
        ):
            async with httpx.AsyncClient(timeout=30) as http:
                response = await http.post(
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
                )
            assert response.status_code == 201, response.text

            expected = [
                ("intake", "POST /v1/referrals", None),
                ("intake", f"{intake_topic} create", REFERRAL_RECEIVED),
                ("intake", f"{intake_topic} publish", REFERRAL_RECEIVED),
                ("capacity", f"{intake_topic} process", REFERRAL_RECEIVED),
                ("capacity", f"{capacity_topic} create", PLACEMENT_REQUESTED),
                ("capacity", f"{capacity_topic} publish", PLACEMENT_REQUESTED),
                ("monitoring", f"{intake_topic} process", REFERRAL_RECEIVED),
                ("monitoring", f"{capacity_topic} process", PLACEMENT_REQUESTED),
            ]

            async def every_hop_exported() -> list[ReceivedSpan] | None:
                spans = collector.snapshot()
                return spans if all(_matching(spans, *hop) for hop in expected) else None

            spans = await eventually(every_hop_exported, timeout=60, what="a span of every hop, from every service")

            async with TopicReader(infra.kafka, intake_topic, capacity_topic) as reader:
                records = await reader.until(
                    lambda rs: {json.loads(r.value)["type"] for r in rs} >= {REFERRAL_RECEIVED, PLACEMENT_REQUESTED},
                    what="the referral and the placement request on their topics",
                )

    request = _one(spans, "intake", "POST /v1/referrals")
    trace_id = request.trace_id
    in_trace = [s for s in spans if s.trace_id == trace_id]
    created = _one(in_trace, "intake", f"{intake_topic} create", REFERRAL_RECEIVED)
    published = _one(in_trace, "intake", f"{intake_topic} publish", REFERRAL_RECEIVED)
    at_capacity = _one(in_trace, "capacity", f"{intake_topic} process", REFERRAL_RECEIVED)
    requested = _one(in_trace, "capacity", f"{capacity_topic} create", PLACEMENT_REQUESTED)
    _one(in_trace, "capacity", f"{capacity_topic} publish", PLACEMENT_REQUESTED)
    _one(in_trace, "monitoring", f"{intake_topic} process", REFERRAL_RECEIVED)
    at_monitoring = _one(in_trace, "monitoring", f"{capacity_topic} process", PLACEMENT_REQUESTED)

    # The chain, hop by hop: request → event created in its transaction → relay and consumers.
    assert created.parent_span_id == request.span_id
    assert published.parent_span_id == at_capacity.parent_span_id == created.span_id
    assert requested.parent_span_id == at_capacity.span_id
    assert at_monitoring.parent_span_id == requested.span_id
    # The consumers' queries run inside their message's span, so they are in the trace too.
    assert any(s.service == "schakel-capacity" and s.attributes.get("db.system") == "postgresql" for s in in_trace)

    # kcat's view: every message names the trace and the envelope's own correlation id.
    referral = next(r for r in records if json.loads(r.value)["type"] == REFERRAL_RECEIVED)
    placement = next(r for r in records if json.loads(r.value)["type"] == PLACEMENT_REQUESTED)
    for record, span in ((referral, created), (placement, requested)):
        envelope = Envelope.from_bytes(record.value)
        assert _traceparent_ids(record) == (trace_id, span.span_id)
        assert record.headers["ce_correlationid"] == record.headers["correlation_id"] == str(envelope.correlationid)
        assert record.headers["ce_id"] == str(envelope.id)
    assert Envelope.from_bytes(placement.value).correlationid == Envelope.from_bytes(referral.value).correlationid

    # Nothing personal in any span: no SQL parameters recorded, no BSN or birth date anywhere.
    everything = json.dumps([s.attributes for s in spans], default=lambda raw: raw.decode(errors="replace"))
    assert "db.statement.parameters" not in everything
    assert BSN not in everything and BIRTH_DATE not in everything
