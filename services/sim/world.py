"""What the simulator knows of its region while it runs, and the actors that change it.

The world holds the providers with their beds, the referrers, the youths referred so far (cases),
the calendar and the one ``random.Random(seed)`` every choice is drawn from. An actor (a referrer,
a gemeente, a provider, the contracting office) acts on it through the services' public APIs.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from contracts.verblijf import Setting
from services.sim import region, schedule
from services.sim.calls import Calls
from services.sim.region import ReferrerKind
from services.sim.schedule import Calendar, Case


class World:
    def __init__(
        self, *, seed: int, calendar: Calendar, scale: float = 1.0, region_id: str = region.REGION_SEED
    ) -> None:
        self.calendar = calendar
        self.region = region.REGIONS[region_id]
        self.run = f"{seed % 100_000:05d}"
        self.rng = random.Random(seed)
        self.volumes = region.Volumes.for_region(self.region.youths, scale=scale)
        # The region's providers and referrers are the same in every run, so a rerun against the same
        # system reuses them instead of piling up providers; the seed decides the youths and events.
        # Another region draws other providers (its own AGB codes).
        fixed = random.Random(region_id)
        self.providers = schedule.make_providers(fixed)
        taken = {p.agb for p in self.providers}
        self.referrers: dict[ReferrerKind, list[str]] = {
            kind: [region.invented_agb(fixed, taken) for _ in range(region.REFERRER_COUNTS[kind.type])]
            for kind, _ in region.REFERRER_MIX
            if not kind.by_gemeente_key
        }
        self.cases: list[Case] = []
        self.by_referral: dict[str, Case] = {}
        self.used_bsns: set[str] = set()
        self.tariffs: schedule.Tariffs = {}
        self.crunches: list[schedule.Crunch] = []

    def open_cases(self) -> Iterable[Case]:
        """Youths referred, neither withdrawn nor out of care."""
        return (c for c in self.cases if c.referral_id and not c.withdrawn and c.ended_on is None)

    def close_to_admission(self, setting: Setting) -> None:
        for provider in self.providers:
            if setting in provider.beds:
                provider.beds[setting].closed = True

    def admit_again(self, setting: Setting) -> None:
        for provider in self.providers:
            if setting in provider.beds:
                schedule.release(provider.beds[setting])


@dataclass
class Actor:
    """One kind of participant of the region: acts on ``world`` through the services, with ``calls``."""

    world: World
    calls: Calls

    def _date(self, day: int) -> str:
        """Simulated day ``day`` as the services read a date."""
        return self.world.calendar.date_of(day).isoformat()
