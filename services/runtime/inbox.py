"""The inbox of an idempotent consumer: each applied event id, stored with the change it caused."""

from __future__ import annotations

import uuid

from services.runtime.db import Connection


async def first_delivery(conn: Connection, consumer: str, event_id: uuid.UUID) -> bool:
    """Record ``event_id`` as applied by ``consumer``; False when it already was (a redelivery).

    Call inside the transaction that applies the event, so both commit or neither does.
    """
    inserted = await conn.fetchval(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
        consumer,
        event_id,
    )
    return bool(inserted)


async def first_deliveries(conn: Connection, consumer: str, event_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Record a batch of ``event_ids`` as applied by ``consumer`` in one statement; returns those that
    were not yet (the rest are redeliveries). Call inside the transaction that applies them."""
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id",
        consumer,
        event_ids,
    )
    return {row["event_id"] for row in rows}
