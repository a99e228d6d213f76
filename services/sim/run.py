"""Running the simulator: set the region up, play the past year at a pace, then (live) today."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable

import httpx

from services.sim import schedule
from services.sim.driver import Simulator, Urls, dutch_today
from services.sim.keys import Keys
from services.sim.schedule import Calendar, Crunch

log = logging.getLogger("services.sim")


async def simulate(
    urls: Urls,
    *,
    seed: int,
    scale: float,
    days: int,
    speed: float,
    live: bool = False,
    round_seconds: float = 5.0,
    on_keys: Callable[[Keys], None] | None = None,
) -> Counter[str]:
    """Set up the region, then run the ``days`` simulated days that end today at ``speed`` days per second
    (as fast as the services allow when they fall behind); with ``live``, go on in "today" rounds every
    ``round_seconds`` until stopped. Returns how many calls of each kind succeeded or failed."""
    sim = Simulator(urls, seed=seed, scale=scale, calendar=Calendar.ending(dutch_today(), days))
    sim.crunches = schedule.crunches(sim.rng, days)
    keys = await sim.make_keys()
    if on_keys:
        on_keys(keys)
    async with httpx.AsyncClient(timeout=30) as http:
        sim.http = http
        await sim.wait_ready()
        await sim.admit_providers()
        await sim.report_until_admitted()
        log.info("simulating %s to %s", sim.calendar.first, sim.calendar.today)
        await backfill(sim, speed)
        if live:
            await run_live(sim, round_seconds)
    return sim.counts


async def backfill(sim: Simulator, speed: float) -> None:
    started = time.monotonic()
    for day in range(1, sim.calendar.days + 1):
        await sim.day(day)
        if day % 10 == 0 or day == sim.calendar.days:
            log.info(
                "day %d (%s): %d youths referred, %s",
                day,
                sim.calendar.date_of(day),
                len(sim.cases),
                ", ".join(f"{k} {v}" for k, v in sorted(sim.counts.items())),
            )
        # Pacing, not synchronisation: a simulated day lasts 1/speed seconds of wall time.
        ahead = started + day / speed - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)


async def run_live(sim: Simulator, round_seconds: float) -> None:
    """Today, over and over. The shortage the backfill left open ends after a few minutes; new ones
    come and go. When the Dutch date moves on, that new day is simulated in full first."""
    live_crunches = [Crunch(c.setting, 0, sim.rng.randint(24, 48)) for c in sim.crunches if c.end > sim.calendar.days]
    round_ = 0
    while True:
        # Pacing, not synchronisation: a round of today every few seconds of wall time.
        await asyncio.sleep(round_seconds)
        round_ += 1
        while sim.calendar.today < dutch_today():
            sim.calendar = sim.calendar.extended()
            await sim.day(sim.calendar.days)
        await sim.today_round(round_, live_crunches)
        if round_ % 12 == 0:
            log.info(
                "live round %d (%s): %d youths referred, %s",
                round_,
                sim.calendar.today,
                len(sim.cases),
                ", ".join(f"{k} {v}" for k, v in sorted(sim.counts.items())),
            )
