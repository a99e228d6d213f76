"""Properties of the checker that must hold for any declarations, in any order."""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.codes import Retourcode
from services.contracting.domain import declaration_rules as r
from services.contracting.domain.declaration_checks import assess
from services.contracting.domain.declarations import Booking, DeclarationLine
from tests.unit.contracting.builders import (
    AGB,
    CLIENT,
    HILVERSUM,
    HUIZEN,
    REGION,
    TARIFF_2026,
    UTRECHT,
    allocation,
    contract,
    line,
)

MONTHS = [date(2026, m, 1) for m in range(9, 13)]


@st.composite
def lines(draw, *, credits: bool = False) -> DeclarationLine:  # type: ignore[no-untyped-def]
    month = draw(st.sampled_from(MONTHS))
    last = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    start = month + timedelta(days=draw(st.integers(0, 27)))
    end = start + timedelta(days=draw(st.integers(0, (last - start).days)))
    volume = draw(st.integers(1, 25))
    tariff = draw(st.sampled_from([TARIFF_2026, TARIFF_2026, 9_000]))
    amount = draw(st.sampled_from([volume * tariff, volume * tariff, volume * tariff + 1]))
    return line(
        period_start=start,
        period_end=end,
        volume=volume,
        tariff=tariff,
        amount=amount,
        credit=credits and draw(st.booleans()),
    )


@st.composite
def declarations(draw, *, credits: bool = False) -> list[list[DeclarationLine]]:  # type: ignore[no-untyped-def]
    result = []
    for _ in range(draw(st.integers(1, 6))):
        drawn = draw(st.lists(lines(credits=credits), min_size=1, max_size=5))
        result.append([d.model_copy(update={"line_number": i}) for i, d in enumerate(drawn, start=1)])
    return result


def _run(allocations, batches, rule_set=None) -> tuple[list[Booking], list]:  # type: ignore[no-untyped-def]
    ledger: list[Booking] = []
    outcomes = []
    for number, batch in enumerate(batches, start=1):
        result = assess(
            uuid.UUID(int=number),
            batch,
            provider_agb=AGB,
            municipality_code=HILVERSUM,
            allocations=allocations,
            contracts=[contract()],
            ledger=ledger,
            rules=rule_set or r.RuleSet(),
            region=REGION,
        )
        credited = [o.credited for o in result.lines if o.credited]
        ledger = [b for b in ledger if b not in credited] + list(result.bookings)
        outcomes.append(result)
    return ledger, outcomes


@settings(max_examples=300, deadline=None)
@given(declarations(credits=True), st.randoms(use_true_random=False))
def test_approved_volume_never_exceeds_the_allocation_in_any_order(batches, rnd) -> None:  # type: ignore[no-untyped-def]
    total = allocation(volume=40, frequency="6")
    rnd.shuffle(batches)
    ledger, _ = _run([total], batches)
    assert sum(b.volume for b in ledger) <= 40


@settings(max_examples=300, deadline=None)
@given(declarations(credits=True), st.randoms(use_true_random=False))
def test_approved_amounts_never_exceed_the_budget_in_any_order(batches, rnd) -> None:  # type: ignore[no-untyped-def]
    budget = allocation(volume=None, unit=None, frequency=None, budget=250_000)
    rnd.shuffle(batches)
    ledger, _ = _run([budget], batches)
    assert sum(b.amount for b in ledger) <= 250_000


@settings(max_examples=200, deadline=None)
@given(declarations())
def test_a_monthly_volume_is_never_exceeded_in_any_month(batches) -> None:  # type: ignore[no-untyped-def]
    monthly = allocation(volume=12, frequency="4")
    ledger, _ = _run([monthly], batches)
    per_month: dict[tuple[int, int], int] = defaultdict(int)
    for booking in ledger:
        per_month[(booking.period_start.year, booking.period_start.month)] += booking.volume
    assert all(v <= 12 for v in per_month.values())


