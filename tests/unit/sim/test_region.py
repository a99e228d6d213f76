"""The simulated region's pure parts: synthetic BSNs, the mix of municipalities and referrers, volumes."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from contracts.codes import Verwijzer
from services.sim import region
from services.sim.region import GI, GP, VEILIG_THUIS


@given(st.integers(min_value=0, max_value=2**32))
def test_every_synthetic_bsn_passes_the_elfproef_and_lies_in_the_test_block(seed: int) -> None:
    bsn = region.synthetic_bsn(random.Random(seed))
    assert region.elfproef(bsn), bsn
    assert bsn.startswith(region.BSN_PREFIX) and len(bsn) == 9


def test_the_elfproef_refuses_a_changed_digit() -> None:
    bsn = region.synthetic_bsn(random.Random(1))
    changed = bsn[:4] + str((int(bsn[4]) + 1) % 10) + bsn[5:]
    assert not region.elfproef(changed)


def test_the_same_seed_draws_the_same_people() -> None:
    def people(seed: int) -> list[tuple[str, str]]:
        rng = random.Random(seed)
        return [(region.synthetic_bsn(rng), region.fake_name(rng)) for _ in range(20)]

    assert people(7) == people(7)
    assert people(7) != people(8)


def test_municipalities_are_drawn_by_youth_population_hilversum_first() -> None:
    rng = random.Random(3)
    drawn = Counter(region.pick_municipality(rng).code for _ in range(20_000))
    order = [code for code, _ in drawn.most_common()]
    assert order == ["0402", "1942", "0406", "1696", "0417", "0376"]
    assert abs(sum(m.youth_share for m in region.MUNICIPALITIES) - 1) < 1e-9


def test_three_quarters_of_referrals_come_from_gps_veilig_thuis_and_the_gi() -> None:
    share = sum(w for kind, w in region.REFERRER_MIX if kind in (GP, VEILIG_THUIS, GI))
    assert abs(share - 0.75) < 0.01
    assert all(kind.type is not Verwijzer.ZELFVERWIJZER or not kind.by_gemeente_key for kind, _ in region.REFERRER_MIX)


def test_volumes_scale_from_the_regions_fifty_thousand_youths() -> None:
    full = region.Volumes.for_region()
    # ≈6.6k youths in care a year, about half of them new: some ten referrals a day.
    assert 8 < full.referrals_per_day < 12
    assert region.Volumes.for_region(scale=0.5).referrals_per_day == full.referrals_per_day / 2
    assert region.Volumes.for_region(youths=100_000).referrals_per_day == 2 * full.referrals_per_day
    assert 0 < full.crisis_share < full.verblijf_share < 0.1


def test_a_poisson_draw_averages_its_mean() -> None:
    rng = random.Random(5)
    draws = [region.poisson(rng, 9.9) for _ in range(5_000)]
    assert abs(sum(draws) / len(draws) - 9.9) < 0.3
    assert region.poisson(rng, 0) == 0


def test_providers_are_mostly_ambulant_with_few_verblijf_providers() -> None:
    counts = {p.kind: p.count for p in region.PROVIDER_MIX}
    verblijf = sum(p.count for p in region.PROVIDER_MIX if p.places)
    assert counts["ambulant"] > verblijf
    assert counts["driemilieu"] == 1 and counts["crisis"] <= 2


def test_invented_agb_codes_are_unique_eight_digit_codes() -> None:
    rng, taken = random.Random(1), set()
    codes = [region.invented_agb(rng, taken) for _ in range(500)]
    assert len(set(codes)) == 500 and all(len(c) == 8 and c.isdigit() for c in codes)
