"""What an allocation allows: its volume in total or per day, week or month, and its budget — pure."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date
from fractions import Fraction

from contracts.codes import Frequentie
from services.contracting.domain import declaration_rules as r
from services.contracting.domain.declaration_rules import Finding
from services.contracting.domain.declarations import Allocation, Booking, DeclarationLine


def exceeded(line: DeclarationLine, allocation: Allocation, bookings: Sequence[Booking]) -> list[Finding]:
    """Findings of the volume and budget rules, counting every booking of the allocation."""
    findings = []
    if allocation.budget is not None:
        used = sum(b.amount for b in bookings)
        if used + line.amount > allocation.budget:
            findings.append(
                Finding(
                    r.BUDGET,
                    f"amount {line.amount} exceeds the budget of allocation "
                    f"{allocation.allocation_number}: {allocation.budget - used} of "
                    f"{allocation.budget} eurocent left",
                )
            )
    if allocation.volume is None:
        return findings
    if line.unit != allocation.unit:
        findings.append(Finding(r.VOLUME, f"unit {line.unit} is not the allocated unit {allocation.unit}"))
    elif allocation.frequency == Frequentie.TOTAAL_BINNEN_GELDIGHEIDSDUUR:
        used = sum(b.volume for b in bookings)
        if used + line.volume > allocation.volume:
            findings.append(
                Finding(
                    r.VOLUME,
                    f"volume {line.volume} exceeds allocation "
                    f"{allocation.allocation_number}: {allocation.volume - used} of "
                    f"{allocation.volume} left",
                )
            )
    else:
        first, last = _month_start(line.period_start), _month_end(line.period_end)
        allowed = allowed_volume(allocation, first, last)
        used = sum(b.volume for b in bookings if b.period_start <= last and first <= b.period_end)
        if used + line.volume > allowed:
            findings.append(
                Finding(
                    r.VOLUME_PER_PERIOD,
                    f"volume {line.volume} exceeds what allocation "
                    f"{allocation.allocation_number} allows from {first} to {last}: "
                    f"{_whole(allowed - used)} of {_whole(allowed)} left",
                )
            )
    return findings


def allowed_volume(allocation: Allocation, first: date, last: date) -> Fraction:
    """What a per-day, per-week or per-month allocation allows between ``first`` and ``last``."""
    start, end = max(first, allocation.start_date), min(last, allocation.last_day)
    if end < start or allocation.volume is None:
        return Fraction(0)
    days = (end - start).days + 1
    if allocation.frequency == Frequentie.PER_DAG:
        return Fraction(allocation.volume * days)
    if allocation.frequency == Frequentie.PER_WEEK:
        return Fraction(allocation.volume * days, 7)
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    return Fraction(allocation.volume * months)


def _whole(value: Fraction) -> str:
    return str(value) if value.denominator == 1 else f"{float(value):.2f}"


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _month_end(day: date) -> date:
    # From the calendar, not by stepping into the next month: December 9999 has no next month.
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])
