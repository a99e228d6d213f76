"""What happens on a simulated day: new youths, provoked shortages, bed turnover, declarations."""

from __future__ import annotations

import itertools
import random
from datetime import date

import pytest

from contracts.codes import Productcategorie, Urgentie
from contracts.verblijf import Setting
from services.sim import region, schedule
from services.sim.region import GI, GP, RECHTER

TODAY = date(2026, 11, 24)
REFERRERS = {
    GP: ["12345678"],
    GI: ["23456789"],
    RECHTER: ["34567890"],
    region.JEUGDARTS: ["45678901"],
    region.SPECIALIST: ["56789012"],
}


def cases(seed: int, n: int = 2_000) -> list[schedule.Case]:
    rng, used = random.Random(seed), set()
    volumes = region.Volumes.for_region()
    return [schedule.new_case(rng, i, 1, volumes, TODAY, REFERRERS, used) for i in range(n)]


def test_the_same_seed_makes_the_same_cases() -> None:
    assert [(c.bsn, c.category, c.wait) for c in cases(4, 50)] == [(c.bsn, c.category, c.wait) for c in cases(4, 50)]


def test_no_two_youths_share_a_bsn() -> None:
    drawn = cases(1)
    assert len({c.bsn for c in drawn}) == len(drawn)


def test_verblijf_and_crisis_referrals_name_settings_and_others_none() -> None:
    for case in cases(2):
        assert bool(case.settings) == case.category.needs_setting
        if case.category is Productcategorie.CRISIS:
            assert case.settings == [Setting.CRISISPLEK] and case.urgency is Urgentie.CRISIS
        assert all(region.category_of(s) is case.category for s in case.settings)


def test_a_gi_or_court_referral_needs_no_gemeente_decision_time() -> None:
    for case in cases(3):
        if case.referrer in (GI, RECHTER):
            assert case.decision_after == 0
        assert case.wait > case.decision_after


def test_most_referrals_are_ambulant_and_a_few_percent_crisis() -> None:
    drawn = cases(5)
    crisis = sum(c.category is Productcategorie.CRISIS for c in drawn) / len(drawn)
    verblijf = sum(c.verblijf for c in drawn) / len(drawn)
    assert 0.01 < crisis < 0.05 and verblijf < 0.15


def test_the_calendar_runs_in_the_past_and_its_last_day_is_today() -> None:
    calendar = schedule.Calendar.ending(TODAY, 365)
    assert calendar.date_of(365) == calendar.today == TODAY
    assert calendar.date_of(1) == date(2025, 11, 25)
    with pytest.raises(ValueError, match="after today"):
        calendar.date_of(366)
    assert calendar.extended().today == date(2026, 11, 25)


def test_a_youth_is_of_age_on_its_own_referral_date() -> None:
    rng, volumes = random.Random(11), region.Volumes.for_region()
    referral_date = date(2025, 12, 1)
    for i in range(500):
        case = schedule.new_case(rng, i, 7, volumes, referral_date, REFERRERS, set())
        age = (referral_date - case.birth_date).days / 365.25
        assert 0 <= age < 18
        if Setting.JEUGDZORGPLUS in case.settings[:1]:
            assert age >= 12


def test_the_first_shortage_comes_early_and_every_one_ends() -> None:
    planned = schedule.crunches(random.Random(1), 365)
    assert planned[0].start <= 3
    assert all(c.end > c.start for c in planned)
    assert all(a.end < b.start for a, b in itertools.pairwise(planned))
    assert {c.setting for c in planned} >= {Setting.CRISISPLEK, Setting.GEZINSHUIS}


def test_a_run_ends_today_with_a_shortage_open_that_started_in_its_last_weeks() -> None:
    for seed in range(200):
        for days in (30, 60, 365):
            planned = schedule.crunches(random.Random(seed), days)
            assert days - 28 <= planned[-1].start <= days < planned[-1].end, (seed, days, planned[-1])
            assert any(c.end < days for c in planned), "a short run also sees one shortage resolved"
            assert all(a.end < b.start for a, b in itertools.pairwise(planned))


def test_after_a_crunch_places_are_free_again_for_the_simulators_own_youths_too() -> None:
    beds = schedule.Beds(total=4, background=3, cases={1}, closed=True)
    schedule.release(beds)
    assert not beds.closed and beds.free >= 2 and beds.cases == {1}


def test_turnover_never_overfills_nor_empties_below_zero() -> None:
    rng = random.Random(9)
    beds = schedule.Beds(total=6, background=6)
    for _ in range(1_000):
        schedule.turnover(rng, Setting.CRISISPLEK, beds)
        assert 0 <= beds.background and beds.occupied <= beds.total


def test_month_pieces_cut_a_period_at_calendar_months() -> None:
    pieces = list(schedule.month_pieces(date(2026, 11, 20), date(2027, 1, 5)))
    assert pieces == [
        (date(2026, 11, 20), date(2026, 11, 30)),
        (date(2026, 12, 1), date(2026, 12, 31)),
        (date(2027, 1, 1), date(2027, 1, 5)),
    ]


# Day 1 is 2026-11-01; day 10 is 2026-11-10. Long enough to declare into 2027.
CALENDAR = schedule.Calendar(date(2026, 11, 1), 200)


