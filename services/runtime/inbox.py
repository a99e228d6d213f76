"""The inbox of an idempotent consumer: each applied event id, stored with the change it caused."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

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


async def count_first_deliveries(conn: Connection, consumer: str, event_ids: Sequence[str]) -> int:
    """``first_deliveries`` for a caller that needs only how many were not yet applied, of ids in their
    text form: the rebuild's reader hands over the ids of the reports it folded as text, which crosses
    between processes for a fraction of what a ``uuid.UUID`` costs."""
    status = await conn.execute(
        "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING",
        consumer,
        list(event_ids),
    )
    return int(status.rsplit(" ", 1)[1])  # "INSERT 0 <rows>"
