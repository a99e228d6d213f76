"""What the routes, the alert stream and the webhooks read: plain queries on the pool, outside
any unit of work, since they change nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from contracts.capacity import AlertAcknowledged
from contracts.verblijf import Setting
from services.capacity.store.reports import OFFERS
from services.runtime.db import Connection, fetch_one

# Where a new subscriber (or a new webhook) starts: after everything raised so far.
LATEST_ALERT_SEQ = "(SELECT coalesce(max(seq), 0) FROM alert)"


async def current_reports(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """The latest report of every admitted provider and setting, with the setting's shortage state."""
    return await pool.fetch(
        f"""SELECT o.*, r.reported_at, s.shortage_since
            FROM ({OFFERS}) o
            JOIN capacity_current c ON c.agb = o.agb AND c.setting = o.setting
            JOIN capacity_report r ON r.id = c.report_id
            LEFT JOIN setting_state s ON s.setting = o.setting
            ORDER BY o.setting, o.agb""",
        [str(s) for s in Setting],
    )


async def pool_places(conn: Connection, name: str) -> list[asyncpg.Record]:
    """What every member (this region included) last told pool ``name`` about its providers."""
    return await conn.fetch(
        """SELECT region, agb, setting, free, total, reserved, reported_at FROM pool_capacity
           WHERE pool = $1 ORDER BY setting, region, agb""",
        name,
    )


async def pool_shortages(conn: Connection, name: str) -> list[asyncpg.Record]:
    """The open shortages of pool ``name``'s members in its settings."""
    return await conn.fetch(
        "SELECT region, setting, detected_at FROM pool_shortage WHERE pool = $1 ORDER BY setting, region", name
    )


async def report_history(pool: asyncpg.Pool, agb: str, setting: str, limit: int) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT total, occupied, closed_to_admission, age_min, age_max, reported_at
           FROM capacity_report WHERE agb = $1 AND setting = $2 ORDER BY reported_at DESC, id DESC LIMIT $3""",
        agb,
        setting,
        limit,
    )


async def alerts_after(pool: asyncpg.Pool, seq: int, limit: int = 500) -> list[asyncpg.Record]:
    """Alerts after ``seq`` in order: what the SSE stream and the webhooks deliver next."""
    return await pool.fetch(
        "SELECT seq, id, type, envelope::text AS envelope FROM alert WHERE seq > $1 ORDER BY seq LIMIT $2",
        seq,
        limit,
    )


async def latest_alert_seq(pool: asyncpg.Pool) -> int:
    return await pool.fetchval(f"SELECT {LATEST_ALERT_SEQ}")


async def list_alerts(
    pool: asyncpg.Pool,
    *,
    alert_type: str | None,
    setting: str | None,
    acknowledged: bool | None,
    limit: int,
    kinds: Sequence[tuple[str, str]],
) -> list[asyncpg.Record]:
    """Newest alerts first, only of ``kinds``: (type, level) pairs, level '' for any (``audience.kinds_seen_by``)."""
    return await pool.fetch(
        """SELECT seq, id, type, setting, envelope::text AS envelope, created_at,
                  acknowledged_at, acknowledged_by, acknowledged_role
           FROM alert
           WHERE type <> $5
             AND ($1::text IS NULL OR type = $1)
             AND ($2::text IS NULL OR setting = $2)
             AND ($3::boolean IS NULL OR (acknowledged_at IS NOT NULL) = $3)
             AND EXISTS (SELECT 1 FROM unnest($6::text[], $7::text[]) AS k(type, level)
                         WHERE k.type = alert.type AND (k.level = '' OR k.level = alert.envelope->'data'->>'level'))
           ORDER BY seq DESC LIMIT $4""",
        alert_type,
        setting,
        acknowledged,
        limit,
        AlertAcknowledged.event_type,
        [k[0] for k in kinds],
        [k[1] for k in kinds],
    )


async def alert_kind(pool: asyncpg.Pool, alert_id: uuid.UUID) -> asyncpg.Record | None:
    """An alert's type and payload (as JSON text): what its audience depends on."""
    return await pool.fetchrow("SELECT type, (envelope->'data')::text AS data FROM alert WHERE id = $1", alert_id)


async def list_placements(
    pool: asyncpg.Pool, *, provider: str | None, statuses: list[str], limit: int
) -> list[asyncpg.Record]:
    """Placements with their proposals; a provider sees only those proposed to it."""
    return await pool.fetch(
        _PLACEMENTS
        + """
           WHERE p.status = ANY($2::text[])
             AND ($1::text IS NULL OR EXISTS (SELECT 1 FROM proposal x WHERE x.placement_id = p.id AND x.agb = $1 AND x.region IS NULL))
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
                      'note', o.note, 'decided_at', o.decided_at, 'region', o.region) ORDER BY o.id) FILTER (WHERE o.id IS NOT NULL), '[]')::text
                      AS proposals
           FROM placement p LEFT JOIN proposal o ON o.placement_id = p.id"""


async def pool_requests(
    pool: asyncpg.Pool, *, provider: str | None, open_only: bool, limit: int
) -> list[asyncpg.Record]:
    """Other members' requests for places with this region's providers, newest first; a provider sees its own."""
    return await pool.fetch(
        _POOL_REQUESTS
        + """
           WHERE ($1::text IS NULL OR agb = $1) AND (NOT $2 OR outcome IS NULL)
           ORDER BY received_at DESC LIMIT $3""",
        provider,
        open_only,
        limit,
    )


async def pool_request(pool: asyncpg.Pool, request_id: uuid.UUID) -> asyncpg.Record:
    return await fetch_one(pool, _POOL_REQUESTS + " WHERE id = $1", request_id)


_POOL_REQUESTS = """SELECT id, pool, from_region, agb, setting, age, urgency, reserved_until, received_at,
                       outcome, reason, note, decided_at FROM pool_request"""
