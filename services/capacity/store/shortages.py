"""SQL of each setting's shortage state, and of the alerts raised for people and machines."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from contracts.capacity import Severity
from contracts.envelope import Envelope
from services.capacity.domain import OpenShortage
from services.capacity.store.records import AlertState
from services.runtime.db import Connection, fetch_one
from services.runtime.signal import channel_name, notify

# What the alert stream and the webhook dispatcher listen on (per schema: ``channel_name``).
ALERT_CHANNEL = "capacity_alerts"

# Alerts are numbered in commit order, not insert order: a reader resuming after seq N must
# never find a smaller seq committed later. Alerts are rare, so serialising them costs nothing.
_ALERT_ORDER_LOCK = 0x5C4A_A1E7


class Shortages:
    """Shortage state and alerts, on the connection of a ``CapacityStore``."""

    _conn: Connection

    async def lock_settings(self, settings: Iterable[str]) -> dict[str, OpenShortage | None]:
        """Lock the shortage state of settings for the rest of the transaction, always in the same
        order (no deadlocks); returns each setting's open shortage, if any.

        Takes the alert-order lock first: a transaction that may raise an alert holds it before any
        setting lock, so two of them can never wait on each other in opposite order.
        """
        await self._lock_alert_order()
        states: dict[str, OpenShortage | None] = {}
        for setting in sorted(set(settings)):
            await self._conn.execute("INSERT INTO setting_state (setting) VALUES ($1) ON CONFLICT DO NOTHING", setting)
            row = await fetch_one(
                self._conn,
                """SELECT s.shortage_id, s.shortage_since, h.severity
                   FROM setting_state s LEFT JOIN shortage h ON h.id = s.shortage_id
                   WHERE s.setting = $1 FOR UPDATE OF s""",
                setting,
            )
            opened = row["shortage_id"] is not None
            states[setting] = (
                OpenShortage(row["shortage_id"], row["shortage_since"], Severity(row["severity"])) if opened else None
            )
        return states

    async def open_shortage(
        self, shortage_id: uuid.UUID, setting: str, severity: Severity, free: int, waiting: int, at: datetime
    ) -> None:
        await self._conn.execute(
            """INSERT INTO shortage (id, setting, severity, free_places, waiting, detected_at)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            shortage_id,
            setting,
            severity,
            free,
            waiting,
            at,
        )
        await self._conn.execute(
            "UPDATE setting_state SET shortage_id = $2, shortage_since = $3 WHERE setting = $1",
            setting,
            shortage_id,
            at,
        )

    async def change_shortage(self, shortage_id: uuid.UUID, severity: Severity, free: int, waiting: int) -> None:
        await self._conn.execute(
            "UPDATE shortage SET severity = $2, free_places = $3, waiting = $4 WHERE id = $1",
            shortage_id,
            severity,
            free,
            waiting,
        )

    async def close_shortage(self, setting: str, shortage_id: uuid.UUID, at: datetime) -> None:
        await self._conn.execute("UPDATE shortage SET resolved_at = $2 WHERE id = $1", shortage_id, at)
        await self._conn.execute(
            "UPDATE setting_state SET shortage_id = NULL, shortage_since = NULL WHERE setting = $1", setting
        )

    async def _lock_alert_order(self) -> None:
        await self._conn.execute("SELECT pg_advisory_xact_lock($1)", _ALERT_ORDER_LOCK)

    async def insert_alert(self, envelope: Envelope, setting: str | None) -> None:
        """Record an alert for the list, the live stream and the webhooks (they follow ``alert.seq``)."""
        await self._lock_alert_order()
        await self._conn.execute(
            "INSERT INTO alert (id, type, setting, envelope, created_at) VALUES ($1, $2, $3, $4::jsonb, $5)",
            envelope.id,
            envelope.type,
            setting,
            envelope.model_dump_json(),
            envelope.time,
        )

    async def notify_alerts(self, schema: str) -> None:
        """Wake the alert stream and the webhook dispatchers of ``schema`` when this transaction commits."""
        await notify(self._conn, channel_name(ALERT_CHANNEL, schema))

    async def acknowledge_alert(self, alert_id: uuid.UUID, by: str, role: str, at: datetime) -> AlertState | None:
        """Mark the alert acknowledged unless it already is; returns it as it was, or None if unknown."""
        row = await self._conn.fetchrow("SELECT type, acknowledged_at FROM alert WHERE id = $1 FOR UPDATE", alert_id)
        if row and row["acknowledged_at"] is None:
            await self._conn.execute(
                "UPDATE alert SET acknowledged_at = $2, acknowledged_by = $3, acknowledged_role = $4 WHERE id = $1",
                alert_id,
                at,
                by,
                role,
            )
        return None if row is None else AlertState(row["type"], row["acknowledged_at"])
