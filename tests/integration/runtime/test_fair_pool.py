"""The pool lends its connections in the order they were asked for (``db.FairPool``): a task that
asks just as a connection comes back waits behind those already waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from services.runtime.db import FairPool, create_pool
from tests.support.infra import Infrastructure, Isolation
from tests.support.polling import eventually


async def one_connection(infra: Infrastructure, isolation: Isolation) -> FairPool:
    pool = await create_pool(infra.database_url, isolation.schema, max_size=1)
    assert isinstance(pool, FairPool)
    return pool


def waiting(pool: FairPool, count: int) -> Callable[[], Awaitable[bool]]:
    """A probe for ``eventually``: ``count`` tasks wait for a connection."""

    async def probe() -> bool:
        return pool.waiting == count

    return probe


def acquiring(pool: FairPool) -> asyncio.Task[Any]:
    """A task asking ``pool`` for a connection (``acquire()`` is awaitable, not a coroutine)."""

    async def take() -> Any:
        return await pool.acquire()

    return asyncio.create_task(take())


async def test_a_returned_connection_goes_to_the_longest_waiting_task_not_to_a_latecomer(
    infra: Infrastructure, isolation: Isolation
) -> None:
    pool = await one_connection(infra, isolation)
    order: list[str] = []
    go = asyncio.Event()

    async def borrow(name: str) -> None:
        async with pool.acquire() as conn:
            order.append(name)
            await conn.execute("SELECT 1")

    async def latecomer() -> None:
        await go.wait()
        await borrow("latecomer")

    async def wake_the_latecomer() -> None:
        go.set()

    try:
        held = await pool.acquire()
        first = asyncio.create_task(borrow("first"))
        await eventually(waiting(pool, 1), what="the first task to wait")
        second = asyncio.create_task(borrow("second"))
        await eventually(waiting(pool, 2), what="the second task to wait")
        # The latecomer is woken in the event loop's turn that gives the connection back, so it asks
        # before the first waiter runs. asyncpg's own queue lends it the connection then, and sends
        # the first waiter to the back of the line: ['latecomer', 'second', 'first'].
        tasks = [
            first,
            second,
            asyncio.create_task(latecomer()),
            asyncio.create_task(pool.release(held)),
            asyncio.create_task(wake_the_latecomer()),
        ]
        async with asyncio.timeout(10):
            await asyncio.gather(*tasks)
        assert order == ["first", "second", "latecomer"]
    finally:
        pool.terminate()  # closing would wait for ever for a connection a failed test still holds


async def test_a_connection_released_twice_gives_back_one_turn(infra: Infrastructure, isolation: Isolation) -> None:
    pool = await one_connection(infra, isolation)
    try:
        conn = await pool.acquire()
        await pool.release(conn)
        await pool.release(conn)  # asyncpg ignores it; a second turn would let two tasks past one connection
        held = await pool.acquire()
        waiter = acquiring(pool)
        await eventually(waiting(pool, 1), what="the second acquire to wait for the one connection")
        await pool.release(held)
        await pool.release(await asyncio.wait_for(waiter, 10))
    finally:
        pool.terminate()  # closing would wait for ever for a connection a failed test still holds


async def test_terminating_the_pool_fails_the_tasks_waiting_for_a_turn(
    infra: Infrastructure, isolation: Isolation
) -> None:
    pool = await one_connection(infra, isolation)
    await pool.acquire()  # held until the pool is terminated
    waiter = acquiring(pool)
    await eventually(waiting(pool, 1), what="a task to wait for the one connection")
    pool.terminate()
    async with asyncio.timeout(10):
        with pytest.raises(asyncpg.InterfaceError, match="closed"):
            await waiter
