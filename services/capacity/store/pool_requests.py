"""SQL of places asked across a pool: other members' requests held for their youths in this region
(``pool_request``), and the places other members told their pool they have free (``pool_offers``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime

import asyncpg

from contracts.capacity import DeclineReason
from contracts.codes import Urgentie
from services.capacity.pool_rules import PoolOffer
from services.capacity.store.records import PoolRequest
from services.runtime.db import Connection, insert_row


def _request(row: asyncpg.Record) -> PoolRequest:
    return PoolRequest(
        **{
            **dict(row),
            "urgency": Urgentie(row["urgency"]),
            "reason": DeclineReason(row["reason"]) if row["reason"] else None,
        }
    )


class PoolRequests:
    """Requests across the pool, on the connection of a ``CapacityStore``."""

    _conn: Connection

    async def pool_offers(self, pool: str, region: str, settings: Iterable[str]) -> list[PoolOffer]:
        """The providers of the other members of ``pool`` with a free place in ``settings``, as last told,
        less the places this region asked of them since (their next report will count those)."""
        rows = await self._conn.fetch(
            """SELECT * FROM (
                   SELECT c.pool, c.region, c.agb, c.setting,
                          c.free - (SELECT count(*) FROM proposal o
                                     WHERE o.outcome IS NULL AND o.region = c.region AND o.agb = c.agb
                                       AND o.setting = c.setting AND o.proposed_at > c.reported_at)::int AS free
                   FROM pool_capacity c
                   WHERE c.pool = $1 AND c.region <> $2 AND c.setting = ANY($3::text[])) offers
               WHERE free > 0""",
            pool,
            region,
            list(settings),
        )
        return [PoolOffer(**dict(r)) for r in rows]

    async def insert_pool_request(self, request: PoolRequest) -> bool:
        """Hold a place for another member's youth; False when the request was received before."""
        status = await insert_row(self._conn, "pool_request", asdict(request), "ON CONFLICT (id) DO NOTHING")
        return status.endswith(" 1")

    async def pool_request(self, request_id: uuid.UUID) -> PoolRequest | None:
        """The request, locked for the rest of the transaction."""
        row = await self._conn.fetchrow("SELECT * FROM pool_request WHERE id = $1 FOR UPDATE", request_id)
        return None if row is None else _request(row)

    async def decide_pool_request(
        self, request_id: uuid.UUID, outcome: str, reason: DeclineReason | None, note: str | None, at: datetime
    ) -> None:
        await self._conn.execute(
            "UPDATE pool_request SET outcome = $2, reason = $3, note = $4, decided_at = $5 WHERE id = $1",
            request_id,
            outcome,
            reason,
            note,
            at,
        )

    async def lapsed_pool_requests(self, now: datetime) -> list[uuid.UUID]:
        """Open requests whose reservation ran out by ``now``."""
        rows = await self._conn.fetch("SELECT id FROM pool_request WHERE outcome IS NULL AND reserved_until <= $1", now)
        return [r["id"] for r in rows]
