"""Contracting's SQL: lots, applications and the waitlist, contracts, allocations learned from intake,
declarations and the bookings (approved lines) cumulative checks count."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeAlias

import asyncpg

from contracts.contracting import ContractKind
from services.contracting.domain import Allocation, Booking, Contract
from services.contracting.lots import Evidence, Lot, Tariff
from services.runtime.db import Connection

Conn: TypeAlias = "Connection | asyncpg.Pool[asyncpg.Record]"


def _lot(row: asyncpg.Record | Mapping[str, Any]) -> Lot:
    return Lot.model_validate({**json.loads(row["terms"]), "code": row["code"], "status": row["status"]})


async def seed_lots(conn: Conn, lots: Sequence[Lot], at: datetime) -> None:
    """Insert the lots not yet known; an admin's later edits are never overwritten by the seed."""
    await conn.executemany(
        """INSERT INTO lot (code, terms, status, updated_at, updated_by) VALUES ($1, $2::jsonb, $3, $4, 'seed')
           ON CONFLICT (code) DO NOTHING""",
        [(lot.code, lot.model_dump_json(exclude={"code", "status"}), lot.status.value, at) for lot in lots],
    )


async def all_lots(conn: Conn) -> list[Lot]:
    return [_lot(r) for r in await conn.fetch("SELECT code, terms::text AS terms, status FROM lot ORDER BY code")]


async def get_lot(conn: Conn, code: str, *, lock: bool = False) -> Lot | None:
    row = await conn.fetchrow(
        f"SELECT code, terms::text AS terms, status FROM lot WHERE code = $1{' FOR UPDATE' if lock else ''}", code
    )
    return _lot(row) if row else None


async def put_lot(conn: Conn, lot: Lot, at: datetime, by: str) -> None:
    await conn.execute(
        """INSERT INTO lot (code, terms, status, updated_at, updated_by) VALUES ($1, $2::jsonb, $3, $4, $5)
           ON CONFLICT (code) DO UPDATE SET terms = EXCLUDED.terms, status = EXCLUDED.status,
                                            updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by""",
        lot.code,
        lot.model_dump_json(exclude={"code", "status"}),
        lot.status.value,
        at,
        by,
    )


async def insert_application(
    conn: Conn, application_id: uuid.UUID, agb: str, kvk: str, evidence: Sequence[Evidence], at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO application (id, provider_agb, kvk, evidence, received_at) VALUES ($1, $2, $3, $4::jsonb, $5)",
        application_id,
        agb,
        kvk,
        json.dumps([e.model_dump(mode="json") for e in evidence]),
        at,
    )


async def record_decision(
    conn: Conn, application_id: uuid.UUID, lot: str, outcome: str, reasons: Sequence[str], at: datetime
) -> None:
    await conn.execute(
        """INSERT INTO application_lot (application_id, lot, outcome, reasons, decided_at)
           VALUES ($1, $2, $3, $4::jsonb, $5)
           ON CONFLICT (application_id, lot) DO UPDATE SET outcome = EXCLUDED.outcome, reasons = EXCLUDED.reasons,
                                                           decided_at = EXCLUDED.decided_at""",
        application_id,
        lot,
        outcome,
        json.dumps(list(reasons)),
        at,
    )


async def join_waitlist(conn: Conn, lot: str, application_id: uuid.UUID, agb: str, at: datetime) -> int:
    """Put the provider at the back of the lot's waitlist; returns its position."""
    seq = await conn.fetchval(
        "INSERT INTO waitlist (lot, application_id, provider_agb, waitlisted_at) VALUES ($1, $2, $3, $4) RETURNING seq",
        lot,
        application_id,
        agb,
        at,
    )
    return await conn.fetchval(
        "SELECT count(*) FROM waitlist WHERE lot = $1 AND left_at IS NULL AND seq <= $2", lot, seq
    )


async def waitlist_position(conn: Conn, lot: str, agb: str) -> int | None:
    return await conn.fetchval(
        """SELECT (SELECT count(*) FROM waitlist o WHERE o.lot = w.lot AND o.left_at IS NULL AND o.seq <= w.seq)
           FROM waitlist w WHERE w.lot = $1 AND w.provider_agb = $2 AND w.left_at IS NULL""",
        lot,
        agb,
    )


