"""Drives the four services' public HTTP APIs with the simulated region, one simulated day at a time.

Every choice is drawn from one ``random.Random(seed)`` in a fixed order, before the calls of a
phase go out together; so a run is repeatable as far as the services answer the same. The day's
phases are played by the region's actors, in this order: the referrers, the gemeenten, the
providers (the schakelfunctie's overview tells them whom to answer), and the contracting office
before the first day.

The simulated days lie in the past and end today (``schedule.Calendar``): no date sent is after
today, except a toewijzing's end and an evidence document's expiry, which are about the future by
nature. With ``live`` the run then goes on in "today" rounds that keep a demo moving.
"""

from __future__ import annotations

import logging

from services.sim import region, schedule
from services.sim.calls import Calls, Ledger, Urls
from services.sim.contracting_office import ContractingOffice
from services.sim.expertteam import ExpertTeam
from services.sim.gemeenten import Gemeenten
from services.sim.keys import Keys, make_keys
from services.sim.providers import Providers
from services.sim.referrers import Referrers
from services.sim.schedule import Calendar, Crunch
from services.sim.world import World

log = logging.getLogger("services.sim")
LIVE_CRUNCH_CHANCE = 1 / 24  # about every two minutes of a live demo, a setting runs short
LIVE_REFERRALS_PER_ROUND = 0.4


class Simulator:
    def __init__(
        self,
        urls: Urls,
        *,
        seed: int,
        calendar: Calendar,
        scale: float = 1.0,
        ledger: Ledger | None = None,
        region_id: str = region.REGION_SEED,
    ) -> None:
        self.world = World(seed=seed, calendar=calendar, scale=scale, region_id=region_id)
        self.calls = Calls(urls, ledger)
        self.referrers = Referrers(self.world, self.calls)
        self.gemeenten = Gemeenten(self.world, self.calls)
        self.providers = Providers(self.world, self.calls)
        self.office = ContractingOffice(self.world, self.calls)
        self.expertteam = ExpertTeam(self.world, self.calls)

    # --- setting up ---------------------------------------------------------------------------

    async def make_keys(self) -> Keys:
        world = self.world
        referrers = [f"{kind.type.value}:{agb}" for kind, agbs in world.referrers.items() for agb in agbs]
        providers = [p.agb for p in world.providers]
        self.calls.keys = await make_keys(
            providers, [m.code for m in world.region.municipalities], referrers, region=world.region.id
        )
        return self.calls.keys

    async def admit_providers(self) -> None:
        """The earlier tender's providers are registered as running; newcomers apply through Open House."""
        await self.office.register_running_contracts()
        await self.providers.apply_for_open_house()
        await self.office.read_terms()

    # --- one simulated day --------------------------------------------------------------------

    async def day(self, day: int) -> None:
        self._follow(self.world.crunches, day, f"day {day}")
        for provider in self.world.providers:
            for setting, beds in provider.beds.items():
                schedule.turnover(self.world.rng, setting, beds)
        await self.referrers.refer(day)
        await self.expertteam.pick(day)
        await self.referrers.withdraw(day)
        await self.gemeenten.decide_ambulant(day)
        await self.providers.answer_proposals(day)
        await self.expertteam.act(day)
        await self.gemeenten.allocate_placed(day)
        await self.providers.start_care(day)
        await self.providers.end_care(day)
        await self.providers.report_places(day)
        await self.providers.declare(day)

    def _follow(self, crunches: list[Crunch], moment: int, when: str) -> None:
        """Providers of a crunch's setting close to admission at its start and admit again at its end."""
        for crunch in crunches:
            if moment == crunch.start:
                self.world.close_to_admission(crunch.setting)
                log.info("%s: %s providers close to admission (a shortage starts)", when, crunch.setting)
            elif moment == crunch.end:
                self.world.admit_again(crunch.setting)
                log.info("%s: %s providers admit again", when, crunch.setting)

    # --- live: "today" rounds after the backfill ----------------------------------------------

    async def today_round(self, round_: int, live_crunches: list[Crunch]) -> None:
        """What happens in a few seconds of today: now and then a referral, providers answering
        proposals and starting care, capacity reports, and a setting closing or reopening. Nothing
        ends and nothing is declared: that needs a later date, which comes with the next real day."""
        world = self.world
        day = world.calendar.days
        self._follow(live_crunches, round_, "live")
        if not any(c.start <= round_ < c.end for c in live_crunches) and world.rng.random() < LIVE_CRUNCH_CHANCE:
            live_crunches.append(
                Crunch(world.rng.choice(schedule.CRUNCH_SETTINGS), round_ + 1, round_ + 1 + world.rng.randint(12, 36))
            )
        await self.referrers.refer(day, mean=LIVE_REFERRALS_PER_ROUND)
        await self.gemeenten.decide_ambulant(day)
        await self.providers.answer_proposals(day, always=True)
        await self.expertteam.act(day)
        await self.gemeenten.allocate_placed(day)
        await self.providers.start_care(day)
        await self.providers.report_places(day, all_settings=True)
