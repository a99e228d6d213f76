"""Intake's SQL for what happens to stored personal data over time: re-sealing under the newest
key, erasure (after retention or on request) with the notes that may name a youth, and its audit."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg

from services.runtime.db import Connection, insert_row


class PersonalDataStore:
    """The ``client`` table's sealed records and the erasure audit, on one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def sealed_clients(self, after: str, limit: int) -> list[asyncpg.Record]:
        """The next ``limit`` clients holding personal data, in client_ref order after ``after``."""
        return await self.conn.fetch(
            """SELECT client_ref, personal FROM client WHERE personal IS NOT NULL AND client_ref > $1
               ORDER BY client_ref LIMIT $2""",
            after,
            limit,
        )

    async def reseal_client(self, client_ref: str, old: bytes, new: bytes) -> bool:
        """Replace a sealed record unless it changed meanwhile (the service rewrote or erased it)."""
        status = await self.conn.execute(
            "UPDATE client SET personal = $3 WHERE client_ref = $1 AND personal = $2", client_ref, old, new
        )
        return status == "UPDATE 1"

    async def erase_client_of_referral(self, referral_id: uuid.UUID, at: datetime) -> int | None:
        """Erase the personal data of a referral's youth (and its notes); None for an unknown referral, else 0 or 1."""
        client_ref = await self.conn.fetchval("SELECT client_ref FROM referral WHERE id = $1", referral_id)
        if client_ref is None:
            return None
        status = await self.conn.execute(
            "UPDATE client SET personal = NULL, erased_at = $2 WHERE client_ref = $1 AND personal IS NOT NULL",
            client_ref,
            at,
        )
        await self._erase_notes([client_ref])
        return int(status.split()[-1])

    async def erase_clients_inactive_since(self, cutoff: datetime, cutoff_day: date, at: datetime, limit: int) -> int:
        """Erase the personal data of up to ``limit`` youths with nothing on or after the cut-off: no
        referral, request, toewijzing or care, and no toewijzing running to or past ``cutoff_day``."""
        erased = await self.conn.fetch(
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
        await self._erase_notes([r["client_ref"] for r in erased])
        return len(erased)

    async def _erase_notes(self, client_refs: list[str]) -> None:
        """A withdrawal's note is the referrer's own words and may name the youth: only its code stays."""
        await self.conn.execute(
            """UPDATE referral SET withdrawal_reason = split_part(withdrawal_reason, ':', 1)
               WHERE client_ref = ANY($1::text[]) AND strpos(withdrawal_reason, ':') > 0""",
            client_refs,
        )
        await self.conn.execute(
            """UPDATE referral_history h SET detail = split_part(h.detail, ':', 1) FROM referral r
               WHERE h.referral_id = r.id AND r.client_ref = ANY($1::text[]) AND h.step = 'withdrawn'
                 AND strpos(h.detail, ':') > 0""",
            client_refs,
        )

    async def record_erasure(
        self,
        *,
        at: datetime,
        actor: str,
        reason: str,
        clients: int,
        referral_id: uuid.UUID | None = None,
        cutoff: datetime | None = None,
    ) -> None:
        await insert_row(
            self.conn,
            "personal_data_erasure",
            {
                "at": at,
                "actor": actor,
                "reason": reason,
                "clients": clients,
                "referral_id": referral_id,
                "cutoff": cutoff,
            },
        )

    async def erasures(self, limit: int) -> list[asyncpg.Record]:
        return await self.conn.fetch("SELECT * FROM personal_data_erasure ORDER BY seq DESC LIMIT $1", limit)
