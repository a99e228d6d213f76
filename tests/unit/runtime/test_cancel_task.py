"""Stopping a background task ends it even when it swallows a cancellation, as Python 3.11's
``asyncio.wait_for`` does when the cancellation arrives just as what it awaits completes."""

from __future__ import annotations

import asyncio

import pytest

from services.runtime import periodic
from services.runtime.periodic import cancel_task


@pytest.mark.timeout(60)
async def test_a_task_that_swallows_the_first_cancellation_is_still_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(periodic, "CANCEL_AGAIN_SECONDS", 0.1)
    started, swallowed = asyncio.Event(), asyncio.Event()

    async def stubborn() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            swallowed.set()  # lost, the way wait_for loses it; the loop would go on for ever
        await asyncio.Event().wait()

    task = asyncio.create_task(stubborn())
    await started.wait()
    await cancel_task(task)
    assert swallowed.is_set() and task.cancelled()


async def test_a_task_that_failed_before_it_was_stopped_raises_its_error() -> None:
    async def failing() -> None:
        raise RuntimeError("broken")

    task = asyncio.create_task(failing())
    await asyncio.wait({task})
    with pytest.raises(RuntimeError, match="broken"):
        await cancel_task(task)


async def test_a_task_is_given_time_to_clean_up_before_it_is_cancelled_again() -> None:
    cleaned = asyncio.Event()
    started, cleaning, closed = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def tidy() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cleaning.set()
            await closed.wait()  # closing a connection, say: it awaits an answer after the cancellation
            cleaned.set()

    async def connection_closes() -> None:
        await cleaning.wait()
        closed.set()

    task = asyncio.create_task(tidy())
    await started.wait()
    closer = asyncio.create_task(connection_closes())
    await cancel_task(task)
    await closer
    assert cleaned.is_set() and task.cancelled()


async def test_no_task_is_nothing_to_stop() -> None:
    await cancel_task(None)
