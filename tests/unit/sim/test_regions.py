"""The simulator plays either region of the two-region demo: each with its own municipalities and providers."""

from __future__ import annotations

import random
from datetime import date

import pytest

from contracts import regions
from contracts.pool import load_pools
from services.sim import region, schedule
from services.sim.schedule import Calendar
from services.sim.world import World


@pytest.mark.parametrize("region_id", list(region.REGIONS))
def test_every_simulated_region_is_known_and_its_youth_shares_add_up(region_id: str) -> None:
    played = region.REGIONS[region_id]
    regions.known_region(played.id)  # raises UnknownRegion for a region the registries do not know
    assert abs(sum(m.youth_share for m in played.municipalities) - 1) < 1e-9
    assert len({m.code for m in played.municipalities}) == len(played.municipalities)


def test_the_two_demo_regions_pool_jeugdzorgplus() -> None:
    pool = load_pools().named("midden-nederland")
    assert pool is not None
    assert set(region.REGIONS) <= set(pool.members)
    assert "jeugdzorgplus" in pool.settings


def test_eemland_refers_its_own_youths_to_its_own_providers() -> None:
    calendar = Calendar.ending(date(2026, 11, 30), 30)
    gooi = World(seed=1, calendar=calendar)
    eemland = World(seed=1, calendar=calendar, region_id="eemland")
    assert {p.agb for p in gooi.providers}.isdisjoint({p.agb for p in eemland.providers})
    assert any("jeugdzorgplus" in p.beds for p in eemland.providers)

    rng = random.Random(5)
    drawn = {
        schedule.new_case(
            rng, n, 1, eemland.volumes, calendar.date_of(1), eemland.referrers, set(), eemland.region.municipalities
        ).municipality
        for n in range(300)
    }
    assert drawn <= {m.code for m in region.EEMLAND}
    assert "0307" in drawn  # Amersfoort, half the region's youths
