"""Wiring of the monitoring service."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.monitoring import handlers, pages
from services.monitoring.api import router
from services.monitoring.gauges import DomainGauges
from services.monitoring.settings import MonitoringSettings
from services.monitoring.store import Projection, live_channel
from services.runtime.clock import Clock
from services.runtime.consumer import Consumer
from services.runtime.periodic import cancel_task
from services.runtime.pools import ensure_pool_topics
from services.runtime.service import Runtime, ServiceSpec, create_app
from services.runtime.signal import PgSignal
from services.runtime.sse import HEARTBEAT_SECONDS

STATIC = Path(__file__).parent / "static"

log = logging.getLogger(__name__)


async def _start(app: FastAPI, runtime: Runtime[MonitoringSettings]) -> None:
    app.state.pool_topics = asyncio.create_task(ensure_pool_topics(runtime.settings), name="pool-topics")
    app.state.gauges = DomainGauges(runtime.registry, runtime.clock)
    await app.state.gauges.refresh(runtime.pool)
    app.state.live_feed = PgSignal(runtime.settings.database_url, live_channel(runtime.settings))
    app.state.live_feed.start()
    app.state.gauge_follower = asyncio.create_task(
        _refresh_on_every_change(app.state.live_feed, app.state.gauges, runtime), name="monitoring-gauge-follower"
    )


async def _refresh_on_every_change(feed: PgSignal, gauges: DomainGauges, runtime: Runtime[MonitoringSettings]) -> None:
    """Every projection commit NOTIFYs the live channel, whichever replica made it: following that,
    not only this replica's own commits, keeps /metrics the same on every replica."""
    while True:
        wake = feed.current()
        await feed.wait(wake, HEARTBEAT_SECONDS)
        if wake.is_set():
            gauges.request_refresh(runtime.pool)


async def _stop(app: FastAPI, _runtime: Runtime[MonitoringSettings]) -> None:
    await cancel_task(app.state.pool_topics)
    await cancel_task(app.state.gauge_follower)
    await app.state.live_feed.stop()
    await app.state.gauges.stop()


def _consumers(_app: FastAPI, runtime: Runtime[MonitoringSettings]) -> list[Consumer[Projection]]:
    return handlers.consumers(live_channel(runtime.settings), runtime.settings.pools())


def build(settings: MonitoringSettings | None = None, clock: Clock | None = None) -> FastAPI:
    app = create_app(
        ServiceSpec(
            settings=settings or MonitoringSettings(),
            title="Schakel monitoring",
            description="Read models of the region's flows, capacity and shortages; dashboard and Prometheus metrics.",
            migrations=Path(__file__).parent / "migrations",
            routers=[router, pages.router],
            consumers=_consumers,
            on_start=_start,
            on_stop=_stop,
            clock=clock or Clock(),
        )
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
