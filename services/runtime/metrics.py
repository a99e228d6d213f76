"""Per-service Prometheus registry, HTTP request metrics and the ``/metrics`` exposition."""

from __future__ import annotations

import time

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime.access import route_template

# Streams stay open for hours and /metrics is scraped every few seconds: neither says how fast we answer.
UNTIMED_ROUTES = frozenset({"/metrics", "/v1/alerts/stream", "/v1/live"})


class RequestMetrics:
    """Latency per route template (never the raw path: it may hold ids).

    Pure ASGI rather than ``BaseHTTPMiddleware``, which runs every request through an extra task
    group and memory streams: this sits on every request of every service."""

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
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before it answers

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            template = route_template(scope)
            if template not in UNTIMED_ROUTES:
                self.latency.labels(scope["method"], template, str(status)).observe(time.perf_counter() - started)


def exposition(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
