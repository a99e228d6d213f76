"""A service's log lines: one JSON object each, with the service, the ids bound to the request or
event being handled and the current trace — and nothing from a record's ``extra`` we did not name."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from structlog.contextvars import bound_contextvars, get_contextvars

from contracts.capacity import PlacementConfirmed
from contracts.envelope import Envelope
from services.runtime import logs


class Captured:
    """A logger of its own whose lines go through the service's formatter into a string."""

    def __init__(self, log_format: logs.LogFormat = "json") -> None:
        self.stream = io.StringIO()
        handler = logging.StreamHandler(self.stream)
        handler.setFormatter(logs.formatter("intake", log_format))
        self.logger = logging.getLogger(f"schakel.test.{id(self)}")
        self.logger.handlers = [handler]
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def records(self) -> list[dict]:  # type: ignore[type-arg]
        return [json.loads(line) for line in self.lines()]


@pytest.fixture
def captured() -> Iterator[Captured]:
    yield Captured()


def test_a_line_is_one_json_object_with_utc_time_level_logger_message_and_service(captured: Captured) -> None:
    captured.logger.warning("relay parked %d rows of %s", 2, "intake.events.v1")
    [line] = captured.records()
    assert line["message"] == "relay parked 2 rows of intake.events.v1"
    assert line["level"] == "warning"
    assert line["logger"] == captured.logger.name
    assert line["service"] == "intake"
    assert datetime.fromisoformat(line["timestamp"]).utcoffset() == UTC.utcoffset(None)
    assert list(line)[:5] == ["timestamp", "level", "logger", "message", "service"]


def test_the_request_id_is_on_lines_inside_its_request_and_gone_after(captured: Captured) -> None:
    with bound_contextvars(request_id="abc-123"):
        captured.logger.info("inside")
    captured.logger.info("after")
    inside, after = captured.records()
    assert inside["request_id"] == "abc-123"
    assert "request_id" not in after


def test_an_event_s_ids_are_on_lines_while_it_is_handled_and_never_its_data(captured: Captured) -> None:
    placed = PlacementConfirmed(
        placement_id="00000000-0000-4000-8000-000000000009",
        referral_id="00000000-0000-4000-8000-000000000008",
        client_ref="b" * 64,
        provider_agb="87654321",
        setting="gezinshuis",
        confirmed_at="2026-01-02T10:00:00Z",
    )
    envelope = Envelope.wrap(placed, source="capacity")
    with logs.event_context(envelope):
        captured.logger.warning("applying failed")
    assert get_contextvars() == {}
    [line] = captured.records()
    assert line["event_id"] == str(envelope.id)
    assert line["event_type"] == envelope.type
    assert line["correlation_id"] == str(envelope.correlationid)
    assert "data" not in line and "b" * 64 not in captured.stream.getvalue()


def test_only_named_extra_fields_are_written(captured: Captured) -> None:
    captured.logger.info("GET /v1/referrals 201", extra={"status": 201, "route": "/v1/referrals", "bsn": "111222333"})
    [line] = captured.records()
    assert line["status"] == 201 and line["route"] == "/v1/referrals"
    assert "bsn" not in line and "111222333" not in captured.stream.getvalue()


def test_empty_fields_are_left_out(captured: Captured) -> None:
    captured.logger.info("Received", extra={"topic": "intake.events.v1", "message_id": ""})
    [line] = captured.records()
    assert line["topic"] == "intake.events.v1" and "message_id" not in line


def test_the_current_span_s_trace_and_span_id_are_on_the_line(captured: Captured) -> None:
    context = SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
        span_id=0x00F067AA0BA902B7,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    with trace.use_span(NonRecordingSpan(context)):
        captured.logger.info("in a span")
    captured.logger.info("outside any span")
    inside, outside = captured.records()
    assert (inside["trace_id"], inside["span_id"]) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    assert "trace_id" not in outside and "span_id" not in outside


def test_without_opentelemetry_lines_simply_carry_no_trace(captured: Captured, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "otel_trace", None)
    captured.logger.info("no tracing installed")
    [line] = captured.records()
    assert line["message"] == "no tracing installed" and "trace_id" not in line


def test_an_exception_stays_on_one_line(captured: Captured) -> None:
    try:
        raise ValueError("the handler failed")
    except ValueError:
        captured.logger.exception("after-commit hook failed")
    [line] = captured.lines()
    record = json.loads(line)
    assert "ValueError: the handler failed" in record["exception"]


def test_console_format_is_for_people() -> None:
    console = Captured("console")
    with bound_contextvars(request_id="abc-123"):
        console.logger.info("intake connected to Kafka")
    [line] = console.lines()
    assert "intake connected to Kafka" in line and "request_id=abc-123" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_a_library_that_sets_its_own_logger_to_info_logs_nothing_below_the_services_level(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    chatty = logging.getLogger("schakel.test.chatty-library")
    chatty.setLevel(logging.INFO)  # as FastStream does with its own logger
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    try:
        logs.configure_logging("capacity", "WARNING")
        chatty.info("Received")
        chatty.warning("could not commit the offset")
    finally:
        root.handlers, root.level = handlers, level
        logging.captureWarnings(False)
        structlog.reset_defaults()
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == ["could not commit the offset"]
