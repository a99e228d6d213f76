"""Capacity's SQL: reports with history, shortage state per setting, alerts."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

import asyncpg

from contracts.capacity import AlertAcknowledged
from contracts.envelope import Envelope
from contracts.verblijf import Setting
from services.capacity.domain import Candidate, CapacityFigures, ProviderCapacity
from services.runtime.db import Connection, fetch_one
from services.runtime.signal import channel_name, notify


async def insert_report(
    conn: Connection,
    agb: str,
    setting: str,
    figures: CapacityFigures,
    reported_at: datetime,
    reported_by: str,
) -> int:
    report_id = await conn.fetchval(
        """INSERT INTO capacity_report (agb, setting, total, occupied, closed_to_admission, age_min,
                                        age_max, reported_at, reported_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id""",
        agb,
        setting,
        figures.total,
        figures.occupied,
        figures.closed_to_admission,
        figures.age_min,
        figures.age_max,
        reported_at,
        reported_by,
    )
    await conn.execute(
        """INSERT INTO capacity_current (agb, setting, report_id) VALUES ($1, $2, $3)
           ON CONFLICT (agb, setting) DO UPDATE SET report_id = EXCLUDED.report_id""",
        agb,
        setting,
        report_id,
    )
    return report_id


async def lock_setting(conn: Connection, setting: str) -> asyncpg.Record:
    """Lock the setting's shortage state for the rest of the transaction and return it.

    Takes the alert-order lock first: a transaction that may raise an alert holds it before any
    setting lock, so two of them can never wait on each other in opposite order.
    """
    await lock_alert_order(conn)
    await conn.execute("INSERT INTO setting_state (setting) VALUES ($1) ON CONFLICT DO NOTHING", setting)
    return await fetch_one(
        conn, "SELECT shortage_id, shortage_since FROM setting_state WHERE setting = $1 FOR UPDATE", setting
    )


async def lock_settings(conn: Connection, settings: Iterable[str]) -> dict[str, asyncpg.Record]:
    """Lock the shortage state of several settings, always in the same order (no deadlocks)."""
    return {s: await lock_setting(conn, s) for s in sorted(set(settings))}


# Places an open proposal holds are not free: two youths must never be offered the same bed.
_OFFERS = """
    SELECT c.agb, c.setting, r.total, r.occupied, r.closed_to_admission, r.age_min, r.age_max,
           p.municipality_code,
           (SELECT count(*) FROM proposal o
             WHERE o.agb = c.agb AND o.setting = c.setting AND o.outcome IS NULL)::int AS reserved,
           (SELECT max(o.proposed_at) FROM proposal o WHERE o.agb = c.agb) AS last_proposed_at
    FROM capacity_current c
    JOIN capacity_report r ON r.id = c.report_id
    JOIN provider p ON p.agb = c.agb
    WHERE c.setting = ANY($1::text[])
      AND EXISTS (SELECT 1 FROM provider_admission a
                   WHERE a.agb = c.agb AND a.setting = c.setting AND a.ended_at IS NULL)
"""


def _capacity(row: asyncpg.Record) -> ProviderCapacity:
    return ProviderCapacity(row["total"], row["occupied"], row["closed_to_admission"], row["reserved"])


async def providers_of(conn: Connection, setting: str) -> list[ProviderCapacity]:
    """The current figures of every admitted provider in ``setting``, reservations included."""
    return [_capacity(r) for r in await conn.fetch(_OFFERS, [setting])]


async def candidates(conn: Connection, settings: Iterable[str]) -> list[Candidate]:
    return [
        Candidate(
            agb=r["agb"],
            setting=Setting(r["setting"]),
            free=_capacity(r).free,
            age_min=r["age_min"],
            age_max=r["age_max"],
            municipality_code=r["municipality_code"],
            last_proposed_at=r["last_proposed_at"],
        )
        for r in await conn.fetch(_OFFERS, list(settings))
    ]


async def current_report(conn: Connection, agb: str, setting: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT r.* FROM capacity_current c JOIN capacity_report r ON r.id = c.report_id
           WHERE c.agb = $1 AND c.setting = $2""",
        agb,
        setting,
    )


