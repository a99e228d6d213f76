"""Running the simulator: set the region up, play the past year at a pace, then (live) today."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx

from contracts.verblijf import Setting
from services.sim import region, schedule
from services.sim.calls import Ledger, Urls
from services.sim.driver import Simulator
from services.sim.keys import Keys
from services.sim.schedule import Calendar, Crunch

log = logging.getLogger("services.sim")
NL = ZoneInfo("Europe/Amsterdam")


def dutch_today() -> date:
    """The real date in the Netherlands: the simulated days end on it."""
    return datetime.now(NL).date()


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
    ledger: Ledger | None = None,
    region_id: str = region.REGION_SEED,
    pooled_shortage: bool = False,
    places_only: bool = False,
) -> Counter[str]:
    """Set up the region, then run the ``days`` simulated days that end today at ``speed`` days per second
    (as fast as the services allow when they fall behind); with ``live``, go on in "today" rounds every
    ``round_seconds`` until stopped. Returns how many calls of each kind succeeded or failed; what was
    answered 2xx goes to ``ledger`` too.

    ``pooled_shortage``: the shortage the run ends with is one of JeugdzorgPlus, the setting the region
    pools with its neighbours (contracts/data/pools.json). ``places_only``: the region's providers are
    admitted and report their places (live: every round), nothing else happens and intake is not used —
    a pool partner with room, in the two-region demo."""
    calendar = Calendar.ending(dutch_today(), days)
    sim = Simulator(urls, seed=seed, scale=scale, calendar=calendar, ledger=ledger, region_id=region_id)
    world = sim.world
    world.crunches = schedule.crunches(world.rng, days)
    if pooled_shortage and world.crunches:
        world.crunches[-1] = replace(world.crunches[-1], setting=Setting.JEUGDZORGPLUS)
    if places_only:
        # A partner with room in the setting it pools: half its JeugdzorgPlus places are free.
        for provider in world.providers:
            if Setting.JEUGDZORGPLUS in provider.beds:
                provider.beds[Setting.JEUGDZORGPLUS].background = provider.beds[Setting.JEUGDZORGPLUS].total // 2
    keys = await sim.make_keys()
    if on_keys:
        on_keys(keys)
    async with httpx.AsyncClient(timeout=30) as http:
        sim.calls.http = http
        await sim.calls.wait_ready(without={"intake"} if places_only else ())
        await sim.admit_providers()
        await sim.providers.report_until_admitted()
        if places_only:
            log.info("%s: providers admitted and their places reported", world.region.name)
            if live:
                await report_places_live(sim, round_seconds)
            return sim.calls.counts
        log.info("simulating %s to %s", world.calendar.first, world.calendar.today)
        await backfill(sim, speed)
        if live:
            await run_live(sim, round_seconds)
    return sim.calls.counts


async def backfill(sim: Simulator, speed: float) -> None:
    started = time.monotonic()
    calendar = sim.world.calendar
    for day in range(1, calendar.days + 1):
        await sim.day(day)
        if day % 5 == 0 or day == calendar.days:
            log.info("day %d (%s): %s", day, calendar.date_of(day), _progress(sim))
        # Pacing, not synchronisation: a simulated day lasts 1/speed seconds of wall time.
        ahead = started + day / speed - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)


async def run_live(sim: Simulator, round_seconds: float) -> None:
    """Today, over and over. The shortage the backfill left open ends after a few minutes; new ones
    come and go. When the Dutch date moves on, that new day is simulated in full first."""
    world = sim.world
    live_crunches = [
        Crunch(c.setting, 0, world.rng.randint(24, 48)) for c in world.crunches if c.end > world.calendar.days
    ]
    round_ = 0
    while True:
        # Pacing, not synchronisation: a round of today every few seconds of wall time.
        await asyncio.sleep(round_seconds)
        round_ += 1
        while world.calendar.today < dutch_today():
            world.calendar = world.calendar.extended()
            await sim.day(world.calendar.days)
        await sim.today_round(round_, live_crunches)
        if round_ % 12 == 0:
            log.info("live round %d (%s): %s", round_, world.calendar.today, _progress(sim))


async def report_places_live(sim: Simulator, round_seconds: float) -> None:
    """A pool partner's providers, every round: they take the youths other member regions ask them
    to and report their places. Nothing else moves, so each youth taken is one free place fewer."""
    world = sim.world
    while True:
        # Pacing, not synchronisation: a round of today every few seconds of wall time.
        await asyncio.sleep(round_seconds)
        await sim.providers.take_pool_requests()
        await sim.providers.report_places(world.calendar.days, all_settings=True)


def _progress(sim: Simulator) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(sim.calls.counts.items()))
    return f"{len(sim.world.cases)} youths referred, {counts}"
