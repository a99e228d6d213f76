"""Specification of the Kafka headers an event gets in the outbox: its CloudEvents ids, one
correlation id, and the trace context of the transaction that wrote it; and of when spans leave
the process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased
from opentelemetry.trace import SpanKind

from contracts.envelope import Envelope
from contracts.intake import ReferralReceived
from services.runtime import tracing
from services.runtime.outbox import event_headers, stored_headers

TOPIC = "intake.events.v1"
CLIENT_REF = "c" * 64


def _referral() -> Envelope:
    return Envelope.wrap(
        ReferralReceived.model_validate(
            {
                "referral_id": "5d4f3c1e-7a0b-4c3b-9a57-8c9d2e1f0a11",
                "client_ref": CLIENT_REF,
                "age": 14,
                "municipality_code": "0402",
                "referrer_type": "02",
                "referrer_agb": "01234567",
                "product_category": "46",
                "settings": ["crisisplek"],
                "urgency": "crisis",
                "ambulant_tried": True,
                "needs_gemeente_decision": False,
                "received_at": "2026-11-30T06:00:00+00:00",
            }
        ),
        source="intake",
    )


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Spans as a process that exports them makes them."""
    exporter = InMemorySpanExporter()
    tracing.setup("unit").add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_exporting", True)
    yield exporter
    exporter.shutdown()  # drops later spans; the processor stays but costs nothing


def _traceparent(headers: dict[str, str]) -> tuple[str, str]:
    version, trace_id, span_id, flags = headers["traceparent"].split("-")
    assert version == "00" and int(flags, 16) & 1, "a sampled W3C traceparent"
    return trace_id, span_id


def test_the_correlation_id_headers_equal_the_envelopes() -> None:
    envelope = _referral()
    headers = event_headers(envelope)
    assert headers["ce_correlationid"] == headers["correlation_id"] == str(envelope.correlationid)
    assert headers["ce_id"] == str(envelope.id) and headers["ce_type"] == envelope.type


def test_an_event_created_in_a_request_carries_that_requests_trace(spans: InMemorySpanExporter) -> None:
    envelope = _referral()
    with trace.get_tracer("test").start_as_current_span("POST /v1/referrals", kind=SpanKind.SERVER) as request:
        headers = event_headers(envelope)
        tracing.record_creation(TOPIC, envelope, headers)
    trace_id, span_id = _traceparent(headers)
    assert trace_id == format(request.get_span_context().trace_id, "032x")
    [create] = [s for s in spans.get_finished_spans() if s.name == f"{TOPIC} create"]
    # The message's context is its creation span, a child of the request.
    assert format(create.context.span_id, "016x") == span_id
    assert create.parent is not None and create.parent.span_id == request.get_span_context().span_id
    assert create.attributes is not None
    assert create.attributes["cloudevents.event_id"] == str(envelope.id)
    assert create.attributes["messaging.message.conversation_id"] == str(envelope.correlationid)


def test_no_payload_value_reaches_a_span(spans: InMemorySpanExporter) -> None:
    envelope = _referral()
    tracing.record_creation(TOPIC, envelope, event_headers(envelope))
    [create] = [s for s in spans.get_finished_spans() if s.name == f"{TOPIC} create"]
    assert create.attributes is not None
    recorded = json.dumps(dict(create.attributes))
    assert CLIENT_REF not in recorded and "01234567" not in recorded and "0402" not in recorded


def test_an_event_created_outside_any_trace_starts_one(spans: InMemorySpanExporter) -> None:
    envelope = _referral()
    headers = event_headers(envelope)
    tracing.record_creation(TOPIC, envelope, headers)
    trace_id, _ = _traceparent(headers)
    [create] = [s for s in spans.get_finished_spans() if s.name == f"{TOPIC} create"]
    assert create.parent is None and format(create.context.trace_id, "032x") == trace_id


def test_the_relays_publish_span_joins_the_stored_trace(spans: InMemorySpanExporter) -> None:
    envelope = _referral()
    headers = event_headers(envelope)
    tracing.record_creation(TOPIC, envelope, headers)
    row = {"headers": json.dumps(headers), "payload": envelope.to_bytes()}
    tracing.end_publish(tracing.start_publish(TOPIC, stored_headers(row), envelope.type, str(envelope.id)))
    [publish] = [s for s in spans.get_finished_spans() if s.name == f"{TOPIC} publish"]
    assert format(publish.context.trace_id, "032x") == _traceparent(headers)[0]
    assert publish.parent is not None and format(publish.parent.span_id, "016x") == _traceparent(headers)[1]


