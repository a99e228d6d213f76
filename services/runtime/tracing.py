"""OpenTelemetry for every service: one tracer provider per process, and the W3C trace context an
event carries from the transaction that wrote it, through the outbox and Kafka, to every consumer.

Spans are always made, so every event leaves with a ``traceparent`` and logs can name their trace;
they leave the process only when exporting is configured with the standard variables
(``OTEL_TRACES_EXPORTER``, ``OTEL_EXPORTER_OTLP_ENDPOINT``; docs/operations.md, "Traces"). The
one span per SQL statement is made only then: nobody could see it otherwise.
Nothing personal goes into a span: SQL is recorded without its parameters, HTTP without bodies
or headers, events by id, type and subject (an aggregate id), never by content.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes
from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.envelope import Envelope, EventAttributes

# W3C TraceContext only (traceparent, tracestate): baggage would carry whatever a caller put in
# it onto every topic, where it is kept for ever.
PROPAGATOR = TraceContextTextMapPropagator()
TRACER_NAME = "services.runtime.tracing"

_provider: TracerProvider | None = None
# Whether spans leave this process; unknown (so assumed) when someone else set the provider up.
_exporting = True
# Probed every few seconds by orchestrators and Prometheus: no trace of their own.
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class TracesStartAtEntrypoints(Sampler):
    """Samples a trace that starts at a request, a consumed message or an event being created;
    drops one that would start at a database call of a background loop (the relay's poll, a
    timer's scan), which would otherwise send a one-span trace every few seconds."""

    def __init__(self, root: Sampler = ALWAYS_ON) -> None:
        self._root = root

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return self._root.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"TracesStartAtEntrypoints{{{self._root.get_description()}}}"


def span_exporters(env: Mapping[str, str]) -> list[SpanExporter]:
    """The exporters the standard variables ask for; none unless asked.

    Unlike the SDK's own default (``otlp``), an unset ``OTEL_TRACES_EXPORTER`` exports only when
    an OTLP endpoint is named: a service must not spend its time sending to a collector nobody runs.
    """
    named = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not named:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        named = "otlp" if endpoint else "none"
    exporters: list[SpanExporter] = []
    for choice in (c.strip() for c in named.split(",")):
        if choice == "none":
            continue
        if choice == "otlp":
            protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            if protocol not in (None, "", "http/protobuf"):
                raise ValueError(f"OTLP protocol {protocol!r} is not installed: use http/protobuf")
            # Imported only when used; it reads the OTEL_EXPORTER_OTLP_* variables itself.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())
        elif choice == "console":
            exporters.append(ConsoleSpanExporter())
        else:
            raise ValueError(f"OTEL_TRACES_EXPORTER={named!r}: use otlp, console or none")
    return exporters


def setup(service: str) -> TracerProvider:
    """The process's tracer provider, made and installed on first call (resource
    ``service.name=schakel-<service>``), with asyncpg instrumented; later calls return the same."""
    global _provider, _exporting
    if _provider is not None:
        return _provider
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):  # someone (an OpenTelemetry distro) set one up already
        _provider = current
        return current
    # A sampler named in OTEL_TRACES_SAMPLER wins; the SDK reads it when given none.
    sampler = None if os.environ.get("OTEL_TRACES_SAMPLER") else ParentBased(TracesStartAtEntrypoints())
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: f"schakel-{service}"}), sampler=sampler)
    exporters = span_exporters(os.environ)
    _exporting = bool(exporters)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    if exporters:
        # A span per SQL statement cost a referral a tenth of its time (py-spy, issue 13), so they are
        # made only when they leave the process. Statements are recorded as written ($1, $2 …);
        # their parameters, which can be a BSN, never.
        AsyncPGInstrumentor(capture_parameters=False).instrument(tracer_provider=provider)
    _provider = provider
    return provider


def exporting() -> bool:
    """Whether the spans of this process are sent anywhere (after ``setup``)."""
    return _exporting


class RequestSpans:
    """Each HTTP request's span context, continuing the caller's ``traceparent``, and nothing more:
    what the events it writes and the lines it logs need while no span leaves the process.

    Used instead of OpenTelemetry's FastAPI instrumentation while nothing exports, which spent a
    tenth of a referral's time on attributes and send spans nobody could see (py-spy, issue 13);
    a span that records nothing, since a recorded one would go nowhere either (2.5 % of a
    referral's time under load, issue 13's third round).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"traceparent", b"tracestate")
        }
        token = otel_context.attach(trace.set_span_in_context(trace.NonRecordingSpan(_request_span_context(carrier))))
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)


def _request_span_context(carrier: dict[str, str]) -> SpanContext:
    """A new span's context: a child of the caller's when it sent a valid one, else a trace's root."""
    caller = trace.get_current_span(PROPAGATOR.extract(carrier)).get_span_context() if carrier else None
    if caller is None or not caller.is_valid:
        return _new_span_context()
    return SpanContext(
        caller.trace_id,
        _IDS.generate_span_id(),
        is_remote=False,
        trace_flags=caller.trace_flags,
        trace_state=caller.trace_state,
    )


