"""How monitoring's gauges follow the read models: a refresh serves every request made while it
ran, or while it pauses after, with one more run; a first request is served at once."""

from __future__ import annotations

import asyncio

from services.monitoring.gauges import CoalescedRefresh
from tests.support.polling import eventually


class Refreshes:
    """A refresh that counts its runs and holds each one until released."""

    def __init__(self) -> None:
        self.runs = 0
        self.release = asyncio.Event()

    async def __call__(self, _pool: object) -> None:
        self.runs += 1
        await self.release.wait()

    async def ran(self, times: int) -> bool:
        return self.runs == times


async def test_requests_made_while_a_refresh_runs_are_served_by_one_more_run() -> None:
    refreshes = Refreshes()
    refresh = CoalescedRefresh("test", refreshes)
    refresh.request(None)  # type: ignore[arg-type]
    await eventually(lambda: refreshes.ran(1), what="the first run")
    for _ in range(5):
        refresh.request(None)  # type: ignore[arg-type]
    refreshes.release.set()
    await eventually(lambda: refreshes.ran(2), what="one more run")
    await refresh.settled()
    assert refreshes.runs == 2


async def test_requests_made_while_a_refresh_pauses_are_served_by_one_run_after_the_pause() -> None:
    refreshes = Refreshes()
    refreshes.release.set()
    refresh = CoalescedRefresh("test", refreshes, pause=0.2)
    refresh.request(None)  # type: ignore[arg-type]
    # The first request does not wait for a pause: nothing ran before it.
    await eventually(lambda: refreshes.ran(1), what="the first run")
    for _ in range(3):
        refresh.request(None)  # type: ignore[arg-type]
    await refresh.settled()
    assert refreshes.runs == 2


async def test_a_failed_refresh_leaves_the_next_request_to_try_again() -> None:
    attempts = 0

    async def failing(_pool: object) -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("database away")

    refresh = CoalescedRefresh("test", failing)
    refresh.request(None)  # type: ignore[arg-type]
    await refresh.settled()
    refresh.request(None)  # type: ignore[arg-type]
    await refresh.settled()
    assert attempts == 2
    await refresh.stop()
