"""Capacity's SQL: reports with history, shortage state per setting, alerts."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from contracts.capacity import AlertAcknowledged
from contracts.envelope import Envelope
from services.capacity.domain import CapacityFigures, ProviderCapacity
from services.runtime.signal import channel_name, notify


async def insert_report(
    conn: asyncpg.Connection, agb: str, setting: str, figures: CapacityFigures, reported_at: datetime,
    reported_by: str,
) -> int:
    report_id = await conn.fetchval(
        """INSERT INTO capacity_report (agb, setting, total, occupied, closed_to_admission, age_min,
                                        age_max, reported_at, reported_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id""",
        agb, setting, figures.total, figures.occupied, figures.closed_to_admission, figures.age_min,
        figures.age_max, reported_at, reported_by,
    )
    await conn.execute(
        """INSERT INTO capacity_current (agb, setting, report_id) VALUES ($1, $2, $3)
           ON CONFLICT (agb, setting) DO UPDATE SET report_id = EXCLUDED.report_id""",
        agb, setting, report_id,
    )
    return report_id


async def lock_setting(conn: asyncpg.Connection, setting: str) -> asyncpg.Record:
    """Lock the setting's shortage state for the rest of the transaction and return it."""
    await conn.execute("INSERT INTO setting_state (setting) VALUES ($1) ON CONFLICT DO NOTHING", setting)
    return await conn.fetchrow(
        "SELECT shortage_id, shortage_since FROM setting_state WHERE setting = $1 FOR UPDATE", setting
    )


async def providers_of(conn: asyncpg.Connection, setting: str) -> list[ProviderCapacity]:
    rows = await conn.fetch(
        """SELECT r.total, r.occupied, r.closed_to_admission
           FROM capacity_current c JOIN capacity_report r ON r.id = c.report_id
           WHERE c.setting = $1""",
        setting,
    )
    return [ProviderCapacity(r["total"], r["occupied"], r["closed_to_admission"]) for r in rows]


async def open_shortage(
    conn: asyncpg.Connection, shortage_id: uuid.UUID, setting: str, severity: str, free: int, waiting: int,
    detected_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO shortage (id, setting, severity, free_places, waiting, detected_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        shortage_id, setting, severity, free, waiting, detected_at,
    )
    await conn.execute(
        "UPDATE setting_state SET shortage_id = $2, shortage_since = $3 WHERE setting = $1",
        setting, shortage_id, detected_at,
    )


async def close_shortage(conn: asyncpg.Connection, setting: str, shortage_id: uuid.UUID, at: datetime) -> None:
    await conn.execute("UPDATE shortage SET resolved_at = $2 WHERE id = $1", shortage_id, at)
    await conn.execute(
        "UPDATE setting_state SET shortage_id = NULL, shortage_since = NULL WHERE setting = $1", setting
    )


async def insert_alert(conn: asyncpg.Connection, envelope: Envelope, setting: str | None) -> None:
    await conn.execute(
        "INSERT INTO alert (id, type, setting, envelope, created_at) VALUES ($1, $2, $3, $4::jsonb, $5)",
        envelope.id, envelope.type, setting, envelope.model_dump_json(), envelope.time,
    )


async def alerts_after(pool: asyncpg.Pool, seq: int, limit: int = 500) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT seq, type, envelope::text AS envelope FROM alert WHERE seq > $1 ORDER BY seq LIMIT $2",
        seq, limit,
    )


async def list_alerts(
    pool: asyncpg.Pool, *, alert_type: str | None, setting: str | None, acknowledged: bool | None, limit: int
) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT seq, id, type, setting, envelope::text AS envelope, created_at,
                  acknowledged_at, acknowledged_by, acknowledged_role
           FROM alert
           WHERE type <> $5
             AND ($1::text IS NULL OR type = $1)
             AND ($2::text IS NULL OR setting = $2)
             AND ($3::boolean IS NULL OR (acknowledged_at IS NOT NULL) = $3)
           ORDER BY seq DESC LIMIT $4""",
        alert_type, setting, acknowledged, limit, AlertAcknowledged.event_type,
    )


async def acknowledge_alert(
    conn: asyncpg.Connection, alert_id: uuid.UUID, by: str, role: str, at: datetime
) -> asyncpg.Record | None:
    """Mark the alert acknowledged unless it already is; returns the alert row, or None if unknown."""
    row = await conn.fetchrow("SELECT id, type, acknowledged_at FROM alert WHERE id = $1 FOR UPDATE", alert_id)
    if row and row["acknowledged_at"] is None:
        await conn.execute(
            "UPDATE alert SET acknowledged_at = $2, acknowledged_by = $3, acknowledged_role = $4 WHERE id = $1",
            alert_id, at, by, role,
        )
    return row


async def current_reports(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """The latest report of every provider and setting, with the setting's shortage state."""
    return await pool.fetch(
        """SELECT c.setting, c.agb, r.total, r.occupied, r.closed_to_admission, r.reported_at,
                  s.shortage_since
           FROM capacity_current c
           JOIN capacity_report r ON r.id = c.report_id
           LEFT JOIN setting_state s ON s.setting = c.setting
           ORDER BY c.setting, c.agb"""
    )


async def report_history(pool: asyncpg.Pool, agb: str, setting: str, limit: int) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT total, occupied, closed_to_admission, age_min, age_max, reported_at
           FROM capacity_report WHERE agb = $1 AND setting = $2 ORDER BY reported_at DESC, id DESC LIMIT $3""",
        agb, setting, limit,
    )


ALERT_CHANNEL = "capacity_alerts"


async def notify_alerts(conn: asyncpg.Connection, schema: str) -> None:
    await notify(conn, channel_name(ALERT_CHANNEL, schema))
