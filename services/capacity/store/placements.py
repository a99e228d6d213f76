"""SQL of the schakelfunctie's cases: placement requests and the proposals made for them."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime

import asyncpg

from contracts.capacity import DeclineReason, EscalationLevel
from contracts.codes import Urgentie
from contracts.verblijf import Setting
from services.capacity.store.records import Placement, Proposal
from services.runtime.db import Connection, insert_row, update_row


def _placement(row: asyncpg.Record) -> Placement:
    level = row["escalation_level"]
    return Placement(
        **{
            **dict(row),
            "urgency": Urgentie(row["urgency"]),
            "escalation_level": EscalationLevel(level) if level else None,
        }
    )


def _proposal(row: asyncpg.Record) -> Proposal:
    return Proposal(**{**dict(row), "reason": DeclineReason(row["reason"]) if row["reason"] else None})


class Placements:
    """Placements and proposals, on the connection of a ``CapacityStore``."""

    _conn: Connection

    async def insert_placement(self, placement: Placement) -> bool:
        """Open a placement request; False when the referral already has one (redelivery)."""
        status = await insert_row(self._conn, "placement", asdict(placement), "ON CONFLICT (referral_id) DO NOTHING")
        return status.endswith(" 1")

    async def placement(self, placement_id: uuid.UUID) -> Placement | None:
        """The placement, locked for the rest of the transaction."""
        row = await self._conn.fetchrow("SELECT * FROM placement WHERE id = $1 FOR UPDATE", placement_id)
        return None if row is None else _placement(row)

    async def placement_of_referral(self, referral_id: uuid.UUID) -> Placement | None:
        row = await self._conn.fetchrow("SELECT * FROM placement WHERE referral_id = $1 FOR UPDATE", referral_id)
        return None if row is None else _placement(row)

    async def set_placement(self, placement_id: uuid.UUID, **fields: object) -> None:
        await update_row(self._conn, "placement", placement_id, fields)

    async def unplaced_needing(self, setting: str) -> list[Placement]:
        """Open placements that could use a place in ``setting``: crisis first, then longest waiting."""
        rows = await self._conn.fetch(
            """SELECT * FROM placement WHERE status = 'open' AND $1 = ANY(settings)
               ORDER BY CASE urgency WHEN 'crisis' THEN 0 WHEN 'spoed' THEN 1 ELSE 2 END, requested_at
               FOR UPDATE SKIP LOCKED""",
            setting,
        )
        return [_placement(r) for r in rows]

    async def waiting(self, setting: str) -> int:
        """Youths waiting urgently with no place proposed, who count as demand for ``setting``."""
        return await self._conn.fetchval(
            """SELECT count(*) FROM placement
               WHERE status = 'open' AND demand_setting = $1 AND urgency IN ('spoed', 'crisis')""",
            setting,
        )

    async def tried(self, placement_id: uuid.UUID, since: datetime | None = None) -> frozenset[tuple[str, Setting]]:
        """The (provider, setting) pairs that declined this youth or let its reservation lapse
        (proposed at or after ``since``, when given)."""
        rows = await self._conn.fetch(
            """SELECT agb, setting FROM proposal
               WHERE placement_id = $1 AND outcome IN ('declined', 'timeout') AND ($2::timestamptz IS NULL OR proposed_at >= $2)""",
            placement_id,
            since,
        )
        return frozenset((r["agb"], Setting(r["setting"])) for r in rows)

    async def insert_proposal(
        self,
        placement_id: uuid.UUID,
        agb: str,
        setting: str,
        at: datetime,
        reserved_until: datetime,
        region: str | None = None,
        pool_request_id: uuid.UUID | None = None,
    ) -> None:
        await self._conn.execute(
            """INSERT INTO proposal (placement_id, agb, setting, proposed_at, reserved_until, region, pool_request_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            placement_id,
            agb,
            setting,
            at,
            reserved_until,
            region,
            pool_request_id,
        )

    async def proposal_of_request(self, request_id: uuid.UUID) -> Proposal | None:
        """The proposal this region made to another pool member under ``request_id``, locked."""
        row = await self._conn.fetchrow("SELECT * FROM proposal WHERE pool_request_id = $1 FOR UPDATE", request_id)
        return None if row is None else _proposal(row)

    async def open_proposal(self, placement_id: uuid.UUID) -> Proposal | None:
        row = await self._conn.fetchrow(
            "SELECT * FROM proposal WHERE placement_id = $1 AND outcome IS NULL FOR UPDATE", placement_id
        )
        return None if row is None else _proposal(row)

    async def decide_proposal(
        self, proposal_id: int, outcome: str, reason: DeclineReason | None, note: str | None, at: datetime
    ) -> None:
        await self._conn.execute(
            "UPDATE proposal SET outcome = $2, reason = $3, note = $4, decided_at = $5 WHERE id = $1",
            proposal_id,
            outcome,
            reason,
            note,
            at,
        )

    async def lapsed_proposals(self, now: datetime) -> list[uuid.UUID]:
        """Placements whose open proposal's reservation ran out by ``now``."""
        rows = await self._conn.fetch(
            "SELECT placement_id FROM proposal WHERE outcome IS NULL AND reserved_until <= $1", now
        )
        return [r["placement_id"] for r in rows]

    async def escalations_due(self, now: datetime) -> list[uuid.UUID]:
        """Unplaced youths whose escalation timer ran out by ``now``, the longest overdue first."""
        rows = await self._conn.fetch(
            """SELECT id FROM placement
               WHERE status IN ('open', 'proposed') AND escalation_due_at <= $1 ORDER BY escalation_due_at""",
            now,
        )
        return [r["id"] for r in rows]
