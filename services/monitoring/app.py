"""Wiring of the monitoring service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.monitoring import handlers
from services.monitoring.gauges import DomainGauges
from services.monitoring.settings import MonitoringSettings
from services.runtime.consumer import Consumer
from services.runtime.service import Runtime, ServiceSpec, create_app


async def _start(app: FastAPI, runtime: Runtime) -> None:
    app.state.gauges = DomainGauges(runtime.registry)
    await app.state.gauges.refresh(runtime.pool)


def _consumers(app: FastAPI, runtime: Runtime) -> list[Consumer]:
    return handlers.consumers(runtime, app.state.gauges)


def build(settings: MonitoringSettings | None = None) -> FastAPI:
    return create_app(ServiceSpec(
        settings=settings or MonitoringSettings(),
        title="Schakel monitoring",
        description="Read models of the region's flows, capacity and shortages; dashboard and Prometheus metrics.",
        migrations=Path(__file__).parent / "migrations",
        consumers=_consumers,
        on_start=_start,
    ))
