"""What the capacity service does when asked: store a report, judge the shortage, acknowledge."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from contracts import topics
from contracts.capacity import AlertAcknowledged, CapacityReported, ShortageDetected, ShortageResolved
from contracts.envelope import Envelope, EventData
from contracts.verblijf import Setting
from services.capacity import domain, store
from services.capacity.settings import CapacitySettings
from services.runtime.auth import Principal
from services.runtime.errors import NotFound
from services.runtime.service import Runtime

SOURCE = "capacity"


def _wrap(data: EventData, subject: str, now: datetime, correlation: uuid.UUID | None = None) -> Envelope:
    return Envelope.wrap(data, source=SOURCE, subject=subject, time=now, correlation_id=correlation)


async def report_capacity(
    runtime: Runtime, agb: str, setting: Setting, figures: domain.CapacityFigures, reported_by: Principal,
    now: datetime | None = None,
) -> CapacityReported:
    """Store the report, emit ``CapacityReported`` and open or close the setting's shortage —
    all in one transaction, so the events exist exactly when the state does."""
    now = now or datetime.now(UTC)
    settings: CapacitySettings = runtime.settings  # type: ignore[assignment]
    async with runtime.pool.acquire() as conn, conn.transaction():
        state = await store.lock_setting(conn, setting)
        await store.insert_report(conn, agb, setting, figures, now, f"{reported_by.role}:{reported_by.subject}")
        free = domain.regional_free(await store.providers_of(conn, setting))
        reported = CapacityReported(
            agb=agb, setting=setting, total=figures.total, occupied=figures.occupied,
            free=domain.ProviderCapacity(figures.total, figures.occupied, figures.closed_to_admission).free,
            closed_to_admission=figures.closed_to_admission,
            age_min=figures.age_min, age_max=figures.age_max, reported_at=now, regional_free=free,
        )
        report_event = _wrap(reported, f"{agb}/{setting}", now)
        await runtime.emit(conn, topics.CAPACITY_EVENTS, report_event)
        # Open urgent demand comes from placement requests; until those exist nobody waits.
        waiting = 0
        change = domain.evaluate(state["shortage_id"] is not None, free, waiting, settings.threshold(setting))
        if change is domain.ShortageChange.DETECTED:
            shortage_id = uuid.uuid4()
            severity = domain.severity(free, waiting)
            await store.open_shortage(conn, shortage_id, setting, severity, free, waiting, now)
            alert = ShortageDetected(shortage_id=shortage_id, setting=setting, free_places=free, waiting=waiting,
                                     severity=severity, detected_at=now)
            await _raise_alert(runtime, conn, _wrap(alert, setting, now, report_event.correlationid), setting)
        elif change is domain.ShortageChange.RESOLVED:
            since: datetime = state["shortage_since"]
            await store.close_shortage(conn, setting, state["shortage_id"], now)
            alert = ShortageResolved(shortage_id=state["shortage_id"], setting=setting, free_places=free,
                                     waiting=waiting, detected_at=since, resolved_at=now,
                                     duration_seconds=(now - since).total_seconds())
            await _raise_alert(runtime, conn, _wrap(alert, setting, now, report_event.correlationid), setting)
    return reported


async def _raise_alert(runtime: Runtime, conn, envelope: Envelope, setting: str | None) -> None:  # type: ignore[no-untyped-def]
    await store.insert_alert(conn, envelope, setting)
    await runtime.emit(conn, topics.CAPACITY_ALERTS, envelope)
    await store.notify_alerts(conn, runtime.settings.db_schema)


async def acknowledge(runtime: Runtime, alert_id: uuid.UUID, by: Principal, now: datetime | None = None) -> bool:
    """Acknowledge an alert; False when it already was (acknowledging twice is harmless)."""
    now = now or datetime.now(UTC)
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await store.acknowledge_alert(conn, alert_id, by.subject, by.role, now)
        if row is None:
            raise NotFound(f"no alert with id {alert_id}")
        if row["acknowledged_at"] is not None:
            return False
        event = AlertAcknowledged(alert_id=alert_id, alert_type=row["type"], acknowledged_by_role=by.role,
                                  acknowledged_by=by.subject, acknowledged_at=now)
        await _raise_alert(runtime, conn, _wrap(event, str(alert_id), now), None)
    return True
