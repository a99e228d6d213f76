"""A commit forced between two reads of one view: the deterministic check that a view reads on one
snapshot. Left to chance, that interleaving took a CI run of 1,147 tests to show once."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import asyncpg

from tests.support.polling import eventually

T = TypeVar("T")


async def commit_between_reads(
    db: asyncpg.Pool,
    second_table: str,
    second_read: str,
    read: Coroutine[Any, Any, T],
    writes: Sequence[tuple[Any, ...]],
) -> T:
    """Run ``read`` (a request whose view reads another table, then ``second_table``) while a
    transaction holds ``second_table`` locked. Once the view's ``second_read`` (a fragment of its SQL)
    waits for that lock, the transaction makes ``writes`` (each a statement and its arguments) and
    commits. Returns what ``read`` returned.

    A view on one snapshot shows none of the writes: its snapshot was taken at its first read. A
    view read statement by statement shows the writes to ``second_table`` without the others.
    """
    async with db.acquire() as conn:
        async with conn.transaction():
            await conn.execute(f"LOCK TABLE {second_table} IN ACCESS EXCLUSIVE MODE")
            answer = asyncio.ensure_future(read)

            async def waiting() -> bool:
                if answer.done():  # it failed, or read nothing from second_table: say so, not a timeout
                    answer.result()
                    raise AssertionError(f"the view answered without reading {second_table}")
                return bool(
                    await db.fetchval(
                        """SELECT count(*) FROM pg_stat_activity
                           WHERE wait_event_type = 'Lock' AND position($1 in query) > 0""",
                        second_read,
                    )
                )

            await eventually(waiting, what=f"the view waiting to read {second_table}")
            for statement, *args in writes:
                await conn.execute(statement, *args)
    return await answer
