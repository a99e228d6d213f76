"""Monitoring's read models (SQL only)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from contracts.capacity import CapacityReported


async def upsert_provider_capacity(conn: asyncpg.Connection, report: CapacityReported) -> None:
    # Only a newer report replaces an older one: replays and redeliveries may arrive late.
    await conn.execute(
        """INSERT INTO provider_capacity (agb, setting, total, occupied, free, closed_to_admission, reported_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (agb, setting) DO UPDATE SET
               total = EXCLUDED.total, occupied = EXCLUDED.occupied, free = EXCLUDED.free,
               closed_to_admission = EXCLUDED.closed_to_admission, reported_at = EXCLUDED.reported_at
           WHERE provider_capacity.reported_at <= EXCLUDED.reported_at""",
        report.agb, report.setting, report.total, report.occupied, report.free, report.closed_to_admission,
        report.reported_at,
    )


async def record_shortage(conn: asyncpg.Connection, shortage_id: uuid.UUID, setting: str, severity: str,
                          detected_at: datetime) -> None:
    await conn.execute(
        """INSERT INTO shortage_view (shortage_id, setting, severity, detected_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (shortage_id) DO NOTHING""",
        shortage_id, setting, severity, detected_at,
    )


async def resolve_shortage(conn: asyncpg.Connection, shortage_id: uuid.UUID, setting: str,
                           detected_at: datetime, resolved_at: datetime) -> None:
    # The resolution may be read before its detection (after a replay from a later offset).
    await conn.execute(
        """INSERT INTO shortage_view (shortage_id, setting, severity, detected_at, resolved_at)
           VALUES ($1, $2, 'onbekend', $3, $4)
           ON CONFLICT (shortage_id) DO UPDATE SET resolved_at = EXCLUDED.resolved_at""",
        shortage_id, setting, detected_at, resolved_at,
    )


async def free_places_per_setting(pool: asyncpg.Pool) -> dict[str, int]:
    rows = await pool.fetch(
        """SELECT setting, sum(CASE WHEN closed_to_admission THEN 0 ELSE free END)::int AS free
           FROM provider_capacity GROUP BY setting"""
    )
    return {r["setting"]: r["free"] for r in rows}


async def active_shortages(pool: asyncpg.Pool) -> set[str]:
    rows = await pool.fetch("SELECT DISTINCT setting FROM shortage_view WHERE resolved_at IS NULL")
    return {r["setting"] for r in rows}
