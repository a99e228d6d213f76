"""What happens because time passes: lapsed reservations (this region's proposals and the places it
holds for other pool members' youths), escalations, stale capacity reports, and doorbraak decisions
not carried out in time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta

from contracts.capacity import CapacityReportStale
from services.capacity.commands import Work
from services.capacity.commands.alerts import raise_alert
from services.capacity.commands.doorbraak import raise_overdue
from services.capacity.commands.escalations import escalate_when_due
from services.capacity.commands.placements import lapse
from services.capacity.commands.pool_placements import lapse_request
from services.capacity.store import StaleReport
from services.runtime.periodic import Periodic

# Opens a unit of work of its own (``runtime.work`` with capacity's store, or an in-memory one).
WorkMaker = Callable[[], AbstractAsyncContextManager[Work]]


async def run_due(work: WorkMaker) -> None:
    """Everything that is due now; each item in a unit of work of its own, so one that fails
    leaves the others done."""
    async with work() as uow:
        lapsed = await uow.store.lapsed_proposals(uow.now)
        escalating = await uow.store.escalations_due(uow.now)
        stale = await uow.store.stale_reports(uow.now - timedelta(hours=uow.settings.stale_after_hours))
        overdue = await uow.store.decisions_overdue(uow.now)
        held_too_long = await uow.store.lapsed_pool_requests(uow.now)
    for placement_id in lapsed:
        async with work() as uow:
            await lapse(uow, placement_id)
    for placement_id in escalating:
        async with work() as uow:
            await escalate_when_due(uow, placement_id)
    for report in stale:
        async with work() as uow:
            await report_stale(uow, report)
    for decision_id in overdue:
        async with work() as uow:
            await raise_overdue(uow, decision_id)
    for request_id in held_too_long:
        async with work() as uow:
            await lapse_request(uow, request_id)


async def report_stale(uow: Work, report: StaleReport) -> None:
    """Raise ``CapacityReportStale`` once for a report nobody refreshed in time."""
    if not await uow.store.mark_stale_alerted(report):
        return  # another process raised it
    stale = CapacityReportStale(
        agb=report.agb,
        setting=report.setting,
        last_reported_at=report.reported_at,
        stale_after_seconds=int(timedelta(hours=uow.settings.stale_after_hours).total_seconds()),
        detected_at=uow.now,
    )
    await raise_alert(uow, stale, report.setting)


class Timers:
    """Runs ``run_due`` every ``interval`` seconds, and at once when asked (the clock moved)."""

    def __init__(self, work: WorkMaker, interval: float) -> None:
        self._work = work
        self._lock = asyncio.Lock()
        self._periodic = Periodic("capacity-timers", self.run_now, interval)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def run_now(self) -> None:
        async with self._lock:
            await run_due(self._work)
