"""One log format for a whole service process: every line, ours and our libraries', one JSON object.

Our code logs through the standard library (``logging.getLogger(__name__)``); so do uvicorn,
FastStream and aiokafka. ``configure_logging`` puts one structlog ``ProcessorFormatter`` on the
root logger, so each record — whoever wrote it — gets the same fields: ``timestamp`` (UTC, ISO
8601), ``level``, ``logger``, ``message``, ``service``, and when known the ``request_id`` of the
HTTP request, the ``event_id``, ``event_type`` and ``correlation_id`` of the Kafka event being
applied, and the ``trace_id``/``span_id`` of the current OpenTelemetry span. The ids come from
context variables bound for the length of a request or an event, never passed by hand.

Never log a BSN, name or birth date: no field here is filled from a request or event body.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from contracts.envelope import EventAttributes

try:  # OpenTelemetry is optional: without it, or outside a span, lines simply carry no trace id.
    from opentelemetry import trace as otel_trace
except ImportError:  # pragma: no cover - depends on the environment
    otel_trace = None  # type: ignore[assignment]

LogFormat = Literal["json", "console"]

# The fields a line starts with, in this order (those it has); the rest follow as they came.
LEADING_FIELDS = (
    "timestamp",
    "level",
    "logger",
    "message",
    "service",
    "request_id",
    "event_id",
    "event_type",
    "correlation_id",
    "trace_id",
    "span_id",
)
# ``extra={...}`` fields of a standard-library record that become fields of the line: the access log's
# and FastStream's (which passes topic, group and message id). Any other extra stays out.
EXTRA_FIELDS = ("method", "route", "status", "duration_ms", "topic", "group_id", "message_id")
# Libraries that install a handler of their own or stop propagation; their records go to the root instead.
CAPTURED_LOGGERS = ("uvicorn", "uvicorn.error", "faststream")


def add_trace_context(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Add ``trace_id`` and ``span_id`` of the current OpenTelemetry span, when there is one."""
    if otel_trace is None:
        return event_dict
    context = otel_trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


def add_service(service: str) -> Processor:
    def processor(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    return processor


def leading_fields_first(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The common fields first, so a line reads well before it is parsed; empty ones left out."""
    leading = {key: event_dict.pop(key) for key in LEADING_FIELDS if key in event_dict}
    return {
        key: value for key, value in {**leading, **event_dict}.items() if key == "message" or value not in (None, "")
    }


def shared_processors(service: str) -> list[Processor]:
    """What every line goes through, whether a standard-library record or a structlog call."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(allow=EXTRA_FIELDS),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_service(service),
        add_trace_context,
        structlog.processors.EventRenamer("message"),
    ]


def formatter(service: str, log_format: LogFormat) -> structlog.stdlib.ProcessorFormatter:
    """The ``logging.Formatter`` that renders every record of the process as ``log_format``."""
    renderer: list[Processor]
    if log_format == "json":
        renderer = [structlog.processors.format_exc_info, leading_fields_first, structlog.processors.JSONRenderer()]
    else:
        # Plain tracebacks: the default one shows local variables, and those may hold personal data.
        renderer = [
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), event_key="message", exception_formatter=structlog.dev.plain_traceback
            )
        ]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors(service),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )


def configure_logging(service: str, level: str, log_format: LogFormat = "json") -> None:
    """Send every log record of this process, at ``level`` and up, to stderr as ``log_format``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(service, log_format))
    # On the handler too: FastStream sets its own logger to INFO, and its two lines per consumed
    # event bypassed a higher level set on the root (issue 13: CPU beside intake's load).
    handler.setLevel(level)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning is a line like any other
    for name in CAPTURED_LOGGERS:
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    # aiokafka reports every failed reconnect at ERROR; one warning of ours per retry is enough.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    # httpx logs every request URL at INFO; a webhook URL can carry its receiver's token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # A structlog logger, should code want one, renders through the same formatter.
    structlog.configure(
        processors=[*shared_processors(service), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def event_fields(envelope: EventAttributes) -> dict[str, str]:
    """The ids of an event that its log lines carry: never its data."""
    return {"event_id": str(envelope.id), "event_type": envelope.type, "correlation_id": str(envelope.correlationid)}


@contextmanager
def event_context(envelope: EventAttributes) -> Iterator[None]:
    """Every line logged while ``envelope`` is handled carries its ids; afterwards they are gone."""
    with structlog.contextvars.bound_contextvars(**event_fields(envelope)):
        yield
