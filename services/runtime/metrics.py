"""Per-service Prometheus registry, HTTP request metrics and the ``/metrics`` exposition."""

from __future__ import annotations

import time

from fastapi import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint


class RequestMetrics(BaseHTTPMiddleware):
    """Latency per route template (never the raw path: it may hold ids)."""

    def __init__(self, app, registry: CollectorRegistry) -> None:
        super().__init__(app)
        self.latency = Histogram(
            "schakel_http_request_duration_seconds",
            "HTTP request latency by route and status.",
            ["method", "route", "status"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        if template not in ("/metrics", "/v1/alerts/stream", "/events"):
            self.latency.labels(request.method, template, str(response.status_code)).observe(
                time.perf_counter() - started
            )
        return response


def exposition(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