def test_while_nothing_exports_an_event_carries_the_current_trace_without_spans_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter = InMemorySpanExporter()
    tracing.setup("unit").add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_exporting", False)
    envelope = _referral()
    with trace.get_tracer("test").start_as_current_span("POST /v1/referrals", kind=SpanKind.SERVER) as request:
        in_request = event_headers(envelope)
        tracing.record_creation(TOPIC, envelope, in_request)
    assert _traceparent(in_request) == (
        format(request.get_span_context().trace_id, "032x"),
        format(request.get_span_context().span_id, "016x"),
    )
    by_timer = event_headers(envelope)
    tracing.record_creation(TOPIC, envelope, by_timer)
    assert _traceparent(by_timer)[0] != _traceparent(in_request)[0], "outside a trace: one of its own"
    tracing.end_publish(tracing.start_publish(TOPIC, in_request, envelope.type, str(envelope.id)))
    assert [s.name for s in exporter.get_finished_spans()] == ["POST /v1/referrals"]


def test_a_row_from_before_stored_headers_gets_its_cloudevents_headers_from_its_payload() -> None:
    envelope = _referral()
    headers = stored_headers({"headers": None, "payload": envelope.to_bytes()})
    assert headers == event_headers(envelope)
    assert "traceparent" not in headers


def test_exporting_is_off_unless_configured() -> None:
    assert tracing.span_exporters({}) == []
    assert tracing.span_exporters({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}) == []
    [otlp] = tracing.span_exporters({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert type(otlp).__name__ == "OTLPSpanExporter"
    assert [type(e).__name__ for e in tracing.span_exporters({"OTEL_TRACES_EXPORTER": "console"})] == [
        "ConsoleSpanExporter"
    ]
    with pytest.raises(ValueError, match="use otlp, console or none"):
        tracing.span_exporters({"OTEL_TRACES_EXPORTER": "jaeger"})
    with pytest.raises(ValueError, match="http/protobuf"):
        tracing.span_exporters({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})


def test_a_background_query_starts_no_trace_but_a_query_inside_one_is_kept() -> None:
    sampler = ParentBased(tracing.TracesStartAtEntrypoints(ALWAYS_ON))
    assert sampler.should_sample(None, 1, "SELECT", SpanKind.CLIENT).decision is Decision.DROP
    assert sampler.should_sample(None, 1, "POST /v1/referrals", SpanKind.SERVER).decision is Decision.RECORD_AND_SAMPLE
    parent = trace.set_span_in_context(
        trace.NonRecordingSpan(
            trace.SpanContext(
                trace_id=1, span_id=2, is_remote=False, trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED)
            )
        )
    )
    assert sampler.should_sample(parent, 1, "SELECT", SpanKind.CLIENT).decision is Decision.RECORD_AND_SAMPLE


def test_every_service_names_itself_in_its_resource() -> None:
    resource = tracing.setup("unit").resource
    # Made once per process: a later service in the same process (a test) keeps the first name.
    assert str(resource.attributes["service.name"]).startswith("schakel-")
    assert tracing.setup("other") is tracing.setup("unit")


async def test_a_request_continues_its_callers_trace_while_nothing_exports() -> None:
    seen: list[trace.SpanContext] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(trace.get_current_span().get_span_context())

    tracing.setup("unit")
    caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    headers = [(b"traceparent", caller.encode())]
    await tracing.RequestSpans(app)(
        {"type": "http", "method": "POST", "path": "/v1/referrals", "headers": headers}, None, None
    )
    await tracing.RequestSpans(app)({"type": "http", "method": "GET", "path": "/metrics", "headers": []}, None, None)
    request, probe = seen
    assert format(request.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736" and request.is_valid
    assert request.span_id != 0x00F067AA0BA902B7  # a span of its own, child of the caller's
    assert not probe.is_valid  # probes make no trace