async def waiting(conn: Connection, setting: str) -> int:
    """Youths waiting urgently with no place proposed, who count as demand for ``setting``."""
    return await conn.fetchval(
        """SELECT count(*) FROM placement
           WHERE status = 'open' AND demand_setting = $1 AND urgency IN ('spoed', 'crisis')""",
        setting,
    )


async def open_shortage(
    conn: Connection,
    shortage_id: uuid.UUID,
    setting: str,
    severity: str,
    free: int,
    waiting: int,
    detected_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO shortage (id, setting, severity, free_places, waiting, detected_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        shortage_id,
        setting,
        severity,
        free,
        waiting,
        detected_at,
    )
    await conn.execute(
        "UPDATE setting_state SET shortage_id = $2, shortage_since = $3 WHERE setting = $1",
        setting,
        shortage_id,
        detected_at,
    )


async def shortage_severity(conn: Connection, shortage_id: uuid.UUID) -> str:
    return await conn.fetchval("SELECT severity FROM shortage WHERE id = $1", shortage_id)


async def change_shortage(conn: Connection, shortage_id: uuid.UUID, severity: str, free: int, waiting: int) -> None:
    await conn.execute(
        "UPDATE shortage SET severity = $2, free_places = $3, waiting = $4 WHERE id = $1",
        shortage_id,
        severity,
        free,
        waiting,
    )


async def close_shortage(conn: Connection, setting: str, shortage_id: uuid.UUID, at: datetime) -> None:
    await conn.execute("UPDATE shortage SET resolved_at = $2 WHERE id = $1", shortage_id, at)
    await conn.execute("UPDATE setting_state SET shortage_id = NULL, shortage_since = NULL WHERE setting = $1", setting)


# Alerts are numbered in commit order, not insert order: a reader resuming after seq N must
# never find a smaller seq committed later. Alerts are rare, so serialising them costs nothing.
_ALERT_ORDER_LOCK = 0x5C4A_A1E7


async def lock_alert_order(conn: Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _ALERT_ORDER_LOCK)


async def insert_alert(conn: Connection, envelope: Envelope, setting: str | None) -> None:
    await lock_alert_order(conn)
    await conn.execute(
        "INSERT INTO alert (id, type, setting, envelope, created_at) VALUES ($1, $2, $3, $4::jsonb, $5)",
        envelope.id,
        envelope.type,
        setting,
        envelope.model_dump_json(),
        envelope.time,
    )


async def alerts_after(pool: asyncpg.Pool, seq: int, limit: int = 500) -> list[asyncpg.Record]:
    """Alerts after ``seq`` in order: what the SSE stream and the webhooks deliver next."""
    return await pool.fetch(
        "SELECT seq, id, type, envelope::text AS envelope FROM alert WHERE seq > $1 ORDER BY seq LIMIT $2",
        seq,
        limit,
    )


async def latest_alert_seq(pool: asyncpg.Pool) -> int:
    """Where a new subscriber starts: after everything raised so far."""
    return await pool.fetchval(f"SELECT {LATEST_ALERT_SEQ}")


LATEST_ALERT_SEQ = "(SELECT coalesce(max(seq), 0) FROM alert)"


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


async def acknowledge_alert(
    conn: Connection, alert_id: uuid.UUID, by: str, role: str, at: datetime
) -> asyncpg.Record | None:
    """Mark the alert acknowledged unless it already is; returns the alert row, or None if unknown."""
    row = await conn.fetchrow("SELECT id, type, acknowledged_at FROM alert WHERE id = $1 FOR UPDATE", alert_id)
    if row and row["acknowledged_at"] is None:
        await conn.execute(
            "UPDATE alert SET acknowledged_at = $2, acknowledged_by = $3, acknowledged_role = $4 WHERE id = $1",
            alert_id,
            at,
            by,
            role,
        )
    return row


async def current_reports(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """The latest report of every admitted provider and setting, with the setting's shortage state."""
    return await pool.fetch(
        f"""SELECT o.*, r.reported_at, s.shortage_since
            FROM ({_OFFERS}) o
            JOIN capacity_current c ON c.agb = o.agb AND c.setting = o.setting
            JOIN capacity_report r ON r.id = c.report_id
            LEFT JOIN setting_state s ON s.setting = o.setting
            ORDER BY o.setting, o.agb""",
        [str(s) for s in Setting],
    )


async def report_history(pool: asyncpg.Pool, agb: str, setting: str, limit: int) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT total, occupied, closed_to_admission, age_min, age_max, reported_at
           FROM capacity_report WHERE agb = $1 AND setting = $2 ORDER BY reported_at DESC, id DESC LIMIT $3""",
        agb,
        setting,
        limit,
    )


ALERT_CHANNEL = "capacity_alerts"


async def notify_alerts(conn: Connection, schema: str) -> None:
    await notify(conn, channel_name(ALERT_CHANNEL, schema))


# --- Providers -------------------------------------------------------------------------------


async def admit_provider(
    conn: Connection,
    agb: str,
    settings: Iterable[str],
    origin: str,
    at: datetime,
    municipality_code: str | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO provider (agb, municipality_code, registered_at) VALUES ($1, $2, $3)
           ON CONFLICT (agb) DO UPDATE SET municipality_code = coalesce(EXCLUDED.municipality_code,
                                                                        provider.municipality_code)""",
        agb,
        municipality_code,
        at,
    )
    await conn.executemany(
        """INSERT INTO provider_admission (agb, setting, origin, admitted_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (agb, setting, origin) DO UPDATE SET ended_at = NULL, admitted_at = EXCLUDED.admitted_at""",
        [(agb, s, origin, at) for s in settings],
    )


async def end_admissions(
    conn: Connection, origin: str, at: datetime, settings: Iterable[str] | None = None
) -> list[str]:
    """End what ``origin`` admitted (optionally only some settings); returns the settings ended."""
    rows = await conn.fetch(
        """UPDATE provider_admission SET ended_at = $2
           WHERE origin = $1 AND ended_at IS NULL AND ($3::text[] IS NULL OR setting = ANY($3::text[]))
           RETURNING setting""",
        origin,
        at,
        None if settings is None else list(settings),
    )
    return [r["setting"] for r in rows]


async def admitted_settings(conn: Connection | asyncpg.Pool, agb: str) -> set[str]:
    rows = await conn.fetch("SELECT DISTINCT setting FROM provider_admission WHERE agb = $1 AND ended_at IS NULL", agb)
    return {r["setting"] for r in rows}


async def stale_reports(pool: asyncpg.Pool, older_than: datetime) -> list[asyncpg.Record]:
    """Current reports of admitted providers not refreshed since ``older_than`` and not yet alerted."""
    return await pool.fetch(
        """SELECT c.agb, c.setting, c.report_id, r.reported_at
           FROM capacity_current c JOIN capacity_report r ON r.id = c.report_id
           WHERE r.reported_at <= $1 AND c.stale_alerted_report_id IS DISTINCT FROM c.report_id
             AND EXISTS (SELECT 1 FROM provider_admission a
                          WHERE a.agb = c.agb AND a.setting = c.setting AND a.ended_at IS NULL)""",
        older_than,
    )


async def mark_stale_alerted(conn: Connection, agb: str, setting: str, report_id: int) -> bool:
    """Claim the stale alert for this report; False when another worker already raised it."""
    status = await conn.execute(
        """UPDATE capacity_current SET stale_alerted_report_id = $3
           WHERE agb = $1 AND setting = $2 AND report_id = $3
             AND stale_alerted_report_id IS DISTINCT FROM $3""",
        agb,
        setting,
        report_id,
    )
    return status.endswith(" 1")
