"""Shortages and alerts: judging a setting's shortage, and raising alerts for people and machines.

Used inside the transactions of commands, placements and timers, so an alert exists exactly
when the state that caused it does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import asyncpg

from contracts import topics
from contracts.capacity import CapacityReported, ShortageChanged, ShortageDetected, ShortageResolved
from contracts.envelope import Envelope, EventData
from contracts.verblijf import Setting
from services.capacity import domain, store
from services.capacity.settings import CapacitySettings
from services.runtime.db import Connection
from services.runtime.service import Runtime

SOURCE = "capacity"


def wrap(data: EventData, subject: str, now: datetime, cause: Envelope | None = None) -> Envelope:
    """An envelope of ours; one caused by another event carries its correlation and causation."""
    return Envelope.wrap(data, source=SOURCE, subject=subject, time=now, cause=cause)


async def record_report(
    runtime: Runtime,
    conn: Connection,
    agb: str,
    setting: str,
    figures: domain.CapacityFigures,
    reported_by: str,
    now: datetime,
    cause: Envelope | None = None,
) -> tuple[CapacityReported, Envelope]:
    await store.insert_report(conn, agb, setting, figures, now, reported_by)
    mine = domain.ProviderCapacity(figures.total, figures.occupied, figures.closed_to_admission)
    reported = CapacityReported(
        agb=agb,
        setting=setting,
        total=figures.total,
        occupied=figures.occupied,
        free=mine.free,
        closed_to_admission=figures.closed_to_admission,
        age_min=figures.age_min,
        age_max=figures.age_max,
        reported_at=now,
        regional_free=domain.regional_free(await store.providers_of(conn, setting)),
    )
    event = wrap(reported, f"{agb}/{setting}", now, cause)
    await runtime.emit(conn, topics.CAPACITY_EVENTS, event)
    return reported, event


async def reevaluate(
    runtime: Runtime, conn: Connection, settings: Iterable[str], now: datetime, cause: Envelope | None = None
) -> None:
    """Open or close the shortage of each setting from its current free places and urgent demand."""
    config: CapacitySettings = runtime.settings  # type: ignore[assignment]
    for setting, state in (await store.lock_settings(conn, settings)).items():
        free = domain.regional_free(await store.providers_of(conn, setting))
        waiting = await store.waiting(conn, setting)
        change = domain.evaluate(state["shortage_id"] is not None, free, waiting, config.threshold(Setting(setting)))
        if change is domain.ShortageChange.NONE and state["shortage_id"] is not None:
            await _follow_severity(runtime, conn, state, setting, free, waiting, now, cause)
        elif change is domain.ShortageChange.DETECTED:
            shortage_id = uuid.uuid4()
            severity = domain.severity(free, waiting)
            await store.open_shortage(conn, shortage_id, setting, severity, free, waiting, now)
            alert: EventData = ShortageDetected(
                shortage_id=shortage_id,
                setting=setting,
                free_places=free,
                waiting=waiting,
                severity=severity,
                detected_at=now,
            )
            await raise_alert(runtime, conn, wrap(alert, setting, now, cause), setting)
        elif change is domain.ShortageChange.RESOLVED:
            since: datetime = state["shortage_since"]
            await store.close_shortage(conn, setting, state["shortage_id"], now)
            alert = ShortageResolved(
                shortage_id=state["shortage_id"],
                setting=setting,
                free_places=free,
                waiting=waiting,
                detected_at=since,
                resolved_at=now,
                duration_seconds=(now - since).total_seconds(),
            )
            await raise_alert(runtime, conn, wrap(alert, setting, now, cause), setting)


async def _follow_severity(
    runtime: Runtime,
    conn: Connection,
    state: asyncpg.Record,
    setting: str,
    free: int,
    waiting: int,
    now: datetime,
    cause: Envelope | None,
) -> None:
    """Tell the schakelfunctionaris when an open shortage turns critical, or stops being critical."""
    previous = await store.shortage_severity(conn, state["shortage_id"])
    severity = domain.severity(free, waiting)
    if severity == previous:
        return
    await store.change_shortage(conn, state["shortage_id"], severity, free, waiting)
    changed = ShortageChanged(
        shortage_id=state["shortage_id"],
        setting=setting,
        free_places=free,
        waiting=waiting,
        severity=severity,
        previous_severity=previous,
        detected_at=state["shortage_since"],
        changed_at=now,
    )
    await raise_alert(runtime, conn, wrap(changed, setting, now, cause), setting)


async def raise_alert(runtime: Runtime, conn: Connection, envelope: Envelope, setting: str | None) -> None:
    """Record an alert for the list and the live stream, and publish it on capacity.alerts.v1."""
    await store.insert_alert(conn, envelope, setting)
    await runtime.emit(conn, topics.CAPACITY_ALERTS, envelope)
    await store.notify_alerts(conn, runtime.settings.db_schema)
