"""Contracting's SQL for declarations: what a declaration is checked against (allocations, contracts,
standing bookings), the stored answers, and the bookings cumulative checks count."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg

from contracts.contracting import ContractKind
from services.contracting.contract_store import lot_of, tariffs_of
from services.contracting.domain.declarations import (
    Allocation,
    AssessedDeclaration,
    Booking,
    Contract,
    Declaration,
)
from services.runtime.db import Connection


@dataclass(frozen=True)
class StoredDeclaration:
    """A declaration as submitted (its fingerprint) and answered; it never changes afterwards."""

    provider_agb: str
    fingerprint: str
    answer: AssessedDeclaration


class DeclarationStore(Protocol):
    """What submitting a declaration reads and writes, and what reading one back needs."""

    async def lock_number(self, agb: str, number: str) -> None: ...
    async def find_declaration(self, agb: str, number: str) -> StoredDeclaration | None: ...
    async def get_declaration(self, declaration_id: uuid.UUID) -> StoredDeclaration | None: ...
    async def lock_allocations(self, agb: str, numbers: Sequence[int]) -> list[Allocation]: ...
    async def provider_contracts(self, agb: str) -> list[Contract]: ...
    async def standing_bookings(self, allocation_ids: Sequence[uuid.UUID]) -> list[Booking]: ...
    async def insert_declaration(self, declaration: Declaration, answer: AssessedDeclaration) -> None: ...
    async def book(self, bookings: Sequence[Booking], credited: Sequence[Booking], by: uuid.UUID) -> None: ...


_DECLARATION_COLUMNS = "provider_agb, body_hash, result::text AS result"


class PgDeclarationStore:
    """``DeclarationStore`` on PostgreSQL, inside the unit of work's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def lock_number(self, agb: str, number: str) -> None:
        """Serialise re-posts of one declaration number until the transaction ends."""
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"declaration:{agb}:{number}")

    async def find_declaration(self, agb: str, number: str) -> StoredDeclaration | None:
        row = await self.conn.fetchrow(
            f"SELECT {_DECLARATION_COLUMNS} FROM declaration WHERE provider_agb = $1 AND declaration_number = $2",
            agb,
            number,
        )
        return _declaration(row) if row else None

    async def get_declaration(self, declaration_id: uuid.UUID) -> StoredDeclaration | None:
        row = await self.conn.fetchrow(f"SELECT {_DECLARATION_COLUMNS} FROM declaration WHERE id = $1", declaration_id)
        return _declaration(row) if row else None

    async def lock_allocations(self, agb: str, numbers: Sequence[int]) -> list[Allocation]:
        """The provider's allocations with these numbers, locked so that concurrent declarations against one
        allocation are assessed one after the other (the cumulative checks depend on it)."""
        rows = await self.conn.fetch(
            """SELECT a.*, w.reason AS withdrawn_reason, w.effective_date AS withdrawn_on
               FROM allocation a LEFT JOIN allocation_withdrawal w USING (allocation_id)
               WHERE a.provider_agb = $1 AND a.allocation_number = ANY($2::int[])
               ORDER BY a.allocation_id FOR UPDATE OF a""",
            agb,
            list(set(numbers)),
        )
        return [Allocation(**{k: r[k] for k in Allocation.__dataclass_fields__}) for r in rows]

    async def provider_contracts(self, agb: str) -> list[Contract]:
        rows = await self.conn.fetch(
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
                lot=lot_of({"code": r["lot"], "terms": r["terms"], "status": r["status"]}),
                valid_from=r["valid_from"],
                valid_to=r["valid_to"],
                client_ref=r["client_ref"],
                ended_on=r["ended_on"],
                tariffs=tariffs_of(r["tariffs"]),
            )
            for r in rows
        ]

    async def standing_bookings(self, allocation_ids: Sequence[uuid.UUID]) -> list[Booking]:
        rows = await self.conn.fetch(
            """SELECT declaration_id, line_number, allocation_id, product_code, period_start, period_end, volume,
                      amount
               FROM booking WHERE allocation_id = ANY($1::uuid[]) AND credited_by IS NULL
               ORDER BY declaration_id, line_number""",
            list(allocation_ids),
        )
        return [Booking(**dict(r)) for r in rows]

    async def insert_declaration(self, declaration: Declaration, answer: AssessedDeclaration) -> None:
        await self.conn.execute(
            """INSERT INTO declaration (id, provider_agb, declaration_number, body_hash, municipality_code,
                                        period_start, period_end, result, submitted_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)""",
            answer.declaration_id,
            declaration.provider_agb,
            declaration.declaration_number,
            declaration.fingerprint(),
            declaration.municipality_code,
            declaration.period_start,
            declaration.period_end,
            answer.model_dump_json(),
            answer.submitted_at,
        )

    async def book(self, bookings: Sequence[Booking], credited: Sequence[Booking], by: uuid.UUID) -> None:
        """Record the newly approved debit lines, and mark the lines ``by``'s credits reversed."""
        await self.conn.executemany(
            """INSERT INTO booking (declaration_id, line_number, allocation_id, product_code, period_start,
                                    period_end, volume, amount) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
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
        await self.conn.executemany(
            "UPDATE booking SET credited_by = $3 WHERE declaration_id = $1 AND line_number = $2",
            [(b.declaration_id, b.line_number, by) for b in credited],
        )


def _declaration(row: asyncpg.Record) -> StoredDeclaration:
    return StoredDeclaration(
        provider_agb=row["provider_agb"],
        fingerprint=row["body_hash"],
        answer=AssessedDeclaration.model_validate_json(row["result"]),
    )


def declaration_store(conn: Connection) -> DeclarationStore:
    """The store a unit of work of submitting (or reading) a declaration gets."""
    return PgDeclarationStore(conn)
