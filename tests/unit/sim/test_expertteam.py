"""The simulator's expert team: which youths reach it (a few a year), who declines them, which
provider the maatwerk decision names, and the way a case goes through capacity's doorbraak routes
and contracting's maatwerk contract until the youth is placed; without those routes the run goes on."""

from __future__ import annotations

import dataclasses
from datetime import date

from contracts.codes import Productcategorie, RedenBeeindiging, Urgentie
from contracts.verblijf import Setting
from services.sim import expertteam, region
from services.sim.run import backfill
from services.sim.schedule import Beds, Case, Provider
from tests.unit.sim.fake_region import simulator


def case(
    number: int = 1, day: int = 5, settings: tuple[Setting, ...] = (Setting.RESIDENTIEEL,), **extra: object
) -> Case:
    fields = {
        "number": number,
        "day": day,
        "municipality": "0402",
        "referrer": region.REFERRER_MIX[0][0],
        "referrer_agb": None,
        "category": region.category_of(settings[0]) if settings else Productcategorie.AMBULANT,
        "settings": list(settings),
        "urgency": Urgentie.REGULIER,
        "ambulant_tried": True,
        "bsn": "999999990",
        "name": "Test",
        "birth_date": date(2012, 1, 1),
        "decision_after": 3,
        "wait": 10,
        "care_days": 100,
        "end_reason": RedenBeeindiging.VOLGENS_PLAN,
        "referral_id": f"r{number}",
    }
    return Case(**{**fields, **extra})  # type: ignore[arg-type]


def provider(agb: str, setting: Setting, lot: str) -> Provider:
    return Provider(agb, setting.value, (lot,), {setting: Beds(6, background=0)})


def test_a_few_youths_a_year_reach_the_expert_team() -> None:
    days = [d for d in range(1, 366) if expertteam.is_doorbraak_day(d)]
    assert days == [2, 92, 182, 272, 362]
    # A month-long demo sees one early enough to go all the way.
    assert [d for d in range(1, 31) if expertteam.is_doorbraak_day(d)] == [2]


def test_the_first_youth_referred_for_a_regional_verblijf_setting_from_the_slot_on_is_picked() -> None:
    cases = [
        case(1, day=1),  # before the slot
        case(2, day=3, settings=()),  # ambulant
        case(3, day=3, settings=(Setting.CRISISPLEK,)),  # placed the same day, or never: not a doorbraak
        case(4, day=3, settings=(Setting.JEUGDZORGPLUS,)),  # supra-regional
        case(5, day=4, withdraw_on=6),  # will be withdrawn
        case(6, day=4, referral_id=None),  # intake did not take the referral
        case(7, day=5),
        case(8, day=5),
    ]
    assert expertteam.pick(cases, day=5, since=2) is cases[6]
    assert expertteam.pick(cases, day=4, since=2) is None


def test_a_youth_already_placed_allocated_or_picked_is_not_picked_again() -> None:
    for taken in ({"placed_on": 3}, {"allocation_id": "a1"}, {"doorbraak": True}, {"withdrawn": True}):
        assert not expertteam.eligible(case(**taken))  # type: ignore[arg-type]


def test_every_provider_declines_a_doorbraak_youth_but_its_maatwerk_provider() -> None:
    youth = case(doorbraak=True)
    assert expertteam.declines(youth, "11111111")
    youth.maatwerk_agb = "22222222"
    assert expertteam.declines(youth, "11111111") and not expertteam.declines(youth, "22222222")
    assert not expertteam.declines(case(), "11111111") and not expertteam.declines(None, "11111111")


def test_a_maatwerk_arrangement_looks_closest_to_home_first_and_residential_last() -> None:
    assert expertteam.maatwerk_settings(case(settings=(Setting.PLEEGZORG, Setting.GEZINSHUIS))) == [
        Setting.PLEEGZORG,
        Setting.GEZINSHUIS,
        Setting.RESIDENTIEEL,
    ]
    assert expertteam.maatwerk_settings(case(settings=(Setting.DRIEMILIEU,))) == [
        Setting.DRIEMILIEU,
        Setting.RESIDENTIEEL,
    ]


