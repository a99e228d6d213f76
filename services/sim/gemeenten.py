"""The gemeenten: each decides on its youths' ambulant care and issues the toewijzing (allocation),
for ambulant care after a few days and for verblijf once a provider has accepted the youth."""

from __future__ import annotations

from datetime import timedelta

from services.sim import region, schedule
from services.sim.schedule import Case
from services.sim.world import Actor


class Gemeenten(Actor):
    async def decide_ambulant(self, day: int) -> None:
        """Ambulant youths whose decision is due get a provider admitted to the lot, and a toewijzing."""
        world = self.world
        due = [
            c
            for c in world.open_cases()
            if not c.verblijf and c.allocation_id is None and day >= c.day + c.decision_after and c.withdraw_on is None
        ]
        for case in due:
            lot = region.PRODUCT_OF[case.category][0]
            admitted = [p.agb for p in world.providers if lot in p.admitted_lots]
            case.provider = world.rng.choice(admitted) if admitted else None
        await self.calls.each([c for c in due if c.provider], lambda c: self._allocate(c, day, c.wait + c.care_days))

    async def allocate_placed(self, day: int) -> None:
        """Verblijf youths a provider accepted get their toewijzing."""
        due = [c for c in self.world.open_cases() if c.placed_on is not None and c.allocation_id is None]
        await self.calls.each(due, lambda c: self._allocate(c, day, c.care_days))

    async def _allocate(self, case: Case, day: int, lasting: int) -> None:
        start = self.world.calendar.date_of(day)
        end = start + timedelta(days=lasting + 60)
        code, _ = schedule.product_of(case)
        body = {
            "provider_agb": case.provider,
            "product_category": case.category.value,
            "product_code": code,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            **schedule.allocation_amount(case, start, end),
        }
        answer = await self.calls.call(
            "POST",
            self.calls.urls.intake,
            f"/v1/referrals/{case.referral_id}/allocations",
            self.calls.keys.gemeenten[case.municipality],
            body,
            what="allocation",
            ref=lambda answer: answer["allocation_id"],
        )
        if answer:
            case.allocation_id, case.allocation_number = answer["allocation_id"], answer["allocation_number"]
            case.allocation_start, case.allocation_end = start, end
        else:
            # Refused (e.g. OP259: a youth of an earlier run with the same synthetic BSN already holds this
            # product): the simulator stops following this youth rather than ask again every day.
            case.withdrawn = True
