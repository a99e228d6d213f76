"""Monitoring's consumers: capacity events and alerts into the read models."""

from __future__ import annotations

import asyncpg

from contracts import topics
from contracts.capacity import CapacityReported, ShortageDetected, ShortageResolved
from contracts.envelope import Envelope, EventData
from services.monitoring import store
from services.monitoring.gauges import DomainGauges
from services.runtime.consumer import Consumer
from services.runtime.service import Runtime


async def on_capacity_reported(conn: asyncpg.Connection, _envelope: Envelope, event: CapacityReported) -> None:
    await store.upsert_provider_capacity(conn, event)


async def on_shortage_detected(conn: asyncpg.Connection, _envelope: Envelope, event: ShortageDetected) -> None:
    await store.record_shortage(conn, event.shortage_id, event.setting, event.severity, event.detected_at)


async def on_shortage_resolved(conn: asyncpg.Connection, _envelope: Envelope, event: ShortageResolved) -> None:
    await store.resolve_shortage(conn, event.shortage_id, event.setting, event.detected_at, event.resolved_at)


def consumers(runtime: Runtime, gauges: DomainGauges) -> list[Consumer]:
    async def refresh(_envelope: Envelope, _event: EventData) -> None:
        await gauges.refresh(runtime.pool)

    return [
        Consumer("capacity-events", topics.CAPACITY_EVENTS, {CapacityReported: on_capacity_reported},
                 after_commit=refresh),
        Consumer("capacity-alerts", topics.CAPACITY_ALERTS,
                 {ShortageDetected: on_shortage_detected, ShortageResolved: on_shortage_resolved},
                 after_commit=refresh),
    ]
