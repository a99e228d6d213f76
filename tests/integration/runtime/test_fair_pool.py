"""The pool lends its connections in the order they were asked for (``db.FairPool``): a task that
asks just as a connection comes back waits behind those already waiting."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.runtime.db import FairPool, create_pool
from tests.support.infra import Infrastructure, Isolation
from tests.support.polling import eventually


async def test_a_returned_connection_goes_to_the_longest_waiting_task_not_to_a_latecomer(
    infra: Infrastructure, isolation: Isolation
) -> None:
    pool = await create_pool(infra.database_url, isolation.schema, max_size=1)
    assert isinstance(pool, FairPool)
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

    async def waiting(count: int) -> bool:
        return pool.waiting == count

    try:
        held = await pool.acquire()
        first = asyncio.create_task(borrow("first"))
        await eventually(lambda: waiting(1), what="the first task to wait")
        second = asyncio.create_task(borrow("second"))
        await eventually(lambda: waiting(2), what="the second task to wait")
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
    pool = await create_pool(infra.database_url, isolation.schema, max_size=1)
    try:
        conn = await pool.acquire()
        await pool.release(conn)
        await pool.release(conn)  # asyncpg ignores it; a second turn would let two tasks past one connection
        held = await pool.acquire()

        async def take() -> object:
            return await pool.acquire()

        async def one_waiting() -> bool:
            return pool.waiting == 1

        waiter = asyncio.create_task(take())
        await eventually(one_waiting, what="the second acquire to wait for the one connection")
        await pool.release(held)
        await pool.release(await asyncio.wait_for(waiter, 10))
    finally:
        pool.terminate()  # closing would wait for ever for a connection a failed test still holds


async def test_terminating_the_pool_fails_the_tasks_waiting_for_a_turn(
    infra: Infrastructure, isolation: Isolation
) -> None:
    pool = await create_pool(infra.database_url, isolation.schema, max_size=1)
    await pool.acquire()  # held until the pool is terminated

    async def take() -> object:
        return await pool.acquire()

    async def one_waiting() -> bool:
        return pool.waiting == 1

    waiter = asyncio.create_task(take())
    await eventually(one_waiting, what="a task to wait for the one connection")
    pool.terminate()
    async with asyncio.timeout(10):
        with pytest.raises(asyncpg.InterfaceError, match="closed"):
            await waiter