def _in_care(category: Productcategorie = Productcategorie.AMBULANT) -> schedule.Case:
    case = cases(7, 1)[0]
    case.category, case.settings, case.day = category, [], 1
    case.allocation_number, case.started_on = 17, 11
    return case


TARIFFS: schedule.Tariffs = {
    ("45A53", "04"): [(date(2026, 1, 1), date(2026, 12, 31), 10480), (date(2027, 1, 1), date(2027, 12, 31), 10836)]
}


def test_closed_months_are_declared_once_at_the_tariff_of_their_year() -> None:
    case = _in_care()
    rng = random.Random(1)
    assert schedule.declaration_lines(rng, [case], 20, TARIFFS, CALENDAR) == []  # November has not closed yet
    lines = []
    for day in range(20, 100):
        lines += schedule.declaration_lines(random.Random(day), [case], day, TARIFFS, CALENDAR)
    months = [(ln["period_start"], ln["period_end"]) for ln in lines]
    assert months[0] == ("2026-11-11", "2026-11-30") and len(months) == len(set(months))
    correct = [ln for ln in lines if ln["amount"] == ln["volume"] * ln["tariff"]]
    assert any(ln["tariff"] == 10836 for ln in correct) and any(ln["tariff"] == 10480 for ln in correct)


def test_care_that_ended_is_declared_once_its_month_has_passed_without_the_day_it_ended() -> None:
    case = _in_care()
    case.ended_on = 26  # 2026-11-26
    assert schedule.declaration_lines(random.Random(3), [case], 30, TARIFFS, CALENDAR) == []  # 2026-11-30
    lines = schedule.declaration_lines(random.Random(3), [case], 31, TARIFFS, CALENDAR)  # 2026-12-01
    assert [(ln["period_start"], ln["period_end"]) for ln in lines] == [("2026-11-11", "2026-11-25")]
    assert schedule.declaration_lines(random.Random(3), [case], 62, TARIFFS, CALENDAR) == []


def test_no_declared_period_reaches_today() -> None:
    calendar = schedule.Calendar.ending(TODAY, 120)
    for seed in range(20):
        case = _in_care()
        case.ended_on = None if seed % 2 else 40 + seed
        for day in range(11, 121):
            period = schedule.declarable(case, day, calendar)
            if period:
                assert period[1] < calendar.date_of(day).replace(day=1)
                case.declared_until = period[1]


def test_a_mistake_is_one_the_declaration_check_refuses() -> None:
    line = {"allocation_number": 17, "volume": 6, "tariff": 10836, "amount": 65016}
    for seed in range(30):
        wrong = schedule.mistake(random.Random(seed), line)
        assert (
            wrong["tariff"] != line["tariff"]
            or wrong["amount"] != wrong["volume"] * wrong["tariff"]
            or wrong["allocation_number"] != line["allocation_number"]
        )


def test_each_provider_declares_once_a_month_on_a_day_of_its_own() -> None:
    days = [d for d in range(1, 91) if schedule.declares_on("98123457", d)]
    assert len(days) == 3 and days[1] - days[0] == 30


def test_a_verblijf_toewijzing_counts_etmalen_for_its_whole_period() -> None:
    case = _in_care(Productcategorie.VERBLIJF_EXCL_BEHANDELING)
    case.settings, case.setting = [Setting.GEZINSHUIS], Setting.GEZINSHUIS
    amount = schedule.allocation_amount(case, date(2026, 12, 1), date(2026, 12, 31))
    assert amount == {"volume": 31, "unit": "14", "frequency": "6"}
    assert schedule.product_of(case) == ("44A02", "14")


def test_providers_start_mostly_occupied_and_one_forgets_its_meldcode() -> None:
    providers = schedule.make_providers(random.Random(1))
    assert len({p.agb for p in providers}) == len(providers)
    assert sum(p.missing_evidence == "meldcode" for p in providers) == 1
    for p in providers:
        for beds in p.beds.values():
            assert 0 < beds.free < beds.total


def test_places_are_reported_when_they_change_and_confirmed_weekly() -> None:
    beds = schedule.Beds(total=6, background=4)
    assert beds.needs_report(1)
    beds.reported, beds.reported_on = beds.report, 1
    assert not beds.needs_report(2) and beds.needs_report(1 + schedule.REPORT_EVERY_DAYS)
    beds.closed = True
    assert beds.needs_report(2)


def test_care_before_the_contract_began_is_not_declared() -> None:
    case = _in_care()
    lines = schedule.declaration_lines(random.Random(1), [case], 70, TARIFFS, CALENDAR, date(2026, 12, 10))
    periods = [(ln["period_start"], ln["period_end"]) for ln in lines]
    assert periods == [("2026-12-10", "2026-12-31")], periods


def test_most_providers_ran_before_schakel_and_the_rest_apply_through_open_house() -> None:
    providers = schedule.make_providers(random.Random(7))
    incumbents = [p for p in providers if p.incumbent]
    assert 0 < len(incumbents) < len(providers)
    assert all(p.missing_evidence is None for p in incumbents)
    assert schedule.make_providers(random.Random(7)) == providers  # the same region every run
