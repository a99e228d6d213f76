"""Monitoring's read models (SQL only)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg

from contracts.capacity import (
    AlertAcknowledged,
    CapacityReported,
    CaseEscalated,
    PlacementRequested,
    ShortageChanged,
    ShortageDetected,
)
from contracts.contracting import DeclarationAssessed
from contracts.intake import CareEnded, CareStarted, ReferralReceived
from services.monitoring import domain
from services.runtime.db import Connection, fetch_one


async def upsert_provider_capacity(conn: Connection, report: CapacityReported) -> None:
    # Only a newer report replaces an older one: replays and redeliveries may arrive late.
    await conn.execute(
        """INSERT INTO provider_capacity (agb, setting, total, occupied, free, closed_to_admission, reported_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (agb, setting) DO UPDATE SET
               total = EXCLUDED.total, occupied = EXCLUDED.occupied, free = EXCLUDED.free,
               closed_to_admission = EXCLUDED.closed_to_admission, reported_at = EXCLUDED.reported_at
           WHERE provider_capacity.reported_at <= EXCLUDED.reported_at""",
        report.agb,
        report.setting,
        report.total,
        report.occupied,
        report.free,
        report.closed_to_admission,
        report.reported_at,
    )


async def resolve_shortage(
    conn: Connection, shortage_id: uuid.UUID, setting: str, detected_at: datetime, resolved_at: datetime
) -> None:
    # The resolution may be read before its detection (after a replay from a later offset).
    await conn.execute(
        """INSERT INTO shortage_view (shortage_id, setting, severity, detected_at, resolved_at)
           VALUES ($1, $2, 'onbekend', $3, $4)
           ON CONFLICT (shortage_id) DO UPDATE SET resolved_at = EXCLUDED.resolved_at""",
        shortage_id,
        setting,
        detected_at,
        resolved_at,
    )


# Free places per provider as capacity counts them: none while closed, and none that an open
# proposal holds for a youth.
_OFFERED = """
    WITH reserved AS (SELECT reserved_agb AS agb, proposed_setting AS setting, count(*) AS n
                      FROM placement_view WHERE reserved_agb IS NOT NULL GROUP BY 1, 2)
    SELECT c.*, CASE WHEN c.closed_to_admission THEN 0
                     ELSE greatest(c.free - coalesce(r.n, 0), 0) END AS offered
    FROM provider_capacity c LEFT JOIN reserved r ON r.agb = c.agb AND r.setting = c.setting"""


async def free_places_per_setting(pool: asyncpg.Pool) -> dict[str, int]:
    rows = await pool.fetch(f"SELECT setting, sum(offered)::int AS free FROM ({_OFFERED}) o GROUP BY setting")
    return {r["setting"]: r["free"] for r in rows}


async def active_shortages(pool: asyncpg.Pool) -> set[str]:
    rows = await pool.fetch("SELECT DISTINCT setting FROM shortage_view WHERE resolved_at IS NULL")
    return {r["setting"] for r in rows}


# --- flows: referrals and care ---------------------------------------------------------------


async def record_referral(conn: Connection, event: ReferralReceived) -> None:
    referrer = "veilig_thuis" if event.veilig_thuis else event.referrer_type.value
    await conn.execute(
        """INSERT INTO referral_view (referral_id, municipality, product_category, referrer, urgency, received_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (referral_id) DO NOTHING""",
        event.referral_id,
        event.municipality_code,
        event.product_category.value,
        referrer,
        event.urgency.value,
        domain.referred_at(event.received_at, event.referral_date),
    )


async def withdraw_referral(conn: Connection, referral_id: uuid.UUID, at: datetime) -> None:
    await conn.execute("UPDATE referral_view SET withdrawn_at = $2 WHERE referral_id = $1", referral_id, at)
    # Capacity gives a withdrawn youth's reserved place back.
    await conn.execute("UPDATE placement_view SET reserved_agb = NULL WHERE referral_id = $1", referral_id)


async def record_care_start(conn: Connection, event: CareStarted) -> None:
    await conn.execute(
        """INSERT INTO care_view (allocation_id, referral_id, municipality, product_category, start_date)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (allocation_id) DO UPDATE SET start_date = EXCLUDED.start_date""",
        event.allocation_id,
        event.referral_id,
        event.municipality_code,
        event.product_category.value,
        event.start_date,
    )


async def record_care_end(conn: Connection, event: CareEnded) -> None:
    # An end may be read before its start (both are kept; the start fills in later).
    await conn.execute(
        """INSERT INTO care_view (allocation_id, referral_id, municipality, product_category, end_date, end_reason)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (allocation_id) DO UPDATE SET end_date = EXCLUDED.end_date, end_reason = EXCLUDED.end_reason""",
        event.allocation_id,
        event.referral_id,
        event.municipality_code,
        event.product_category.value,
        event.end_date,
        event.reason.value,
    )


async def set_waiting_norm(conn: Connection, product_category: str, days: int, at: datetime) -> None:
    await conn.execute(
        """INSERT INTO waiting_norm (product_category, max_wait_days, set_at) VALUES ($1, $2, $3)
           ON CONFLICT (product_category) DO UPDATE SET max_wait_days = EXCLUDED.max_wait_days,
               set_at = EXCLUDED.set_at WHERE waiting_norm.set_at <= EXCLUDED.set_at""",
        product_category,
        days,
        at,
    )


async def referrals(pool: asyncpg.Pool, municipality: str | None) -> list[domain.Referral]:
    rows = await pool.fetch(
        """SELECT referral_id, municipality, product_category, referrer, received_at FROM referral_view
           WHERE $1::text IS NULL OR municipality = $1""",
        municipality,
    )
    return [
        domain.Referral(
            str(r["referral_id"]), r["municipality"], r["product_category"], r["referrer"], r["received_at"]
        )
        for r in rows
    ]


async def cares(pool: asyncpg.Pool, municipality: str | None) -> list[domain.Care]:
    rows = await pool.fetch(
        """SELECT referral_id, municipality, product_category, start_date, end_date, end_reason FROM care_view
           WHERE $1::text IS NULL OR municipality = $1""",
        municipality,
    )
    return [
        domain.Care(
            str(r["referral_id"]),
            r["municipality"],
            r["product_category"],
            r["start_date"],
            r["end_date"],
            r["end_reason"],
        )
        for r in rows
    ]


async def waiting_norms(pool: asyncpg.Pool) -> dict[str, int]:
    return {
        r["product_category"]: r["max_wait_days"]
        for r in await pool.fetch("SELECT product_category, max_wait_days FROM waiting_norm")
    }


async def data_months(pool: asyncpg.Pool) -> tuple[date | None, date | None]:
    row = await fetch_one(
        pool,
        """SELECT min(d) AS first, max(d) AS last FROM (
               SELECT (received_at AT TIME ZONE 'Europe/Amsterdam')::date AS d FROM referral_view
               UNION ALL SELECT start_date FROM care_view UNION ALL SELECT end_date FROM care_view) days""",
    )
    return row["first"], row["last"]


# --- capacity, placements, escalations --------------------------------------------------------


async def setting_capacity(pool: asyncpg.Pool) -> list[domain.SettingCapacity]:
    rows = await pool.fetch(
        f"""SELECT setting, sum(total)::int AS total, sum(occupied)::int AS occupied,
                   sum(offered)::int AS free, count(*)::int AS providers,
                   max(reported_at) AS last_report_at, min(reported_at) AS oldest_report_at
            FROM ({_OFFERED}) o GROUP BY setting"""
    )
    return [domain.SettingCapacity(**dict(r)) for r in rows]


async def shortages(pool: asyncpg.Pool, *, active_only: bool) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT s.shortage_id, s.alert_id, s.setting, s.severity, s.free_places, s.waiting, s.detected_at,
                  s.resolved_at, a.by_handle AS acknowledged_by, a.by_role AS acknowledged_role,
                  a.acknowledged_at
           FROM shortage_view s LEFT JOIN acknowledgement_view a ON a.alert_id = s.alert_id
           WHERE NOT $1 OR s.resolved_at IS NULL ORDER BY s.detected_at DESC LIMIT 200""",
        active_only,
    )


async def record_shortage_alert(conn: Connection, alert_id: uuid.UUID, event: ShortageDetected) -> None:
    await conn.execute(
        """INSERT INTO shortage_view (shortage_id, setting, severity, detected_at, alert_id, free_places, waiting)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (shortage_id) DO UPDATE SET severity = EXCLUDED.severity, alert_id = EXCLUDED.alert_id,
               free_places = EXCLUDED.free_places, waiting = EXCLUDED.waiting""",
        event.shortage_id,
        event.setting,
        event.severity,
        event.detected_at,
        alert_id,
        event.free_places,
        event.waiting,
    )


async def change_shortage(conn: Connection, event: ShortageChanged) -> None:
    # The alert to acknowledge stays the detection; only the figures and severity follow.
    await conn.execute(
        "UPDATE shortage_view SET severity = $2, free_places = $3, waiting = $4 WHERE shortage_id = $1",
        event.shortage_id,
        event.severity,
        event.free_places,
        event.waiting,
    )


async def record_placement_request(conn: Connection, event: PlacementRequested) -> None:
    await conn.execute(
        """INSERT INTO placement_view (placement_id, referral_id, age, municipality, product_category, settings,
                                       urgency, requested_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (placement_id) DO UPDATE SET age = EXCLUDED.age, municipality = EXCLUDED.municipality,
               product_category = EXCLUDED.product_category, settings = EXCLUDED.settings,
               urgency = EXCLUDED.urgency, requested_at = EXCLUDED.requested_at""",
        event.placement_id,
        event.referral_id,
        event.age,
        event.municipality_code,
        event.product_category.value,
        [s.value for s in event.settings],
        event.urgency.value,
        event.requested_at,
    )


async def count_placement_step(
    conn: Connection, placement_id: uuid.UUID, referral_id: uuid.UUID, step: str, setting: str, at: datetime, agb: str
) -> None:
    """A proposal, decline or confirmation; the row may not exist yet when steps arrive out of order."""
    await conn.execute(
        "INSERT INTO placement_view (placement_id, referral_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        placement_id,
        referral_id,
    )
    if step == "proposed":
        sql = """UPDATE placement_view SET proposals = proposals + 1, proposed_setting = $2, reserved_agb = $3
                 WHERE placement_id = $1"""
        await conn.execute(sql, placement_id, setting, agb)
    elif step == "declined":
        await conn.execute(
            "UPDATE placement_view SET declines = declines + 1, reserved_agb = NULL WHERE placement_id = $1",
            placement_id,
        )
    else:
        await conn.execute(
            """UPDATE placement_view SET confirmed_setting = $2, confirmed_at = $3, reserved_agb = NULL
               WHERE placement_id = $1""",
            placement_id,
            setting,
            at,
        )


async def record_escalation(conn: Connection, alert_id: uuid.UUID, event: CaseEscalated) -> None:
    await conn.execute(
        """INSERT INTO escalation_view (alert_id, placement_id, municipality, level, urgency, settings, reason,
                                        waiting_since, escalated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (alert_id) DO NOTHING""",
        alert_id,
        event.placement_id,
        event.municipality_code,
        event.level.value,
        event.urgency.value,
        [s.value for s in event.settings],
        event.reason,
        event.waiting_since,
        event.escalated_at,
    )
    # An escalation tells the same facts as the request: fill them in if the request was missed.
    await conn.execute(
        """INSERT INTO placement_view (placement_id, referral_id, age, municipality, settings, urgency, requested_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (placement_id) DO UPDATE SET
               age = coalesce(placement_view.age, EXCLUDED.age),
               municipality = coalesce(placement_view.municipality, EXCLUDED.municipality),
               urgency = coalesce(placement_view.urgency, EXCLUDED.urgency),
               requested_at = coalesce(placement_view.requested_at, EXCLUDED.requested_at)""",
        event.placement_id,
        event.referral_id,
        event.age,
        event.municipality_code,
        [s.value for s in event.settings],
        event.urgency.value,
        event.waiting_since,
    )


async def record_acknowledgement(conn: Connection, event: AlertAcknowledged) -> None:
    await conn.execute(
        """INSERT INTO acknowledgement_view (alert_id, alert_type, by_role, by_handle, acknowledged_at)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (alert_id) DO NOTHING""",
        event.alert_id,
        event.alert_type,
        event.acknowledged_by_role,
        event.acknowledged_by,
        event.acknowledged_at,
    )


async def waiting_youths(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """Open placement requests: pseudonymous (no client_ref is even stored here)."""
    return await pool.fetch(
        """SELECT p.placement_id, p.age, p.municipality, p.settings, p.urgency, p.requested_at,
                  p.proposals, p.declines, p.proposed_setting,
                  (SELECT CASE WHEN bool_or(e.level = 'expertteam') THEN 'expertteam' ELSE max(e.level) END
                   FROM escalation_view e WHERE e.placement_id = p.placement_id) AS level
           FROM placement_view p LEFT JOIN referral_view r ON r.referral_id = p.referral_id
           WHERE p.confirmed_at IS NULL AND r.withdrawn_at IS NULL AND p.requested_at IS NOT NULL
           ORDER BY CASE p.urgency WHEN 'crisis' THEN 0 WHEN 'spoed' THEN 1 ELSE 2 END, p.requested_at"""
    )


async def escalations(pool: asyncpg.Pool, municipality: str | None = None) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT e.alert_id, e.placement_id, e.municipality, e.level, e.urgency, e.settings, e.reason,
                  e.waiting_since, e.escalated_at, p.confirmed_at, r.withdrawn_at,
                  a.by_handle AS acknowledged_by, a.by_role AS acknowledged_role, a.acknowledged_at
           FROM escalation_view e
           LEFT JOIN placement_view p ON p.placement_id = e.placement_id
           LEFT JOIN referral_view r ON r.referral_id = p.referral_id
           LEFT JOIN acknowledgement_view a ON a.alert_id = e.alert_id
           WHERE $1::text IS NULL OR e.municipality = $1
           ORDER BY e.escalated_at DESC""",
        municipality,
    )


async def declaration_lines(pool: asyncpg.Pool, municipality: str | None) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT municipality, approved, return_codes, assessed_at FROM declaration_line_view
           WHERE $1::text IS NULL OR municipality = $1""",
        municipality,
    )


async def record_declaration(conn: Connection, event: DeclarationAssessed) -> None:
    await conn.executemany(
        """INSERT INTO declaration_line_view (declaration_id, line_number, municipality, approved, return_codes,
                                              assessed_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (declaration_id, line_number) DO UPDATE SET approved = EXCLUDED.approved,
               return_codes = EXCLUDED.return_codes, assessed_at = EXCLUDED.assessed_at""",
        [
            (
                event.declaration_id,
                line.line_number,
                event.municipality_code,
                line.approved,
                [c.value for c in line.return_codes],
                event.assessed_at,
            )
            for line in event.lines
        ],
    )


READ_MODELS = (
    "provider_capacity",
    "shortage_view",
    "referral_view",
    "care_view",
    "waiting_norm",
    "placement_view",
    "escalation_view",
    "acknowledgement_view",
    "declaration_line_view",
)


async def truncate_read_models(conn: Connection, inbox_prefix: str) -> None:
    """Empty every read model and forget which events built them (the rebuild replays them all)."""
    await conn.execute(f"TRUNCATE {', '.join(READ_MODELS)}")
    await conn.execute("DELETE FROM inbox WHERE consumer LIKE $1 || '%'", inbox_prefix)


_METRIC_QUERIES = {
    "referrals": "SELECT product_category, referrer, count(*) AS n FROM referral_view GROUP BY 1, 2",
    "care_started": "SELECT product_category, count(*) AS n FROM care_view WHERE start_date IS NOT NULL GROUP BY 1",
    "care_ended": """SELECT product_category, end_reason AS reason, count(*) AS n FROM care_view
                     WHERE end_reason IS NOT NULL GROUP BY 1, 2""",
    "placements": """SELECT confirmed_setting AS setting, count(*) AS n FROM placement_view
                     WHERE confirmed_at IS NOT NULL GROUP BY 1""",
    "waiting": """SELECT urgency, count(*) AS n FROM placement_view
                  WHERE confirmed_at IS NULL AND urgency IS NOT NULL GROUP BY 1""",
    "occupied": "SELECT setting, sum(occupied) AS n FROM provider_capacity GROUP BY 1",
    "shortages": "SELECT setting, count(*) AS n FROM shortage_view GROUP BY 1",
    "escalations": "SELECT level, count(*) AS n FROM escalation_view GROUP BY 1",
    "declarations": """SELECT CASE WHEN approved THEN 'goedgekeurd' ELSE 'afgewezen' END AS outcome, count(*) AS n
                       FROM declaration_line_view GROUP BY 1""",
    "waiting_days": """SELECT r.product_category,
                              greatest(min(c.start_date) - (r.received_at AT TIME ZONE 'Europe/Amsterdam')::date, 0)
                                  AS days
                       FROM referral_view r JOIN care_view c ON c.referral_id = r.referral_id
                       WHERE c.start_date IS NOT NULL GROUP BY r.referral_id""",
    "report_age": "SELECT setting, min(reported_at) AS oldest FROM provider_capacity GROUP BY 1",
}


async def metric_snapshot(pool: asyncpg.Pool) -> dict[str, list[asyncpg.Record]]:
    async with pool.acquire() as conn:
        return {name: await conn.fetch(sql) for name, sql in _METRIC_QUERIES.items()}
