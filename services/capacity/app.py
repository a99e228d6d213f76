"""Wiring of the capacity service."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import Gauge

from contracts import topics
from services.capacity import handlers
from services.capacity.api import router
from services.capacity.commands.timers import Timers
from services.capacity.doorbraak_api import router as doorbraak_router
from services.capacity.placements_api import router as placements_router
from services.capacity.pool_requests_api import router as pool_requests_router
from services.capacity.pools_api import router as pools_router
from services.capacity.settings import CapacitySettings
from services.capacity.store import ALERT_CHANNEL, open_store
from services.capacity.webhooks.dispatcher import WebhookDispatcher
from services.capacity.webhooks_api import router as webhooks_router
from services.runtime.clock import Clock
from services.runtime.periodic import cancel_task
from services.runtime.pools import ensure_pool_topics
from services.runtime.service import Runtime, ServiceSpec, create_app
from services.runtime.signal import PgSignal, channel_name

log = logging.getLogger(__name__)


async def _start(app: FastAPI, runtime: Runtime[CapacitySettings]) -> None:
    settings = runtime.settings
    app.state.pool_topics = asyncio.create_task(ensure_pool_topics(settings), name="pool-topics")
    app.state.timers = Timers(lambda: runtime.work(open_store), settings.timer_interval_seconds)
    app.state.timers.start()
    feed = PgSignal(settings.database_url, channel_name(ALERT_CHANNEL, settings.db_schema))
    feed.start()
    app.state.alert_feed = feed
    app.state.alert_streams_open = Gauge(
        "schakel_alert_streams_open", "Clients connected to the alert stream.", registry=runtime.registry
    )
    app.state.webhooks = WebhookDispatcher(runtime.pool, feed, runtime.registry, clock=runtime.now)
    app.state.webhooks.start()


async def _stop(app: FastAPI, _runtime: Runtime[CapacitySettings]) -> None:
    await cancel_task(app.state.pool_topics)
    await app.state.webhooks.stop()
    await app.state.timers.stop()
    await app.state.alert_feed.stop()


def build(settings: CapacitySettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or CapacitySettings()
    return create_app(
        ServiceSpec(
            settings=settings,
            title="Schakel capacity",
            description="Verblijf places per provider and setting, shortages and alerts (the schakelfunctie).",
            migrations=Path(__file__).parent / "migrations",
            routers=[router, placements_router, doorbraak_router, webhooks_router, pools_router, pool_requests_router],
            publishes=[topics.CAPACITY_EVENTS, topics.CAPACITY_ALERTS, *(p.topic for p in settings.pools())],
            consumers=lambda _app, runtime: handlers.consumers(runtime.settings.pools()),
            on_start=_start,
            on_stop=_stop,
            clock=clock or Clock(),
        )
    )