def test_the_maatwerk_provider_is_one_that_has_not_declined_the_youth_in_its_most_preferred_setting() -> None:
    providers = [
        provider("30000003", Setting.RESIDENTIEEL, "RESIDENTIEEL"),
        provider("20000002", Setting.GEZINSHUIS, "GEZINSHUIS"),
        provider("10000001", Setting.RESIDENTIEEL, "RESIDENTIEEL"),
    ]
    youth = case(3, settings=(Setting.DRIEMILIEU, Setting.RESIDENTIEEL))
    chosen = expertteam.maatwerk_provider(providers, youth)
    assert chosen is not None
    # No driemilieu provider here; of the two residential ones (by AGB) youth 3 gets the second.
    assert (chosen[0].agb, chosen[1], chosen[2]) == ("30000003", Setting.RESIDENTIEEL, "RESIDENTIEEL")
    # Capacity proposes a provider once per youth: one that declined it is not named again.
    chosen = expertteam.maatwerk_provider(providers, youth, tried={"30000003"})
    assert chosen is not None and chosen[0].agb == "10000001"
    # A gezinshuis youth every gezinshuis declined goes residential.
    chosen = expertteam.maatwerk_provider(providers, case(settings=(Setting.GEZINSHUIS,)), tried={"20000002"})
    assert chosen is not None and chosen[1] is Setting.RESIDENTIEEL
    assert expertteam.maatwerk_provider(providers, youth, tried={"10000001", "20000002", "30000003"}) is None


async def test_a_doorbraak_youth_goes_from_escalation_through_a_maatwerk_contract_to_a_place() -> None:
    sim, fake = simulator(40)
    await sim.admit_providers()
    await backfill(sim, speed=1e9)
    counts = sim.calls.counts
    assert counts["doorbraak youth"] == 1
    assert counts["escalation by hand"] == 2
    for step in ("doorbraak case taken up", "doorbraak meeting", "doorbraak decision", "maatwerk contract"):
        assert counts[step] == 1, step
    [doorbraak] = sim.expertteam.cases
    youth = doorbraak.case
    assert doorbraak.step == expertteam.DONE and youth.maatwerk_agb is not None
    # Placed with the provider the decision named, allocated, and in care.
    assert youth.provider == youth.maatwerk_agb and youth.placed_on is not None and youth.started_on is not None
    [contract] = [body for path, body in fake.sent if path == "/v1/contracts" and body.get("decision_id")]
    assert contract == {
        "kind": "maatwerk",
        "provider_agb": youth.maatwerk_agb,
        "lot": doorbraak.lot,
        "client_ref": youth.client_ref,
        "decision_id": doorbraak.decision_id,
        "valid_from": contract["valid_from"],
    }
    [decision] = [body for path, body in fake.sent if path.endswith("/decisions")]
    assert (decision["kind"], decision["executor"], decision["working_days"]) == ("maatwerk", "contractmanagement", 10)
    assert decision["provider_agb"] == youth.maatwerk_agb
    # The expert team's bodies name roles and codes: never the youth's BSN, name or birth date.
    doorbraak_bodies = [body for path, body in fake.sent if path.startswith("/v1/cases") or "decision_id" in body]
    assert not any(youth.bsn in str(b) or youth.name in str(b) for b in doorbraak_bodies)
    await sim.calls.http.aclose()


async def test_without_capacitys_doorbraak_routes_the_run_counts_it_once_and_goes_on() -> None:
    sim, fake = simulator(40, doorbraak=False)
    await sim.admit_providers()
    await backfill(sim, speed=1e9)
    counts = sim.calls.counts
    assert counts[expertteam.UNAVAILABLE] == 1
    steps = [what for what in counts if what.startswith(("doorbraak", "maatwerk", "escalation"))]
    assert steps == [expertteam.UNAVAILABLE]
    assert [r for r in fake.requests if r[1].startswith("/v1/cases")] == [("GET", "/v1/cases")]
    # Nobody is kept from a place: every verblijf youth is declined for its own reasons only.
    assert not any(c.doorbraak for c in sim.world.cases)
    assert counts["referral"] > 0 and counts["accept"] > 0
    await sim.calls.http.aclose()


def test_the_case_fields_the_simulator_adds_have_defaults() -> None:
    names = {f.name: f.default for f in dataclasses.fields(Case)}
    assert names["doorbraak"] is False and names["maatwerk_agb"] is None and names["client_ref"] is None
