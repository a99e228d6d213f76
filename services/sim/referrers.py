"""The referrers: GPs, Veilig Thuis, the wijkteam, courts and the rest refer youths to intake, and
now and then withdraw a referral that is no longer needed."""

from __future__ import annotations

from services.sim import region, schedule
from services.sim.schedule import Case
from services.sim.world import Actor


class Referrers(Actor):
    async def refer(self, day: int, mean: float | None = None) -> None:
        """The day's new referrals: a Poisson number of youths (``mean`` a day, else the region's)."""
        world = self.world
        referral_date = world.calendar.date_of(day)
        count = region.poisson(world.rng, world.volumes.referrals_per_day if mean is None else mean)
        new = [
            schedule.new_case(
                world.rng,
                len(world.cases) + i,
                day,
                world.volumes,
                referral_date,
                world.referrers,
                world.used_bsns,
                world.region.municipalities,
            )
            for i in range(count)
        ]
        world.cases += new

        async def refer(case: Case) -> None:
            body = {
                "client": {
                    "bsn": case.bsn,
                    "birth_date": case.birth_date.isoformat(),
                    "municipality_code": case.municipality,
                    "name": case.name,
                },
                "referrer": {"type": case.referrer.type.value, "agb": case.referrer_agb},
                "product_category": case.category.value,
                "settings": [s.value for s in case.settings],
                "urgency": case.urgency.value,
                "ambulant_tried": case.ambulant_tried,
                "veilig_thuis": case.referrer.veilig_thuis,
                "referral_date": referral_date.isoformat(),
            }
            answer = await self.calls.call(
                "POST",
                self.calls.urls.intake,
                "/v1/referrals",
                self.key_of(case),
                body,
                what="referral",
                ref=lambda answer: answer["referral_id"],
            )
            if answer:
                case.referral_id, case.client_ref = answer["referral_id"], answer["client_ref"]
                world.by_referral[case.referral_id] = case

        await self.calls.each(new, refer)

    async def withdraw(self, day: int) -> None:
        due = [
            c
            for c in self.world.open_cases()
            if c.withdraw_on == day and c.allocation_id is None and c.placed_on is None
        ]

        async def withdraw(case: Case) -> None:
            if await self.calls.call(
                "POST",
                self.calls.urls.intake,
                f"/v1/referrals/{case.referral_id}/withdrawal",
                self.key_of(case),
                {"reason": "niet_meer_nodig"},
                what="withdrawal",
                ref=case.referral_id,
            ):
                case.withdrawn = True

        await self.calls.each(due, withdraw)

    def key_of(self, case: Case) -> str:
        """The referrer's own key; a referral by the gemeente (wijkteam, Veilig Thuis) goes with its key."""
        keys = self.calls.keys
        if case.referrer.by_gemeente_key:
            return keys.gemeenten[case.municipality]
        return keys.referrers[f"{case.referrer.type.value}:{case.referrer_agb}"]
