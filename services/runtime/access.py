"""Request ids, the access log and request latency: one pure ASGI middleware around every HTTP
request of a service.

A request keeps the ``X-Request-ID`` its client sent when that is a fit id (``accepted_request_id``)
and gets a new one otherwise; the id is bound to every log line written while the request is
handled and returned in the response's ``X-Request-ID``. When the request is done, one access
line says method, route template, status and duration — never the raw path, the query string or
the body, any of which may hold what a client should not have sent (a BSN in a query, say).
The same status and clock feed ``schakel_http_request_duration_seconds``, by route template too.
Pure ASGI rather than ``BaseHTTPMiddleware``, which runs every request through an extra task group
and memory streams: this sits on every request, streams included.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from prometheus_client import CollectorRegistry, Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bound_contextvars

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
MAX_REQUEST_ID_LENGTH = 128
# Letters, digits and the separators of UUIDs, ULIDs and the ids proxies make; nothing that could
# break a log line, a header or a shell (no spaces, quotes, control characters).
_FIT_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:+/=-]{{1,{MAX_REQUEST_ID_LENGTH}}}")
# Probed every few seconds by Prometheus and orchestrators: their lines are DEBUG, not INFO.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
# Streams stay open for hours and /metrics is scraped every few seconds: neither says how fast we answer.
UNTIMED_ROUTES = frozenset({"/metrics", "/v1/alerts/stream", "/v1/live"})
UNMATCHED = "unmatched"


def accepted_request_id(value: str | None) -> str | None:
    """``value`` when it is fit to be a request id: 1 to 128 safe characters; otherwise None."""
    if value is None or not _FIT_REQUEST_ID.fullmatch(value):
        return None
    return value


def new_request_id() -> str:
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The path template the router matched (``/v1/referrals/{referral_id}``), never the raw path."""
    return getattr(scope.get("route"), "path", None) or UNMATCHED


class AccessLog:
    """Installed once by ``create_app``, outside the edge guard, so refusals at the edge are logged
    and timed too."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.latency = Histogram(
            "schakel_http_request_duration_seconds",
            "HTTP request latency by route and status.",
            ["method", "route", "status"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accepted_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER)) or new_request_id()
        status = 500  # what the client gets when the app raises before it answers
        started = time.perf_counter()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_request_id)
            finally:
                seconds = time.perf_counter() - started
                route = route_template(scope)
                _log_request(scope, route, status, seconds)
                if route not in UNTIMED_ROUTES:
                    self.latency.labels(scope["method"], route, str(status)).observe(seconds)


def _log_request(scope: Scope, route: str, status: int, seconds: float) -> None:
    duration_ms = round(seconds * 1000, 1)
    level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
    log.log(
        level,
        "%s %s %d %.1f ms",
        scope["method"],
        route,
        status,
        duration_ms,
        extra={"method": scope["method"], "route": route, "status": status, "duration_ms": duration_ms},
    )
