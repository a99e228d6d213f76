"""What the capacity service does when asked: register providers, store reports, acknowledge alerts.

Every command is one transaction holding the state change and the events it causes (outbox).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from contracts.capacity import AlertAcknowledged, CapacityReported
from contracts.verblijf import Setting
from services.capacity import alerts, domain, placements, store
from services.runtime.auth import Principal
from services.runtime.errors import Conflict, NotFound
from services.runtime.service import Runtime


async def report_capacity(
    runtime: Runtime,
    agb: str,
    setting: Setting,
    figures: domain.CapacityFigures,
    reported_by: Principal,
    now: datetime,
) -> CapacityReported:
    """Store a provider's report and act on it: rematch waiting youths, open or close the shortage."""
    async with runtime.pool.acquire() as conn, conn.transaction():
        await store.lock_setting(conn, setting)
        if setting not in await store.admitted_settings(conn, agb):
            raise Conflict(
                f"provider {agb} is not admitted for {setting}: only providers admitted to a lot "
                f"covering this setting (Open House) may report places for it"
            )
        reported, event = await alerts.record_report(runtime, conn, agb, setting, figures, reported_by.actor, now)
        # A place that came free goes to whoever waits for it before anyone else sees it as free.
        touched = await placements.rematch(runtime, conn, setting, now, cause=event)
        await alerts.reevaluate(runtime, conn, {setting, *touched}, now, cause=event)
    return reported


async def acknowledge(runtime: Runtime, alert_id: uuid.UUID, by: Principal, now: datetime) -> bool:
    """Acknowledge an alert; False when it already was (acknowledging twice is harmless)."""
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await store.acknowledge_alert(conn, alert_id, by.subject, by.role, now)
        if row is None:
            raise NotFound(f"no alert with id {alert_id}")
        if row["acknowledged_at"] is not None:
            return False
        event = AlertAcknowledged(
            alert_id=alert_id,
            alert_type=row["type"],
            acknowledged_by_role=by.role,
            acknowledged_by=by.subject,
            acknowledged_at=now,
        )
        await alerts.raise_alert(runtime, conn, alerts.wrap(event, str(alert_id), now), None)
    return True


async def register_provider(
    runtime: Runtime, agb: str, settings: list[Setting], municipality_code: str | None, now: datetime
) -> set[str]:
    """An admin admits a provider for settings by hand (until contracting's ProviderAdmitted arrives)."""
    async with runtime.pool.acquire() as conn, conn.transaction():
        await store.admit_provider(conn, agb, settings, "admin", now, municipality_code)
        return await store.admitted_settings(conn, agb)
