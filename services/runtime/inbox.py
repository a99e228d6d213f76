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
