"""Capacity's SQL for the schakelfunctie's cases: placement requests and the proposals made for them."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from contracts.verblijf import Setting
from services.runtime.db import Connection, fetch_one, insert_row, update_row


async def insert_placement(conn: Connection, **fields: object) -> bool:
    """Open a placement request; False when the referral already has one (redelivery)."""
    status = await insert_row(conn, "placement", fields, "ON CONFLICT (referral_id) DO NOTHING")
    return status.endswith(" 1")


async def placement_for_update(conn: Connection, placement_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM placement WHERE id = $1 FOR UPDATE", placement_id)


async def placement_of_referral(conn: Connection, referral_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM placement WHERE referral_id = $1 FOR UPDATE", referral_id)


async def set_placement(conn: Connection, placement_id: uuid.UUID, **fields: object) -> None:
    await update_row(conn, "placement", placement_id, fields)


async def tried(conn: Connection, placement_id: uuid.UUID) -> frozenset[tuple[str, Setting]]:
    rows = await conn.fetch(
        "SELECT agb, setting FROM proposal WHERE placement_id = $1 AND outcome IN ('declined', 'timeout')",
        placement_id,
    )
    return frozenset((r["agb"], Setting(r["setting"])) for r in rows)


async def insert_proposal(
    conn: Connection, placement_id: uuid.UUID, agb: str, setting: str, at: datetime, reserved_until: datetime
) -> None:
    await conn.execute(
        """INSERT INTO proposal (placement_id, agb, setting, proposed_at, reserved_until)
           VALUES ($1, $2, $3, $4, $5)""",
        placement_id,
        agb,
        setting,
        at,
        reserved_until,
    )


async def open_proposal(conn: Connection, placement_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM proposal WHERE placement_id = $1 AND outcome IS NULL FOR UPDATE", placement_id
    )


async def decide_proposal(
    conn: Connection, proposal_id: int, outcome: str, reason: str | None, note: str | None, at: datetime
) -> None:
    await conn.execute(
        "UPDATE proposal SET outcome = $2, reason = $3, note = $4, decided_at = $5 WHERE id = $1",
        proposal_id,
        outcome,
        reason,
        note,
        at,
    )


async def unplaced_needing(conn: Connection, setting: str) -> list[asyncpg.Record]:
    """Open placements that could use a place in ``setting``: crisis first, then longest waiting."""
    return await conn.fetch(
        """SELECT * FROM placement WHERE status = 'open' AND $1 = ANY(settings)
           ORDER BY CASE urgency WHEN 'crisis' THEN 0 WHEN 'spoed' THEN 1 ELSE 2 END, requested_at
           FOR UPDATE SKIP LOCKED""",
        setting,
    )


async def lapsed_proposals(pool: asyncpg.Pool, now: datetime) -> list[uuid.UUID]:
    rows = await pool.fetch("SELECT placement_id FROM proposal WHERE outcome IS NULL AND reserved_until <= $1", now)
    return [r["placement_id"] for r in rows]


async def escalations_due(pool: asyncpg.Pool, now: datetime) -> list[uuid.UUID]:
    rows = await pool.fetch(
        """SELECT id FROM placement
           WHERE status IN ('open', 'proposed') AND escalation_due_at <= $1 ORDER BY escalation_due_at""",
        now,
    )
    return [r["id"] for r in rows]


async def list_placements(
    pool: asyncpg.Pool, *, provider: str | None, statuses: list[str], limit: int
) -> list[asyncpg.Record]:
    """Placements with their proposals; a provider sees only those proposed to it."""
    return await pool.fetch(
        _PLACEMENTS
        + """
           WHERE p.status = ANY($2::text[])
             AND ($1::text IS NULL OR EXISTS (SELECT 1 FROM proposal x WHERE x.placement_id = p.id AND x.agb = $1))
           GROUP BY p.id ORDER BY p.requested_at LIMIT $3""",
        provider,
        statuses,
        limit,
    )


async def placement_view(pool: asyncpg.Pool, placement_id: uuid.UUID) -> asyncpg.Record:
    return await fetch_one(pool, _PLACEMENTS + " WHERE p.id = $1 GROUP BY p.id", placement_id)


_PLACEMENTS = """SELECT p.id, p.referral_id, p.client_ref, p.age, p.municipality_code, p.product_category,
                  p.settings, p.urgency, p.status, p.requested_at, p.escalation_level, p.escalated_at,
                  p.escalation_due_at, p.escalation_note, p.confirmed_agb, p.confirmed_setting, p.confirmed_at,
                  coalesce(json_agg(json_build_object(
                      'agb', o.agb, 'setting', o.setting, 'proposed_at', o.proposed_at,
                      'reserved_until', o.reserved_until, 'outcome', o.outcome, 'reason', o.reason,
                      'note', o.note, 'decided_at', o.decided_at) ORDER BY o.id) FILTER (WHERE o.id IS NOT NULL), '[]')::text
                      AS proposals
           FROM placement p LEFT JOIN proposal o ON o.placement_id = p.id"""
