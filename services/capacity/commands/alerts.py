"""Raising an alert (for people and for machines) and acknowledging one."""

from __future__ import annotations

import uuid

from contracts.capacity import Alert, AlertAcknowledged
from contracts.envelope import Envelope, EventAttributes
from services.capacity.commands import Work
from services.runtime.auth import Principal
from services.runtime.errors import NotFound


async def raise_alert(uow: Work, alert: Alert, setting: str | None, cause: EventAttributes | None = None) -> Envelope:
    """Announce ``alert`` and record it for the alert list, the live stream and the webhooks, so
    it exists exactly when the state that caused it does; returns its envelope."""
    envelope = uow.collect(alert, cause=cause)
    await uow.store.insert_alert(envelope, setting)
    await uow.store.notify_alerts(uow.settings.db_schema)
    return envelope


async def acknowledge(uow: Work, alert_id: uuid.UUID, by: Principal) -> bool:
    """Acknowledge an alert; False when it already was (acknowledging twice is harmless)."""
    alert = await uow.store.acknowledge_alert(alert_id, by.subject, by.role, uow.now)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id}")
    if alert.acknowledged_at is not None:
        return False
    acknowledged = AlertAcknowledged(
        alert_id=alert_id,
        alert_type=alert.type,
        acknowledged_by_role=by.role,
        acknowledged_by=by.subject,
        acknowledged_at=uow.now,
    )
    await raise_alert(uow, acknowledged, None)
    return True
