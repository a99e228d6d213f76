"""What happens because time passes: lapsed reservations, escalations, stale capacity reports."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from contracts.capacity import CapacityReportStale
from services.capacity import alerts, placement_store, placements, store
from services.capacity.settings import CapacitySettings
from services.runtime.clock import Clock
from services.runtime.periodic import Periodic
from services.runtime.service import Runtime


async def run_due(runtime: Runtime, clock: Clock) -> None:
    """Everything that is due at ``clock.now()``; each item in a transaction of its own."""
    settings: CapacitySettings = runtime.settings  # type: ignore[assignment]
    now = clock.now()
    for placement_id in await placement_store.lapsed_proposals(runtime.pool, now):
        await placements.lapse(runtime, placement_id, now)
    for placement_id in await placement_store.escalations_due(runtime.pool, now):
        await placements.escalate_when_due(runtime, placement_id, now)
    stale_after = timedelta(hours=settings.stale_after_hours)
    for row in await store.stale_reports(runtime.pool, now - stale_after):
        async with runtime.pool.acquire() as conn, conn.transaction():
            if not await store.mark_stale_alerted(conn, row["agb"], row["setting"], row["report_id"]):
                continue
            stale = CapacityReportStale(
                agb=row["agb"],
                setting=row["setting"],
                last_reported_at=row["reported_at"],
                stale_after_seconds=int(stale_after.total_seconds()),
                detected_at=now,
            )
            await alerts.raise_alert(
                runtime, conn, alerts.wrap(stale, f"{row['agb']}/{row['setting']}", now), row["setting"]
            )


class Timers:
    """Runs ``run_due`` every ``timer_interval_seconds``, and at once when asked (clock moved)."""

    def __init__(self, runtime: Runtime, clock: Clock) -> None:
        self._runtime = runtime
        self._clock = clock
        self._lock = asyncio.Lock()
        interval = runtime.settings.timer_interval_seconds  # type: ignore[attr-defined]
        self._periodic = Periodic("capacity-timers", self.run_now, interval)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def run_now(self) -> None:
        async with self._lock:
            await run_due(self._runtime, self._clock)