@settings(max_examples=200, deadline=None)
@given(declarations(credits=True))
def test_every_line_is_either_fully_approved_or_rejected_with_its_reasons(batches) -> None:  # type: ignore[no-untyped-def]
    _, results = _run([allocation()], batches)
    for result in results:
        for outcome in result.lines:
            if outcome.approved:
                assert outcome.return_codes == [Retourcode.GOEDGEKEURD] and not outcome.findings
            else:
                assert Retourcode.GOEDGEKEURD not in outcome.return_codes
                assert all(f.reason and f.rule in r.BY_CODE for f in outcome.findings)
        debits = sum(o.line.amount for o in result.lines if not o.line.credit)
        credits = sum(o.line.amount for o in result.lines if o.line.credit)
        assert result.submitted_amount == debits
        assert result.approved_amount + result.credited_amount + result.rejected_amount == debits + credits


@settings(max_examples=200, deadline=None)
@given(declarations())
def test_approved_lines_of_one_allocation_never_overlap_for_the_same_product(batches) -> None:  # type: ignore[no-untyped-def]
    ledger, _ = _run([allocation(volume=10_000)], batches)
    spans = sorted((b.period_start, b.period_end) for b in ledger)
    assert all(a_end < b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


@settings(max_examples=100, deadline=None)
@given(declarations())
def test_crediting_every_approved_line_leaves_nothing_booked(batches) -> None:  # type: ignore[no-untyped-def]
    ledger, _ = _run([allocation(volume=10_000)], batches)
    reversal = [
        DeclarationLine(**{**b_line.model_dump(), "line_number": i, "credit": True})
        for i, b_line in enumerate((_as_line(b) for b in ledger), start=1)
    ]
    if reversal:
        result = assess(
            uuid.UUID(int=999),
            reversal,
            provider_agb=AGB,
            municipality_code=HILVERSUM,
            allocations=[allocation(volume=10_000)],
            contracts=[contract()],
            ledger=ledger,
            rules=r.RuleSet(),
            region=REGION,
        )
        assert all(o.approved for o in result.lines)
        assert result.credited_amount == sum(b.amount for b in ledger)


def _as_line(booking: Booking) -> DeclarationLine:
    return line(
        period_start=booking.period_start,
        period_end=booking.period_end,
        volume=booking.volume,
        amount=booking.amount,
        tariff=booking.amount // booking.volume,
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([HILVERSUM, HUIZEN, UTRECHT]), st.booleans()), min_size=1, max_size=6),
    st.sampled_from([HILVERSUM, HUIZEN, UTRECHT]),
    st.sampled_from([r.RuleSet(), r.RuleSet.without([])]),
)
def test_a_line_is_paid_only_by_the_gemeente_that_issued_its_allocation(drawn, to, rule_set) -> None:  # type: ignore[no-untyped-def]
    # Two gemeenten each allocated number 1001 to this provider; the youth may have moved between them.
    allocations = [
        allocation(allocation_number=1001, municipality_code=HILVERSUM, allocation_id=uuid.UUID(int=1)),
        allocation(
            allocation_number=1001, municipality_code=HUIZEN, client_ref="e" * 64, allocation_id=uuid.UUID(int=2)
        ),
    ]
    batch = [
        line(
            line_number=i,
            municipality_code=gemeente,
            client_ref=CLIENT if named else None,
            period_start=date(2026, 9 + i % 4, 1),
            period_end=date(2026, 9 + i % 4, 2),
        )
        for i, (gemeente, named) in enumerate(drawn, start=1)
    ]
    result = assess(
        uuid.UUID(int=7),
        batch,
        provider_agb=AGB,
        municipality_code=to,
        allocations=allocations,
        contracts=[contract()],
        ledger=[],
        rules=rule_set,
        region=REGION,
    )
    by_id = {a.allocation_id: a for a in allocations}
    for outcome in result.lines:
        if outcome.approved:
            assert by_id[outcome.allocation_id].municipality_code == to
    assert all(by_id[b.allocation_id].municipality_code == to for b in result.bookings)
