"""Intake's SQL: clients (encrypted), referrals with their history, toewijzingen, requests, contracts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

from contracts.codes import RedenWijziging
from services.intake.domain import AllocationFacts
from services.runtime.db import Connection, fetch_one, insert_row, update_row

Conn = Connection


async def upsert_client(conn: Conn, client_ref: str, sealed: bytes, at: datetime) -> None:
    # A youth referred again after an erasure is known again: the new referral brings the data back.
    await conn.execute(
        """INSERT INTO client (client_ref, personal, updated_at) VALUES ($1, $2, $3)
           ON CONFLICT (client_ref) DO UPDATE
           SET personal = EXCLUDED.personal, updated_at = EXCLUDED.updated_at, erased_at = NULL""",
        client_ref,
        sealed,
        at,
    )


async def known_client_ref(conn: Conn | asyncpg.Pool, candidates: list[str]) -> str | None:
    """The first of ``candidates`` (pseudonyms under each key, newest first) intake already knows."""
    known = {
        r["client_ref"]
        for r in await conn.fetch("SELECT client_ref FROM client WHERE client_ref = ANY($1::text[])", candidates)
    }
    return next((ref for ref in candidates if ref in known), None)


async def sealed_clients(conn: Conn | asyncpg.Pool, after: str, limit: int) -> list[asyncpg.Record]:
    """The next ``limit`` clients holding personal data, in client_ref order after ``after``."""
    return await conn.fetch(
        """SELECT client_ref, personal FROM client WHERE personal IS NOT NULL AND client_ref > $1
           ORDER BY client_ref LIMIT $2""",
        after,
        limit,
    )


async def reseal_client(conn: Conn | asyncpg.Pool, client_ref: str, old: bytes, new: bytes) -> bool:
    """Replace a sealed record unless it changed meanwhile (the service rewrote or erased it)."""
    status = await conn.execute(
        "UPDATE client SET personal = $3 WHERE client_ref = $1 AND personal = $2", client_ref, old, new
    )
    return status == "UPDATE 1"


async def erase_client_of_referral(conn: Conn, referral_id: uuid.UUID, at: datetime) -> int | None:
    """Erase the personal data of a referral's youth (and its notes); None for an unknown referral, else 0 or 1."""
    client_ref = await conn.fetchval("SELECT client_ref FROM referral WHERE id = $1", referral_id)
    if client_ref is None:
        return None
    status = await conn.execute(
        "UPDATE client SET personal = NULL, erased_at = $2 WHERE client_ref = $1 AND personal IS NOT NULL",
        client_ref,
        at,
    )
    await _erase_notes(conn, [client_ref])
    return int(status.split()[-1])


async def erase_clients_inactive_since(conn: Conn, cutoff: datetime, cutoff_day: date, at: datetime, limit: int) -> int:
    """Erase the personal data of up to ``limit`` youths with nothing on or after the cut-off: no
    referral, request, toewijzing or care, and no toewijzing running to or past ``cutoff_day``."""
    erased = await conn.fetch(
        """WITH due AS (
               SELECT c.client_ref FROM client c
               WHERE c.personal IS NOT NULL AND c.updated_at < $1
                 AND NOT EXISTS (
                     SELECT 1 FROM referral r WHERE r.client_ref = c.client_ref
                       AND greatest(r.received_at, r.placed_at, r.care_started_at, r.withdrawn_at) >= $1)
                 AND NOT EXISTS (
                     SELECT 1 FROM allocation_request q JOIN referral r ON r.id = q.referral_id
                     WHERE r.client_ref = c.client_ref AND greatest(q.requested_at, q.answered_at) >= $1)
                 AND NOT EXISTS (
                     SELECT 1 FROM allocation a WHERE a.client_ref = c.client_ref
                       AND (greatest(a.issued_at, a.withdrawn_at, a.care_started_at, a.care_ended_at) >= $1
                            OR greatest(a.end_date, a.care_end, a.effective_date) >= $2))
               ORDER BY c.updated_at
               LIMIT $4
               FOR UPDATE OF c SKIP LOCKED)
           UPDATE client SET personal = NULL, erased_at = $3 FROM due WHERE client.client_ref = due.client_ref
           RETURNING client.client_ref""",
        cutoff,
        cutoff_day,
        at,
        limit,
    )
    await _erase_notes(conn, [r["client_ref"] for r in erased])
    return len(erased)


