"""The SQL of alert webhooks: registration (``Subscriptions``, on a unit of work), and each webhook's
cursor, retry state and lease (the dispatcher's own bookkeeping, on the pool: it announces nothing)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg

from services.capacity.store.reads import LATEST_ALERT_SEQ
from services.runtime.db import Connection, fetch_one
from services.runtime.roles import Role

_PUBLIC_COLUMNS = """id, role, url, description, created_by, created_at, delivered_seq, attempts,
                     last_error, next_attempt_at, last_delivered_at"""


class Subscriptions:
    """Webhook registrations, on one unit of work's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def create(
        self, *, role: Role, url: str, description: str, secret: str, created_by: str, now: datetime
    ) -> asyncpg.Record:
        """Register a webhook that starts after the newest alert: it gets only what happens next."""
        return await fetch_one(
            self._conn,
            f"""INSERT INTO webhook (id, role, url, description, secret, created_by, created_at, delivered_seq)
                VALUES ($1, $2, $3, $4, $5, $6, $7, {LATEST_ALERT_SEQ})
                RETURNING {_PUBLIC_COLUMNS}, secret""",
            uuid.uuid4(),
            role.value,
            url,
            description,
            secret,
            created_by,
            now,
        )

    async def of_role(self, role: Role | None) -> list[asyncpg.Record]:
        """The webhooks of ``role`` (all of them for None), oldest first, without their secrets."""
        return await self._conn.fetch(
            f"SELECT {_PUBLIC_COLUMNS} FROM webhook WHERE $1::text IS NULL OR role = $1 ORDER BY created_at, id",
            role.value if role else None,
        )

    async def delete(self, webhook_id: uuid.UUID, role: Role | None) -> bool:
        status = await self._conn.execute(
            "DELETE FROM webhook WHERE id = $1 AND ($2::text IS NULL OR role = $2)",
            webhook_id,
            role.value if role else None,
        )
        return status == "DELETE 1"


# A lease is free when nobody holds it, we hold it, or its holder let it run out. Lease times are
# PostgreSQL's clock, the one every replica shares; the injected clock is only for backoff.
_LEASE_FREE = "(leased_by IS NULL OR leased_by = $2 OR lease_until < clock_timestamp())"


async def due_webhooks(pool: asyncpg.Pool, now: datetime, holder: str) -> list[uuid.UUID]:
    """Webhooks with undelivered alerts, not waiting out a backoff, whose lease ``holder`` may take."""
    rows = await pool.fetch(
        f"""SELECT w.id FROM webhook w
            WHERE (w.next_attempt_at IS NULL OR w.next_attempt_at <= $1) AND {_LEASE_FREE}
              AND EXISTS (SELECT 1 FROM alert a WHERE a.seq > w.delivered_seq)
            ORDER BY w.created_at, w.id""",
        now,
        holder,
    )
    return [r["id"] for r in rows]


async def claim(
    pool: asyncpg.Pool, webhook_id: uuid.UUID, holder: str, lease: timedelta, now: datetime
) -> asyncpg.Record | None:
    """Take or renew the lease of a webhook due at ``now``; None if another holds it, it backs off or is gone."""
    return await pool.fetchrow(
        f"""UPDATE webhook SET leased_by = $2, lease_until = clock_timestamp() + $3
            WHERE id = $1 AND {_LEASE_FREE} AND (next_attempt_at IS NULL OR next_attempt_at <= $4)
            RETURNING id, role, url, secret, delivered_seq, attempts""",
        webhook_id,
        holder,
        lease,
        now,
    )


async def advance(
    pool: asyncpg.Pool,
    webhook_id: uuid.UUID,
    holder: str,
    lease: timedelta,
    seq: int,
    delivered_at: datetime | None,
) -> bool:
    """Move the cursor to ``seq``, clear the retry state, renew the lease; False if deleted or no longer ours."""
    status = await pool.execute(
        """UPDATE webhook SET delivered_seq = $3, attempts = 0, last_error = NULL, next_attempt_at = NULL,
                              last_delivered_at = coalesce($4, last_delivered_at),
                              lease_until = clock_timestamp() + $5
           WHERE id = $1 AND leased_by = $2""",
        webhook_id,
        holder,
        seq,
        delivered_at,
        lease,
    )
    return status == "UPDATE 1"


async def record_failure(
    pool: asyncpg.Pool,
    webhook_id: uuid.UUID,
    holder: str,
    seq: int,
    attempts: int,
    error: str,
    next_attempt_at: datetime,
) -> None:
    """Keep the cursor before the failed alert (``seq``) and schedule the next attempt, if still ours."""
    await pool.execute(
        """UPDATE webhook SET delivered_seq = $3, attempts = $4, last_error = $5, next_attempt_at = $6
           WHERE id = $1 AND leased_by = $2""",
        webhook_id,
        holder,
        seq,
        attempts,
        error,
        next_attempt_at,
    )


async def release(pool: asyncpg.Pool, holder: str, webhook_id: uuid.UUID | None = None) -> None:
    """Give up ``holder``'s lease on one webhook (all of them for None) so another process may deliver."""
    await pool.execute(
        """UPDATE webhook SET leased_by = NULL, lease_until = NULL
           WHERE leased_by = $1 AND ($2::uuid IS NULL OR id = $2)""",
        holder,
        webhook_id,
    )