def flush() -> None:
    """Send what is buffered; a stopping service calls this so its last spans are not lost."""
    if _provider is not None:
        _provider.force_flush(timeout_millis=5_000)


def _new_span_context() -> SpanContext:
    return SpanContext(_IDS.generate_trace_id(), _IDS.generate_span_id(), is_remote=False, trace_flags=TraceFlags(1))


_IDS = RandomIdGenerator()


@functools.cache
def _tracer() -> trace.Tracer:
    # Once: get_tracer builds a new tracer and instrumentation scope on every call.
    return trace.get_tracer(TRACER_NAME)


def _event_attributes(topic: str, envelope_id: str, event_type: str, operation: str) -> dict[str, Any]:
    return {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.operation.type": operation,
        "messaging.message.id": envelope_id,
        "cloudevents.event_id": envelope_id,
        "cloudevents.event_type": event_type,
    }


def record_creation(topic: str, envelope: Envelope, headers: dict[str, str]) -> None:
    """Mark ``envelope`` created under the current span (a request, a consumed message, a timer)
    and write that creation context into ``headers`` as ``traceparent`` (and ``tracestate``).

    The context travels with the outbox row, so the relay's publish and every consumer's
    processing join the trace of the transaction that wrote the event, however late they run.
    While nothing exports, the event carries the current span's context itself (same trace, one
    level less): a span nobody can see cost a referral 6 % of its time (py-spy, issue 13).
    """
    if not _exporting:
        current = trace.get_current_span()
        if not current.get_span_context().is_valid:  # a timer's event: a trace of its own
            current = trace.NonRecordingSpan(_new_span_context())
        PROPAGATOR.inject(headers, context=trace.set_span_in_context(current))
        return
    attributes = {
        **_event_attributes(topic, str(envelope.id), envelope.type, "create"),
        "messaging.message.conversation_id": str(envelope.correlationid),
        "cloudevents.event_source": envelope.source,
        "cloudevents.event_subject": envelope.subject,
    }
    span = _tracer().start_span(f"{topic} create", kind=SpanKind.PRODUCER, attributes=attributes)
    PROPAGATOR.inject(headers, context=trace.set_span_in_context(span))
    span.end()


def start_publish(topic: str, headers: Mapping[str, str], event_type: str, event_id: str) -> Span:
    """A ``<topic> publish`` span for one outbox row, child of the context stored with it; a
    span that records nothing while nothing exports."""
    if not _exporting:
        return trace.INVALID_SPAN
    return _tracer().start_span(
        f"{topic} publish",
        kind=SpanKind.PRODUCER,
        context=PROPAGATOR.extract(headers),
        attributes=_event_attributes(topic, event_id, event_type, "send"),
    )


def end_publish(span: Span, error: str | None = None) -> None:
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, error[:200]))
    span.end()


@contextlib.contextmanager
def processing(events: Sequence[tuple[str, Mapping[str, str], EventAttributes]], consumer: str) -> Iterator[None]:
    """A ``<topic> process`` span for each event of a batch, in the trace its headers carry, open
    while the batch is applied: FastStream's one span for the whole poll belongs to no event's trace.
    Made only while spans are exported; ``events`` are (topic, headers, envelope)."""
    if not _exporting:
        yield
        return
    spans = [
        _tracer().start_span(
            f"{topic} process",
            kind=SpanKind.CONSUMER,
            context=PROPAGATOR.extract(headers),
            attributes={
                **_event_attributes(topic, str(envelope.id), envelope.type, "process"),
                "messaging.message.conversation_id": str(envelope.correlationid),
                "schakel.consumer": consumer,
            },
        )
        for topic, headers, envelope in events
    ]
    try:
        yield
    except Exception as exc:
        for span in spans:
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:200]))
        raise
    finally:
        for span in spans:
            span.end()


def annotate_consumed(envelope: EventAttributes, consumer: str) -> None:
    """Name the event on the span of the message being handled (FastStream's ``process`` span)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(
            {
                "cloudevents.event_id": str(envelope.id),
                "cloudevents.event_type": envelope.type,
                "messaging.message.conversation_id": str(envelope.correlationid),
                "schakel.consumer": consumer,
            }
        )
