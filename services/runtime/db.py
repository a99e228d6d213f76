"""The asyncpg pool and the SQL migration runner (numbered ``NNN_name.sql`` files per component)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy
    from asyncpg.transaction import Transaction

log = logging.getLogger(__name__)

# What a query runs on: a connection of its own, or one the pool lends (asyncpg types them apart).
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"

# Errors that mean "the database cannot do this right now", not "this statement is wrong": the
# same work succeeds when tried again later. Callers retry without limit (consumers hold their
# partition) or answer 503; they never dead-letter or fail for good on one of these.
UNAVAILABLE = (
    OSError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.PostgresConnectionError,  # class 08: connection lost or refused
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutdown, cannot connect now, cancel
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: too many connections, disk full
    asyncpg.exceptions.TransactionRollbackError,  # class 40: deadlock, serialization failure
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a primary that failed over to a replica
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.exceptions.InterfaceError,
    # A pooled connection the server shut down under ("another operation is in progress"): seen in
    # the PostgreSQL-restart fault once the pool stopped resetting connections on release.
    asyncpg.exceptions.InternalClientError,
)

_MIGRATION_FILE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


async def create_pool(url: str, schema: str, *, wait_seconds: float = 60, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections use ``schema``; waits for PostgreSQL to come up."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(UNAVAILABLE),
        wait=wait_exponential(multiplier=0.2, max=3),
        stop=stop_after_delay(wait_seconds),
        reraise=True,
    ):
        with attempt:
            await _ensure_schema(url, schema)
            return await FairPool(
                url,
                min_size=1,
                max_size=max_size,
                max_queries=50_000,  # asyncpg's defaults, which its constructor wants spelled out
                max_inactive_connection_lifetime=300.0,
                loop=None,
                connection_class=asyncpg.Connection,
                record_class=asyncpg.Record,
                server_settings={"search_path": schema, "application_name": "schakel"},
                reset=_keep_session,
            )
    raise AssertionError("unreachable")


class FairPool(asyncpg.Pool):
    """asyncpg's pool, lending its connections in the order they were asked for.

    asyncpg's own queue lets a task that asks just as a connection comes back take it before the
    tasks already waiting, and a waiter passed over goes to the back of the line again
    (MagicStack/asyncpg#1247). Under load that was intake's tail: with 32 requests in flight on 10
    connections, waiting for a connection took 20 ms at the median and 283 ms at the 99th percentile,
    while the transaction itself took ~15 ms. A FIFO semaphore of the pool's size in front of
    asyncpg's queue keeps the line: Python's ``asyncio.Semaphore`` hands a released turn to its
    first waiter, and no more tasks than there are connections ever reach the queue."""

    def __init__(self, *args: Any, max_size: int, **kwargs: Any) -> None:
        super().__init__(*args, max_size=max_size, **kwargs)
        self._turns = asyncio.Semaphore(max_size)
        self._holding: set[Any] = set()  # the lent connections (proxies, hashed by identity) that hold a turn
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """How many tasks wait for a connection now."""
        return self._waiting

    async def _acquire(self, timeout: float | None) -> Any:
        # A timeout (none of ours sets one) bounds the wait for a turn and asyncpg's wait together.
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        self._waiting += 1
        try:
            async with asyncio.timeout_at(deadline):
                await self._turns.acquire()
        finally:
            self._waiting -= 1
        try:
            left = None if deadline is None else max(0.0, deadline - asyncio.get_running_loop().time())
            proxy = await super()._acquire(left)  # type: ignore[misc]
        except BaseException:
            self._turns.release()
            raise
        self._holding.add(proxy)
        return proxy

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:
        try:
            await super().release(connection, timeout=timeout)
        finally:
            # Once per lending: asyncpg ignores a second release of one connection, and so do we.
            if connection in self._holding:
                self._holding.discard(connection)
                self._turns.release()

    def terminate(self) -> None:
        """Close at once, as asyncpg does; the tasks waiting for a turn get theirs and learn the
        pool is closed, instead of waiting for connections no one will release."""
        super().terminate()
        for _ in self._holding:
            self._turns.release()
        self._holding.clear()


async def _keep_session(_conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """Nothing to reset when a connection goes back to the pool, beyond the rollback of an open
    transaction asyncpg always does: no code leaves session state on a pooled connection (settings
    are the pool's ``server_settings``, locks are per transaction, the migration lock is released in
    a ``finally`` or its connection terminated, LISTEN has connections of its own). asyncpg's
    default reset is one more round trip, of four statements, on every release: 4-11 % of intake's
    samples under load in issue 13's profiles."""


async def _ensure_schema(url: str, schema: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        # IF NOT EXISTS is not atomic: processes starting together would collide in the catalog.
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"schakel-schema:{schema}")
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    finally:
        await conn.close()


def migration_files(directory: Path) -> list[tuple[int, Path]]:
    files = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_FILE.match(path.name)
        if not match:
            raise ValueError(f"migration {path} is not named NNN_lowercase_name.sql")
        files.append((int(match.group(1)), path))
    versions = [v for v, _ in files]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations in {directory} share a number")
    return files


async def migrate(pool: asyncpg.Pool, component: str, directory: Path) -> list[str]:
    """Apply the not-yet-applied migrations of ``component``, each in its own transaction.

    One advisory lock per schema serialises every process that migrates it, whatever the
    component (replicas rolling out together, or all services sharing the key database): the
    bookkeeping table itself is created under the lock, since CREATE TABLE IF NOT EXISTS races.
    """
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        schema = await conn.fetchval("SELECT current_schema()")
        lock = f"schakel-migrate:{schema}"
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", lock)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migration (
                       component text NOT NULL, version int NOT NULL, name text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now(),
                       PRIMARY KEY (component, version))"""
            )
            done = {
                r["version"]
                for r in await conn.fetch("SELECT version FROM schema_migration WHERE component = $1", component)
            }
            for version, path in migration_files(directory):
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text())
                    await conn.execute(
                        "INSERT INTO schema_migration (component, version, name) VALUES ($1, $2, $3)",
                        component,
                        version,
                        path.name,
                    )
                applied_now.append(path.name)
                log.info("applied migration %s/%s", component, path.name)
        finally:
            try:
                await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", lock)
            except BaseException:
                conn.terminate()  # it may still hold the lock: it must not go back to the pool
                raise
    return applied_now


def snapshot(conn: Connection) -> Transaction:
    """A read-only transaction that sees one snapshot of the database. Under PostgreSQL's default
    (READ COMMITTED) every statement takes its own, so a view built from several queries could show
    half of a consumer's commit: the places before it and the shortage after it."""
    return conn.transaction(isolation="repeatable_read", readonly=True)


async def fetch_one(conn: Connection | asyncpg.Pool[asyncpg.Record], query: str, *args: Any) -> asyncpg.Record:
    """The row a query always returns (an aggregate, a row this transaction locked or inserted)."""
    row = await conn.fetchrow(query, *args)
    if row is None:
        raise LookupError(f"no row from a query that always returns one: {query[:80]}")
    return row


# Column names come from the code's own keyword arguments, never from a request, so building
# the statement from them is safe; the values always travel as parameters.
async def insert_row(conn: Connection, table: str, values: Mapping[str, Any], suffix: str = "") -> str:
    """``INSERT INTO table (columns) VALUES (...)`` plus ``suffix`` (e.g. ON CONFLICT); the status."""
    columns = ", ".join(values)
    params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    return await conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({params}) {suffix}", *values.values())


async def update_row(conn: Connection, table: str, key: Any, values: Mapping[str, Any]) -> None:
    """``UPDATE table SET ... WHERE id = key`` for the given columns."""
    assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(values, start=2))
    await conn.execute(f"UPDATE {table} SET {assignments} WHERE id = $1", key, *values.values())