async def _erase_notes(conn: Conn, client_refs: list[str]) -> None:
    """A withdrawal's note is the referrer's own words and may name the youth: only its code stays."""
    await conn.execute(
        """UPDATE referral SET withdrawal_reason = split_part(withdrawal_reason, ':', 1)
           WHERE client_ref = ANY($1::text[]) AND strpos(withdrawal_reason, ':') > 0""",
        client_refs,
    )
    await conn.execute(
        """UPDATE referral_history h SET detail = split_part(h.detail, ':', 1) FROM referral r
           WHERE h.referral_id = r.id AND r.client_ref = ANY($1::text[]) AND h.step = 'withdrawn'
             AND strpos(h.detail, ':') > 0""",
        client_refs,
    )


async def record_erasure(
    conn: Conn,
    *,
    at: datetime,
    actor: str,
    reason: str,
    clients: int,
    referral_id: uuid.UUID | None = None,
    cutoff: datetime | None = None,
) -> None:
    await insert_row(
        conn,
        "personal_data_erasure",
        {"at": at, "actor": actor, "reason": reason, "clients": clients, "referral_id": referral_id, "cutoff": cutoff},
    )


async def erasures(pool: asyncpg.Pool, limit: int) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM personal_data_erasure ORDER BY seq DESC LIMIT $1", limit)


async def insert_referral(conn: Conn, values: dict[str, Any]) -> None:
    await insert_row(conn, "referral", values)


async def lock_referral(conn: Conn, referral_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM referral WHERE id = $1 FOR UPDATE", referral_id)


async def get_referral(conn: Conn | asyncpg.Pool, referral_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM referral WHERE id = $1", referral_id)


async def set_referral_status(
    conn: Conn, referral_id: uuid.UUID, status: str, at: datetime, step: str, detail: str = ""
) -> None:
    await conn.execute("UPDATE referral SET status = $2 WHERE id = $1", referral_id, status)
    await conn.execute(
        "INSERT INTO referral_history (referral_id, at, status, step, detail) VALUES ($1, $2, $3, $4, $5)",
        referral_id,
        at,
        status,
        step,
        detail,
    )


async def mark_placed(conn: Conn, referral_id: uuid.UUID, at: datetime, provider_agb: str) -> None:
    await conn.execute(
        "UPDATE referral SET placed_at = $2, placed_with = $3 WHERE id = $1", referral_id, at, provider_agb
    )


async def mark_care_started(conn: Conn, referral_id: uuid.UUID, at: datetime) -> None:
    # Waiting ends at the first start of care; a later toewijzing does not restart it.
    await conn.execute(
        "UPDATE referral SET care_started_at = coalesce(care_started_at, $2) WHERE id = $1", referral_id, at
    )


async def mark_withdrawn(conn: Conn, referral_id: uuid.UUID, at: datetime, reason: str) -> None:
    await conn.execute(
        "UPDATE referral SET withdrawn_at = $2, withdrawal_reason = $3 WHERE id = $1", referral_id, at, reason
    )


async def history(pool: asyncpg.Pool, referral_id: uuid.UUID) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT at, status, step, detail FROM referral_history WHERE referral_id = $1 ORDER BY seq", referral_id
    )


async def lock_client(conn: Conn, client_ref: str) -> None:
    """Serialise toewijzingen of one client, so two concurrent ones cannot both miss the other (OP259)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"intake.client.{client_ref}")


async def next_allocation_number(conn: Conn, municipality_code: str) -> int:
    return await conn.fetchval(
        """INSERT INTO allocation_number (municipality_code, last_number) VALUES ($1, 1)
           ON CONFLICT (municipality_code) DO UPDATE SET last_number = allocation_number.last_number + 1
           RETURNING last_number""",
        municipality_code,
    )


async def insert_allocation(conn: Conn, values: dict[str, Any]) -> None:
    await insert_row(conn, "allocation", values)


async def lock_allocation(conn: Conn, allocation_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM allocation WHERE id = $1 FOR UPDATE", allocation_id)


async def allocations_of_client(conn: Conn, client_ref: str, exclude: uuid.UUID | None = None) -> list[AllocationFacts]:
    rows = await conn.fetch(
        "SELECT * FROM allocation WHERE client_ref = $1 AND id IS DISTINCT FROM $2", client_ref, exclude
    )
    return [facts(r) for r in rows]


async def allocations_of_referral(conn: Conn | asyncpg.Pool, referral_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM allocation WHERE referral_id = $1 ORDER BY issued_at", referral_id)


def facts(row: asyncpg.Record) -> AllocationFacts:
    return AllocationFacts(
        product_category=row["product_category"],
        product_code=row["product_code"],
        start_date=row["start_date"],
        end_date=row["end_date"],
        withdrawn=row["withdrawn_at"] is not None,
        withdrawal_reason=RedenWijziging(row["withdrawal_reason"]) if row["withdrawal_reason"] else None,
        effective_date=row["effective_date"],
        care_start=row["care_start"],
        care_end=row["care_end"],
        number=row["number"],
    )


async def update_allocation(conn: Conn, allocation_id: uuid.UUID, **values: Any) -> None:
    await update_row(conn, "allocation", allocation_id, values)


async def insert_request(conn: Conn, values: dict[str, Any]) -> None:
    await insert_row(conn, "allocation_request", values)


async def lock_request(conn: Conn, request_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM allocation_request WHERE id = $1 FOR UPDATE", request_id)


async def answer_request(
    conn: Conn,
    request_id: uuid.UUID,
    at: datetime,
    answer: str,
    rejection_reason: str | None = None,
    allocation_id: uuid.UUID | None = None,
) -> None:
    await conn.execute(
        """UPDATE allocation_request SET answered_at = $2, answer = $3, rejection_reason = $4, allocation_id = $5
           WHERE id = $1""",
        request_id,
        at,
        answer,
        rejection_reason,
        allocation_id,
    )


async def list_requests(
    pool: asyncpg.Pool, *, municipality_code: str | None, provider_agb: str | None, open_only: bool
) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT * FROM allocation_request
           WHERE ($1::text IS NULL OR municipality_code = $1) AND ($2::text IS NULL OR provider_agb = $2)
             AND (NOT $3 OR answered_at IS NULL)
           ORDER BY requested_at""",
        municipality_code,
        provider_agb,
        open_only,
    )