async def waiting(conn: Conn, lot: str) -> list[asyncpg.Record]:
    """Who waits for ``lot``, first come first; with the evidence they applied with."""
    return await conn.fetch(
        """SELECT w.seq, w.application_id, w.provider_agb, a.evidence::text AS evidence
           FROM waitlist w JOIN application a ON a.id = w.application_id
           WHERE w.lot = $1 AND w.left_at IS NULL ORDER BY w.seq FOR UPDATE OF w""",
        lot,
    )


async def leave_waitlist(conn: Conn, seq: int, outcome: str, at: datetime) -> None:
    await conn.execute("UPDATE waitlist SET left_at = $2, outcome = $3 WHERE seq = $1", seq, at, outcome)


async def insert_contract(
    conn: Conn,
    contract_id: uuid.UUID,
    kind: ContractKind,
    agb: str,
    lot: str,
    valid_from: date,
    valid_to: date,
    at: datetime,
    *,
    client_ref: str | None = None,
    tariffs: Sequence[Tariff] = (),
    application_id: uuid.UUID | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO contract (id, kind, provider_agb, lot, client_ref, valid_from, valid_to, tariffs,
                                 application_id, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)""",
        contract_id,
        kind.value,
        agb,
        lot,
        client_ref,
        valid_from,
        valid_to,
        json.dumps([t.model_dump(mode="json") for t in tariffs]),
        application_id,
        at,
    )


async def running_open_house(conn: Conn, agb: str, lot: str) -> uuid.UUID | None:
    return await conn.fetchval(
        "SELECT id FROM contract WHERE provider_agb = $1 AND lot = $2 AND kind = 'open_house' AND ended_on IS NULL",
        agb,
        lot,
    )


_CONTRACT_COLUMNS = """id, kind, provider_agb, lot, client_ref, valid_from, valid_to, tariffs::text AS tariffs,
                       application_id, created_at, ended_on, end_reason"""


async def list_contracts(conn: Conn, agb: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_CONTRACT_COLUMNS} FROM contract WHERE $1::text IS NULL OR provider_agb = $1 "
        "ORDER BY provider_agb, lot, created_at",
        agb,
    )


async def get_contract(conn: Conn, contract_id: uuid.UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_CONTRACT_COLUMNS} FROM contract WHERE id = $1{' FOR UPDATE' if lock else ''}", contract_id
    )


async def end_contract(conn: Conn, contract_id: uuid.UUID, end_date: date, reason: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE contract SET ended_on = $2, end_reason = $3, ended_at = $4 WHERE id = $1",
        contract_id,
        end_date,
        reason,
        at,
    )


async def provider_contracts(conn: Conn, agb: str) -> list[Contract]:
    rows = await conn.fetch(
        """SELECT c.id, c.kind, c.provider_agb, c.lot, c.client_ref, c.valid_from, c.valid_to,
                  c.tariffs::text AS tariffs, c.ended_on, l.terms::text AS terms, l.status
           FROM contract c JOIN lot l ON l.code = c.lot WHERE c.provider_agb = $1""",
        agb,
    )
    return [
        Contract(
            contract_id=r["id"],
            kind=ContractKind(r["kind"]),
            provider_agb=r["provider_agb"],
            lot=_lot({"code": r["lot"], "terms": r["terms"], "status": r["status"]}),
            valid_from=r["valid_from"],
            valid_to=r["valid_to"],
            client_ref=r["client_ref"],
            ended_on=r["ended_on"],
            tariffs=tuple(Tariff(**t) for t in json.loads(r["tariffs"])),
        )
        for r in rows
    ]


async def upsert_allocation(conn: Conn, a: Allocation, issued_at: datetime) -> None:
    await conn.execute(
        """INSERT INTO allocation (allocation_id, allocation_number, municipality_code, client_ref, provider_agb,
                                   product_category, product_code, start_date, end_date, volume, unit, frequency,
                                   budget, issued_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT (allocation_id) DO NOTHING""",
        a.allocation_id,
        a.allocation_number,
        a.municipality_code,
        a.client_ref,
        a.provider_agb,
        a.product_category,
        a.product_code,
        a.start_date,
        a.end_date,
        a.volume,
        a.unit,
        a.frequency,
        a.budget,
        issued_at,
    )


async def change_allocation(conn: Conn, a: Allocation) -> str:
    return await conn.execute(
        """UPDATE allocation SET start_date = $2, end_date = $3, volume = $4, unit = $5, frequency = $6, budget = $7
           WHERE allocation_id = $1""",
        a.allocation_id,
        a.start_date,
        a.end_date,
        a.volume,
        a.unit,
        a.frequency,
        a.budget,
    )


async def record_withdrawal(conn: Conn, allocation_id: uuid.UUID, reason: str, effective: date, at: datetime) -> None:
    await conn.execute(
        """INSERT INTO allocation_withdrawal (allocation_id, reason, effective_date, withdrawn_at)
           VALUES ($1, $2, $3, $4) ON CONFLICT (allocation_id) DO NOTHING""",
        allocation_id,
        reason,
        effective,
        at,
    )


async def record_care(
    conn: Conn,
    allocation_id: uuid.UUID,
    *,
    started_on: date | None = None,
    ended_on: date | None = None,
    end_reason: str | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO allocation_care (allocation_id, started_on, ended_on, end_reason) VALUES ($1, $2, $3, $4)
           ON CONFLICT (allocation_id) DO UPDATE SET
               started_on = coalesce(EXCLUDED.started_on, allocation_care.started_on),
               ended_on = coalesce(EXCLUDED.ended_on, allocation_care.ended_on),
               end_reason = coalesce(EXCLUDED.end_reason, allocation_care.end_reason)""",
        allocation_id,
        started_on,
        ended_on,
        end_reason,
    )


async def lock_allocations(conn: Connection, agb: str, numbers: Sequence[int]) -> list[Allocation]:
    """The provider's allocations with these numbers, locked so that concurrent declarations against one
    allocation are assessed one after the other (the cumulative checks depend on it)."""
    rows = await conn.fetch(
        """SELECT a.*, w.reason AS withdrawn_reason, w.effective_date AS withdrawn_on
           FROM allocation a LEFT JOIN allocation_withdrawal w USING (allocation_id)
           WHERE a.provider_agb = $1 AND a.allocation_number = ANY($2::int[])
           ORDER BY a.allocation_id FOR UPDATE OF a""",
        agb,
        list(set(numbers)),
    )
    return [Allocation(**{k: r[k] for k in Allocation.__dataclass_fields__}) for r in rows]


async def standing_bookings(conn: Conn, allocation_ids: Sequence[uuid.UUID]) -> list[Booking]:
    rows = await conn.fetch(
        """SELECT declaration_id, line_number, allocation_id, product_code, period_start, period_end, volume, amount
           FROM booking WHERE allocation_id = ANY($1::uuid[]) AND credited_by IS NULL
           ORDER BY declaration_id, line_number""",
        list(allocation_ids),
    )
    return [Booking(**dict(r)) for r in rows]


async def book(conn: Conn, bookings: Sequence[Booking], credited: Sequence[Booking], by: uuid.UUID) -> None:
    await conn.executemany(
        """INSERT INTO booking (declaration_id, line_number, allocation_id, product_code, period_start, period_end,
                                volume, amount) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        [
            (
                b.declaration_id,
                b.line_number,
                b.allocation_id,
                b.product_code,
                b.period_start,
                b.period_end,
                b.volume,
                b.amount,
            )
            for b in bookings
        ],
    )
    await conn.executemany(
        "UPDATE booking SET credited_by = $3 WHERE declaration_id = $1 AND line_number = $2",
        [(b.declaration_id, b.line_number, by) for b in credited],
    )


async def find_declaration(conn: Conn, agb: str, number: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, body_hash, result::text AS result FROM declaration WHERE provider_agb = $1 "
        "AND declaration_number = $2",
        agb,
        number,
    )


async def insert_declaration(
    conn: Conn,
    declaration_id: uuid.UUID,
    agb: str,
    number: str,
    body_hash: str,
    municipality_code: str,
    period_start: date,
    period_end: date,
    result_json: str,
    at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO declaration (id, provider_agb, declaration_number, body_hash, municipality_code, period_start,
                                    period_end, result, submitted_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)""",
        declaration_id,
        agb,
        number,
        body_hash,
        municipality_code,
        period_start,
        period_end,
        result_json,
        at,
    )


async def get_declaration(conn: Conn, declaration_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT provider_agb, result::text AS result FROM declaration WHERE id = $1", declaration_id
    )
