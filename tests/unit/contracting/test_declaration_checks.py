"""The declaration checker: each published rule, credits, cumulative limits, and configurable rules."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from contracts.codes import Retourcode
from contracts.contracting import ContractKind
from services.contracting.domain import declaration_rules as r
from services.contracting.domain.declaration_checks import assess
from services.contracting.domain.declarations import Assessment, Booking
from services.contracting.domain.lots import Tariff
from tests.unit.contracting.builders import (
    AGB,
    CLIENT,
    HILVERSUM,
    HOUR,
    HUIZEN,
    OTHER_AGB,
    OTHER_CLIENT,
    PRODUCT,
    REGION,
    TARIFF_2027,
    UTRECHT,
    allocation,
    contract,
    line,
)

DECLARATION = uuid.UUID(int=1)


def check(
    lines,
    *,
    allocations=None,
    contracts=None,
    ledger=(),
    rules=None,
    declaration=DECLARATION,  # type: ignore[no-untyped-def]
    to=HILVERSUM,
) -> Assessment:
    """Assess ``lines`` as a declaration to gemeente ``to`` (the builders' allocation is Hilversum's)."""
    return assess(
        declaration,
        lines,
        provider_agb=AGB,
        municipality_code=to,
        allocations=[allocation()] if allocations is None else allocations,
        contracts=[contract()] if contracts is None else contracts,
        ledger=list(ledger),
        rules=rules or r.RuleSet(),
        region=REGION,
    )


def rules_broken(assessment: Assessment, number: int = 1) -> list[str]:
    [outcome] = [o for o in assessment.lines if o.line.line_number == number]
    return [f.rule for f in outcome.findings]


def test_a_correct_line_is_approved_with_8001_and_booked() -> None:
    result = check([line()])
    [outcome] = result.lines
    assert outcome.approved and outcome.return_codes == [Retourcode.GOEDGEKEURD]
    assert result.approved_amount == result.submitted_amount == 8 * 9_500
    assert [b.volume for b in result.bookings] == [8]


def test_a_line_without_a_known_allocation_is_9019_and_names_the_consulent() -> None:
    result = check([line(allocation_number=999)])
    [outcome] = result.lines
    assert outcome.return_codes == [Retourcode.GEEN_TOEWIJZING]
    assert "no allocation 999 of gemeente 0402" in outcome.findings[0].reason
    assert r.BY_CODE[outcome.findings[0].rule].contact == "consulent"
    assert result.bookings == ()


def test_an_allocation_of_another_provider_is_not_found() -> None:
    result = check([line()], allocations=[allocation(provider_agb=OTHER_AGB)])
    assert rules_broken(result) == [r.ALLOCATION_KNOWN]


def test_a_client_ref_that_is_not_the_allocations_is_9019() -> None:
    assert rules_broken(check([line(client_ref=OTHER_CLIENT)])) == [r.ALLOCATION_KNOWN]
    assert rules_broken(check([line(client_ref=CLIENT)])) == []


def test_an_allocation_withdrawn_as_never_valid_is_9384() -> None:
    withdrawn = allocation(withdrawn_reason="13", withdrawn_on=date(2026, 9, 15))
    result = check([line()], allocations=[withdrawn])
    assert result.lines[0].return_codes == [Retourcode.TOEWIJZING_INGETROKKEN]


def test_an_allocation_withdrawn_for_another_reason_ends_the_day_before() -> None:
    withdrawn = allocation(withdrawn_reason="02", withdrawn_on=date(2026, 10, 16))
    assert rules_broken(check([line(period_end=date(2026, 10, 31))], allocations=[withdrawn])) == [
        r.END_WITHIN_ALLOCATION
    ]
    assert rules_broken(check([line(period_end=date(2026, 10, 15), volume=4)], allocations=[withdrawn])) == []


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (date(2026, 8, 20), date(2026, 8, 31), Retourcode.BEGIN_BUITEN_TOEWIJZING),
        (date(2027, 3, 1), date(2027, 3, 31), Retourcode.EIND_BUITEN_TOEWIJZING),
    ],
)
def test_a_period_outside_the_allocation_is_9307_or_9308(start: date, end: date, code: Retourcode) -> None:
    result = check([line(period_start=start, period_end=end, tariff=TARIFF_2027 if start.year == 2027 else 9_500)])
    assert code in result.lines[0].return_codes


def test_a_period_spanning_two_calendar_months_is_refused() -> None:
    result = check([line(period_start=date(2026, 10, 15), period_end=date(2026, 11, 14))])
    assert rules_broken(result) == [r.SINGLE_CALENDAR_MONTH]
    assert "split it per month" in result.lines[0].findings[0].reason


def test_a_tariff_other_than_the_contracts_on_that_date_is_0611_for_inkoop() -> None:
    result = check([line(tariff=9_000)])
    [finding] = result.lines[0].findings
    assert finding.rule == r.TARIFF and finding.return_code == Retourcode.TARIEF_WIJKT_AF
    assert "9000 differs from the contract tariff 9500" in finding.reason
    assert r.BY_CODE[finding.rule].contact == "inkoop_en_contractbeheer"


def test_the_tariff_of_the_year_of_the_period_applies() -> None:
    january = dict(period_start=date(2027, 1, 1), period_end=date(2027, 1, 31))
    assert rules_broken(check([line(**january, tariff=TARIFF_2027)])) == []
    assert rules_broken(check([line(**january, tariff=9_500)])) == [r.TARIFF]


def test_a_unit_without_a_contract_tariff_is_0611() -> None:
    result = check([line(unit="01", tariff=150)], allocations=[allocation(unit="01")])
    assert rules_broken(result) == [r.TARIFF]


def test_an_amount_that_is_not_volume_times_tariff_is_9346() -> None:
    result = check([line(volume=8, tariff=9_500, amount=76_001)])
    assert rules_broken(result) == [r.AMOUNT]
    assert result.lines[0].return_codes == [Retourcode.BEDRAG_ONJUIST]


def test_a_product_that_was_not_allocated_is_refused() -> None:
    result = check([line(product_code="45A49", tariff=9_500)])
    assert r.PRODUCT_ALLOCATED in rules_broken(result)


def test_without_a_contract_on_the_dates_the_line_is_refused() -> None:
    ended = contract(ended_on=date(2026, 10, 15))
    assert rules_broken(check([line()], contracts=[ended])) == [r.CONTRACT]
    assert rules_broken(check([line()], contracts=[contract(provider_agb=OTHER_AGB)])) == [r.CONTRACT]
    assert rules_broken(check([line(period_end=date(2026, 10, 15), volume=4)], contracts=[ended])) == []


def test_taakgerichte_financiering_never_pays_a_line_per_client() -> None:
    assert rules_broken(check([line()], contracts=[contract(kind=ContractKind.TAAKGERICHT)])) == [r.CONTRACT]


def test_maatwerk_pays_only_for_its_own_client_and_may_have_its_own_tariff() -> None:
    own_price = (Tariff(product_code=PRODUCT, unit=HOUR, eurocent=11_000, valid_from=date(2026, 1, 1)),)
    maatwerk = contract(kind=ContractKind.MAATWERK, client_ref=CLIENT, tariffs=own_price)
    assert rules_broken(check([line(tariff=11_000)], contracts=[maatwerk])) == []
    other = contract(kind=ContractKind.MAATWERK, client_ref=OTHER_CLIENT)
    assert rules_broken(check([line()], contracts=[other])) == [r.CONTRACT]


def test_uitloop_pays_for_youths_in_care_before_the_exit_but_not_new_ones() -> None:
    uitloop = contract(kind=ContractKind.UITLOOP, valid_from=date(2026, 10, 1), valid_to=date(2027, 3, 31))
    assert rules_broken(check([line()], contracts=[uitloop])) == []
    newcomer = allocation(start_date=date(2026, 10, 1))
    assert rules_broken(check([line()], allocations=[newcomer], contracts=[uitloop])) == [r.CONTRACT]


def test_volume_is_cumulative_over_earlier_approved_lines() -> None:
    earlier = Booking(
        uuid.UUID(int=9), 1, allocation().allocation_id, PRODUCT, date(2026, 9, 1), date(2026, 9, 30), 36, 36 * 9_500
    )
    result = check([line(volume=5)], ledger=[earlier])
    assert rules_broken(result) == [r.VOLUME]
    assert "4 of 40 left" in result.lines[0].findings[0].reason
    assert rules_broken(check([line(volume=4)], ledger=[earlier])) == []


def test_volume_counts_earlier_lines_of_the_same_declaration() -> None:
    first = line(line_number=1, period_start=date(2026, 9, 1), period_end=date(2026, 9, 30), volume=30)
    second = line(line_number=2, volume=11)
    result = check([first, second])
    assert [o.approved for o in result.lines] == [True, False]
    assert rules_broken(result, 2) == [r.VOLUME]


def test_a_unit_other_than_allocated_cannot_be_counted_against_the_volume() -> None:
    result = check([line()], allocations=[allocation(unit="01")])
    assert r.VOLUME in rules_broken(result)


def test_a_volume_per_week_is_checked_per_calendar_month() -> None:
    weekly = allocation(volume=2, frequency="2")
    # October 2026 has 31 days: 2 × 31/7 ≈ 8.86 hours.
    assert rules_broken(check([line(volume=8)], allocations=[weekly])) == []
    result = check([line(volume=9)], allocations=[weekly])
    assert rules_broken(result) == [r.VOLUME_PER_PERIOD]
    assert result.lines[0].return_codes == [Retourcode.VOLUME_OVERSCHREDEN_PERIODE]


def test_a_volume_per_month_counts_each_month_apart() -> None:
    monthly = allocation(volume=8, frequency="4")
    september = Booking(
        uuid.UUID(int=9), 1, monthly.allocation_id, PRODUCT, date(2026, 9, 1), date(2026, 9, 30), 8, 8 * 9_500
    )
    assert rules_broken(check([line(volume=8)], allocations=[monthly], ledger=[september])) == []
    half = line(line_number=1, period_end=date(2026, 10, 15), volume=6)
    rest = line(line_number=2, period_start=date(2026, 10, 16), volume=3)
    assert rules_broken(check([half, rest], allocations=[monthly]), 2) == [r.VOLUME_PER_PERIOD]


def test_a_volume_per_day_is_the_days_of_the_allocation_in_the_month() -> None:
    daily = allocation(
        volume=1, frequency="1", unit="14", product_category="43", product_code="43A01", start_date=date(2026, 10, 10)
    )
    residential = contract(
        lot=contract().lot.model_copy(
            update={
                "product_categories": ["43"],
                "product_codes": ["43A01"],
                "tariffs": [Tariff(product_code="43A01", unit="14", eurocent=25_000, valid_from=date(2026, 1, 1))],
            }
        )
    )
    stay = dict(product_category="43", product_code="43A01", unit="14", tariff=25_000, period_start=date(2026, 10, 10))
    assert rules_broken(check([line(**stay, volume=22)], allocations=[daily], contracts=[residential])) == []
    assert rules_broken(check([line(**stay, volume=23)], allocations=[daily], contracts=[residential])) == [
        r.VOLUME_PER_PERIOD
    ]


def test_a_budget_allocation_is_9369_once_the_approved_amounts_exceed_it() -> None:
    budget = allocation(volume=None, unit=None, frequency=None, budget=100_000)
    result = check(
        [line(volume=8), line(line_number=2, period_start=date(2026, 11, 1), period_end=date(2026, 11, 30), volume=3)],
        allocations=[budget],
    )
    assert rules_broken(result, 1) == [] and rules_broken(result, 2) == [r.BUDGET]
    assert result.lines[1].return_codes == [Retourcode.BUDGET_OVERSCHREDEN]
    assert "24000 of 100000 eurocent left" in result.lines[1].findings[0].reason


def test_the_same_product_and_period_declared_twice_is_refused() -> None:
    first = check([line()])
    again = check([line()], ledger=first.bookings, declaration=uuid.UUID(int=2))
    assert rules_broken(again) == [r.NO_STACKING]
    within = check([line(line_number=1, volume=2), line(line_number=2, volume=2)])
    assert rules_broken(within, 2) == [r.NO_STACKING]


def test_a_missing_start_of_care_never_rejects_a_line() -> None:
    # OP364: the checker has no input for start or stop messages, so it cannot depend on them.
    assert check([line()]).lines[0].approved


def test_a_credit_and_a_corrected_debit_replace_an_approved_line() -> None:
    wrong = check([line(volume=8)])
    correction = [line(line_number=1, volume=8, credit=True), line(line_number=2, volume=6)]
    result = check(correction, ledger=wrong.bookings, declaration=uuid.UUID(int=2))
    assert [o.approved for o in result.lines] == [True, True]
    assert result.lines[0].credited == wrong.bookings[0]
    assert result.credited_amount == 8 * 9_500 and result.approved_amount == 6 * 9_500
    assert [b.volume for b in result.bookings] == [6]


def test_a_credit_without_an_approved_line_to_reverse_is_refused() -> None:
    result = check([line(credit=True)])
    assert rules_broken(result) == [r.CREDIT_MATCHES_DEBIT]
    assert result.rejected_amount == 8 * 9_500 and result.credited_amount == 0


def test_a_line_credits_only_once() -> None:
    booked = check([line()]).bookings
    result = check([line(line_number=1, credit=True), line(line_number=2, credit=True)], ledger=booked)
    assert [o.approved for o in result.lines] == [True, False]


def test_a_move_inside_the_region_is_accepted_by_default_and_refused_when_the_rule_is_on() -> None:
    moved = line(municipality_code=HUIZEN, client_ref=CLIENT)
    assert rules_broken(check([moved])) == []
    strict = r.RuleSet.without([])
    result = check([moved], rules=strict)
    assert rules_broken(result) == [r.MOVED_WITHIN_REGION]
    assert "declare it to 0402" in result.lines[0].findings[0].reason


def test_a_move_needs_the_client_ref_and_stays_inside_the_region() -> None:
    assert rules_broken(check([line(municipality_code=HUIZEN)])) == [r.ALLOCATION_KNOWN]
    assert rules_broken(check([line(municipality_code=UTRECHT, client_ref=CLIENT)])) == [r.ALLOCATION_KNOWN]


def test_a_switched_off_rule_no_longer_rejects() -> None:
    assert check([line(tariff=9_000, amount=72_000)], rules=r.RuleSet.without([r.TARIFF])).lines[0].approved


def test_a_rule_the_checker_needs_cannot_be_switched_off_and_unknown_rules_are_named() -> None:
    with pytest.raises(ValueError, match="cannot be switched off"):
        r.RuleSet.without([r.ALLOCATION_KNOWN])
    with pytest.raises(ValueError, match="unknown declaration rules \\['nonsense'\\]"):
        r.RuleSet.without(["nonsense"])


def test_every_rejection_names_a_published_rule_with_a_return_code_and_a_contact() -> None:
    result = check([line(allocation_number=5, tariff=1, amount=3, period_end=date(2026, 11, 3))])
    assert result.lines[0].findings
    for finding in result.lines[0].findings:
        rule = r.BY_CODE[finding.rule]
        assert rule.return_code == finding.return_code and rule.contact and finding.reason


def test_several_broken_rules_are_all_reported() -> None:
    result = check([line(tariff=9_000, amount=1)])
    assert set(rules_broken(result)) == {r.TARIFF, r.AMOUNT}
    assert set(result.lines[0].return_codes) == {Retourcode.TARIEF_WIJKT_AF, Retourcode.BEDRAG_ONJUIST}


def test_line_numbers_are_reported_in_order_although_credits_are_assessed_first() -> None:
    booked = check([line()]).bookings
    result = check(
        [line(line_number=1, volume=5), line(line_number=2, credit=True)], ledger=booked, declaration=uuid.UUID(int=2)
    )
    assert [o.line.line_number for o in result.lines] == [1, 2]
    assert [o.approved for o in result.lines] == [True, True]


def test_a_line_declared_to_another_gemeente_than_its_allocations_is_9019_naming_the_rule() -> None:
    result = check([line()], to=HUIZEN)
    [outcome] = result.lines
    assert rules_broken(result) == [r.MUNICIPALITY_OF_ALLOCATION]
    assert outcome.return_codes == [Retourcode.GEEN_TOEWIJZING]
    assert "allocation 1001 is of gemeente 0402, but this declaration is to gemeente 0406" in outcome.findings[0].reason
    assert r.BY_CODE[r.MUNICIPALITY_OF_ALLOCATION].contact == "administratie"
    assert result.approved_amount == 0 and result.bookings == ()


def test_a_moved_youth_is_paid_on_the_old_allocation_only_when_declared_to_the_old_gemeente() -> None:
    moved = line(municipality_code=HUIZEN, client_ref=CLIENT)
    assert rules_broken(check([moved], to=HILVERSUM)) == []
    assert rules_broken(check([moved], to=HUIZEN)) == [r.MUNICIPALITY_OF_ALLOCATION]


def test_a_credit_declared_to_another_gemeente_reverses_nothing() -> None:
    booked = check([line()]).bookings
    result = check([line(credit=True)], ledger=booked, to=HUIZEN)
    assert rules_broken(result) == [r.MUNICIPALITY_OF_ALLOCATION]
    assert result.credited_amount == 0 and result.lines[0].credited is None


def test_the_municipality_rule_cannot_be_switched_off() -> None:
    with pytest.raises(ValueError, match="cannot be switched off"):
        r.RuleSet.without([r.MUNICIPALITY_OF_ALLOCATION])
