"""The ``/metrics`` exposition of a service's own Prometheus registry; its HTTP request latency is
observed by ``access.AccessLog``, which already holds each request's status and clock."""

from __future__ import annotations

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


def exposition(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
