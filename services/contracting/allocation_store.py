"""Contracting's SQL for the allocations (toewijzingen) it learns from intake's events."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Protocol

from services.contracting.domain.declarations import Allocation
from services.runtime.db import Connection


class AllocationStore(Protocol):
    """What the commands that apply intake's allocation events write."""

    async def upsert_allocation(self, allocation: Allocation, issued_at: datetime) -> None: ...
    async def change_allocation(self, allocation: Allocation) -> bool: ...
    async def record_withdrawal(self, allocation_id: uuid.UUID, reason: str, effective: date, at: datetime) -> None: ...
    async def record_care(
        self,
        allocation_id: uuid.UUID,
        *,
        started_on: date | None = None,
        ended_on: date | None = None,
        end_reason: str | None = None,
    ) -> None: ...


class PgAllocationStore:
    """``AllocationStore`` on PostgreSQL, inside the consumer's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def upsert_allocation(self, allocation: Allocation, issued_at: datetime) -> None:
        a = allocation
        await self.conn.execute(
            """INSERT INTO allocation (allocation_id, allocation_number, municipality_code, client_ref, provider_agb,
                                       product_category, product_code, start_date, end_date, volume, unit,
                                       frequency, budget, issued_at)
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

    async def change_allocation(self, allocation: Allocation) -> bool:
        """Its new period, volume and budget (a change never alters the product); False when not known."""
        a = allocation
        status = await self.conn.execute(
            """UPDATE allocation SET start_date = $2, end_date = $3, volume = $4, unit = $5, frequency = $6,
                                     budget = $7
               WHERE allocation_id = $1""",
            a.allocation_id,
            a.start_date,
            a.end_date,
            a.volume,
            a.unit,
            a.frequency,
            a.budget,
        )
        return not status.endswith(" 0")

    async def record_withdrawal(self, allocation_id: uuid.UUID, reason: str, effective: date, at: datetime) -> None:
        await self.conn.execute(
            """INSERT INTO allocation_withdrawal (allocation_id, reason, effective_date, withdrawn_at)
               VALUES ($1, $2, $3, $4) ON CONFLICT (allocation_id) DO NOTHING""",
            allocation_id,
            reason,
            effective,
            at,
        )

    async def record_care(
        self,
        allocation_id: uuid.UUID,
        *,
        started_on: date | None = None,
        ended_on: date | None = None,
        end_reason: str | None = None,
    ) -> None:
        await self.conn.execute(
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


def allocation_store(conn: Connection) -> AllocationStore:
    """The store the consumer of intake's events gives its handlers."""
    return PgAllocationStore(conn)
