"""Work a service repeats in the background (timers, deadline watches), the one way it is done."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from services.runtime.db import UNAVAILABLE

log = logging.getLogger(__name__)

# Longer than any task's own clean-up on cancellation (closing a LISTEN connection: 2 s), which a
# second cancellation would cut short.
CANCEL_AGAIN_SECONDS = 5.0


async def cancel_task(task: asyncio.Task | None) -> None:
    """Stop a background task and wait until it has stopped.

    Cancelled again while it runs on: Python 3.11's ``asyncio.wait_for`` drops a cancellation that
    arrives as the awaited thing completes, and a loop around it then never ends. CI hung twice on
    a service's shutdown that way (issue 13's notes).
    """
    if task:
        task.cancel()
        while not task.done():
            await asyncio.wait({task}, timeout=CANCEL_AGAIN_SECONDS)
            if not task.done():
                log.warning("%s did not stop within %.0f s; cancelling it again", task.get_name(), CANCEL_AGAIN_SECONDS)
                task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Periodic:
    """Runs ``work`` now and then every ``interval`` seconds until stopped.

    A run that fails is logged and the next one comes on time: a database that is away for a
    while must not end the loop, and one bad run must not stop the ones after it.
    """

    def __init__(self, name: str, work: Callable[[], Awaitable[object]], interval: float) -> None:
        self._name = name
        self._work = work
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self._name)

    async def stop(self) -> None:
        await cancel_task(self._task)

    async def _loop(self) -> None:
        while True:
            try:
                await self._work()
            except UNAVAILABLE as exc:
                log.warning("%s: database unavailable (%s); trying again", self._name, type(exc).__name__)
            except Exception:
                log.exception("%s: a run failed; trying again next interval", self._name)
            await asyncio.sleep(self._interval)