async def claim_newly_overdue(conn: Conn, now: datetime) -> list[asyncpg.Record]:
    """Open requests past their deadline that were not yet reported, marked reported now."""
    return await conn.fetch(
        """UPDATE allocation_request SET overdue_at = $1
           WHERE id IN (SELECT id FROM allocation_request
                        WHERE answered_at IS NULL AND overdue_at IS NULL AND answer_due < $1
                        ORDER BY answer_due FOR UPDATE SKIP LOCKED)
           RETURNING *""",
        now,
    )


async def count_overdue_open(pool: asyncpg.Pool, now: datetime) -> int:
    return await pool.fetchval(
        "SELECT count(*) FROM allocation_request WHERE answered_at IS NULL AND answer_due < $1", now
    )


async def upsert_contract(
    conn: Conn, contract_id: uuid.UUID, provider_agb: str, valid_from: date, valid_to: date
) -> None:
    await conn.execute(
        """INSERT INTO provider_contract (contract_id, provider_agb, valid_from, valid_to) VALUES ($1, $2, $3, $4)
           ON CONFLICT (contract_id) DO UPDATE SET valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to""",
        contract_id,
        provider_agb,
        valid_from,
        valid_to,
    )


async def end_contract(conn: Conn, contract_id: uuid.UUID, provider_agb: str, end_date: date) -> None:
    # An end may arrive for a contract admitted before intake listened: remember it anyway.
    await conn.execute(
        """INSERT INTO provider_contract (contract_id, provider_agb, valid_from, valid_to, ended_on)
           VALUES ($1, $2, $3, $3, $3)
           ON CONFLICT (contract_id) DO UPDATE SET ended_on = EXCLUDED.ended_on""",
        contract_id,
        provider_agb,
        end_date,
    )


async def contracted(conn: Conn, provider_agb: str, day: date) -> bool | None:
    """Whether ``provider_agb`` holds a contract on ``day``; None while intake knows no contracts at all."""
    row = await fetch_one(
        conn,
        """SELECT count(*) AS known,
                  count(*) FILTER (WHERE provider_agb = $1 AND valid_from <= $2 AND valid_to >= $2
                                   AND (ended_on IS NULL OR ended_on >= $2)) AS holding
           FROM provider_contract""",
        provider_agb,
        day,
    )
    return None if row["known"] == 0 else row["holding"] > 0


async def open_referrals_submitted_since(conn: Conn, submitted_by: str, since: datetime, categories: list[str]) -> int:
    """How many referrals of ``categories`` ``submitted_by`` made since ``since`` that are neither placed
    nor withdrawn; the caller holds the submitter's lock, so two requests cannot both see room for one."""
    return await conn.fetchval(
        """SELECT count(*) FROM referral
           WHERE submitted_by = $1 AND received_at >= $2 AND product_category = ANY($3::text[])
             AND placed_at IS NULL AND withdrawn_at IS NULL""",
        submitted_by,
        since,
        categories,
    )
