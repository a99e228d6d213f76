"""Wake-ups from PostgreSQL LISTEN/NOTIFY, so readers react to a commit in milliseconds, not polls."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from services.runtime.db import UNAVAILABLE, Connection
from services.runtime.periodic import cancel_task

log = logging.getLogger(__name__)


def channel_name(base: str, schema: str) -> str:
    # NOTIFY is database-wide; the schema keeps two tenants of one database from waking each other.
    return f"{base}_{schema}"


async def notify(conn: Connection, channel: str) -> None:
    """Signal ``channel``; PostgreSQL delivers it only when the surrounding transaction commits."""
    await conn.execute("SELECT pg_notify($1, '')", channel)


class PgSignal:
    """Listens on one channel and hands out events that are set at the next notification.

    Take ``current()`` *before* reading the state it guards, then wait on it: a notification
    that lands between the read and the wait is never missed.
    """

    def __init__(self, url: str, channel: str) -> None:
        self._url = url
        self._channel = channel
        self._event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    def current(self) -> asyncio.Event:
        return self._event

    def fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, event: asyncio.Event, timeout: float) -> None:
        # asyncio.timeout, not wait_for: in Python 3.11 wait_for can drop a cancellation.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name=f"listen:{self._channel}")

    async def stop(self) -> None:
        await cancel_task(self._task)

    async def _listen(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(self._url)
            except UNAVAILABLE as exc:
                log.warning("cannot listen on %s yet: %s", self._channel, exc)
                await asyncio.sleep(1)
                continue
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            try:
                await conn.add_listener(self._channel, lambda *_: self.fire())
                self.listening.set()
                # Anything may have happened while we were not listening.
                self.fire()
                await lost.wait()
                log.warning("lost the LISTEN connection for %s; reconnecting", self._channel)
            except UNAVAILABLE as exc:
                log.warning("LISTEN on %s failed: %s", self._channel, exc)
            finally:
                self.listening.clear()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 2)
            await asyncio.sleep(1)
