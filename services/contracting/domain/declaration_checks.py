"""The declaration checker: each line against its allocation, the contract and earlier approved lines.

Pure: everything it needs is passed in, so it can be tested exhaustively. A missing
start-of-care message never rejects a line (iJw OP364), so care start and end are not inputs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from services.contracting.domain import declaration_rules as r
from services.contracting.domain import limits
from services.contracting.domain.declaration_rules import Finding
from services.contracting.domain.declarations import (
    Allocation,
    Assessment,
    Booking,
    Contract,
    DeclarationLine,
    LineOutcome,
)


def assess(
    declaration_id: uuid.UUID,
    lines: Sequence[DeclarationLine],
    *,
    provider_agb: str,
    municipality_code: str,
    allocations: Sequence[Allocation],
    contracts: Sequence[Contract],
    ledger: Sequence[Booking],
    rules: r.RuleSet,
    region: frozenset[str],
) -> Assessment:
    """Assess every line of a declaration to gemeente ``municipality_code``; credits first, so a corrected
    debit in the same declaration can replace the line it credits. Each approved debit counts against the
    lines after it."""
    own = [a for a in allocations if a.provider_agb == provider_agb]
    standing = list(ledger)
    outcomes: list[LineOutcome] = []
    for line in [ln for ln in lines if ln.credit] + [ln for ln in lines if not ln.credit]:
        allocation, findings = _find_allocation(line, own, region)
        findings += _declared_to_its_gemeente(allocation, municipality_code)
        if line.credit:
            outcome = _credit(line, allocation, findings, standing, rules)
            if outcome.credited is not None:
                standing.remove(outcome.credited)
        else:
            if allocation is not None:
                findings += _against_allocation(
                    line, allocation, [b for b in standing if b.allocation_id == allocation.allocation_id]
                )
            findings += _against_contract(line, allocation, [c for c in contracts if c.provider_agb == provider_agb])
            findings += _amount(line)
            outcome = LineOutcome(line, allocation.allocation_id if allocation else None, _active(findings, rules))
            if outcome.approved and allocation is not None:
                standing.append(
                    Booking(
                        declaration_id,
                        line.line_number,
                        allocation.allocation_id,
                        line.product_code,
                        line.period_start,
                        line.period_end,
                        line.volume,
                        line.amount,
                    )
                )
        outcomes.append(outcome)
    new = tuple(b for b in standing if b.declaration_id == declaration_id)
    return Assessment(tuple(sorted(outcomes, key=lambda o: o.line.line_number)), new)


def _active(findings: list[Finding], rules: r.RuleSet) -> tuple[Finding, ...]:
    return tuple(f for f in findings if rules.active(f.rule))


def _find_allocation(
    line: DeclarationLine, allocations: Sequence[Allocation], region: frozenset[str]
) -> tuple[Allocation | None, list[Finding]]:
    number, gemeente = line.allocation_number, line.municipality_code
    same = next((a for a in allocations if (a.allocation_number, a.municipality_code) == (number, gemeente)), None)
    if same is not None:
        if line.client_ref is not None and line.client_ref != same.client_ref:
            return None, [
                Finding(
                    r.ALLOCATION_KNOWN,
                    f"allocation {number} of gemeente {gemeente} is for another client_ref than the line names",
                )
            ]
        return same, []
    # A youth who moved inside the region keeps the old gemeente's allocation; the client_ref proves it is them.
    moved = [
        a
        for a in allocations
        if a.allocation_number == number
        and line.client_ref is not None
        and a.client_ref == line.client_ref
        and a.municipality_code in region
        and gemeente in region
    ]
    if len(moved) == 1:
        old = moved[0].municipality_code
        return moved[0], [
            Finding(
                r.MOVED_WITHIN_REGION, f"allocation {number} is of gemeente {old}, not {gemeente}: declare it to {old}"
            )
        ]
    return None, [Finding(r.ALLOCATION_KNOWN, f"no allocation {number} of gemeente {gemeente} to this provider")]


def _declared_to_its_gemeente(allocation: Allocation | None, gemeente: str) -> list[Finding]:
    if allocation is None or allocation.municipality_code == gemeente:
        return []
    return [
        Finding(
            r.MUNICIPALITY_OF_ALLOCATION,
            f"allocation {allocation.allocation_number} is of gemeente "
            f"{allocation.municipality_code}, but this declaration is to "
            f"gemeente {gemeente}: declare the line to "
            f"{allocation.municipality_code}",
        )
    ]


def _against_allocation(line: DeclarationLine, allocation: Allocation, bookings: list[Booking]) -> list[Finding]:
    findings = []
    number = allocation.allocation_number
    if allocation.never_valid:
        findings.append(
            Finding(
                r.ALLOCATION_WITHDRAWN,
                f"allocation {number} was withdrawn as never valid (reden wijziging 13) on {allocation.withdrawn_on}",
            )
        )
    if line.product_category != allocation.product_category or (
        allocation.product_code is not None and allocation.product_code != line.product_code
    ):
        allocated = allocation.product_code or "any code"
        findings.append(
            Finding(
                r.PRODUCT_ALLOCATED,
                f"product {line.product_category}/{line.product_code} is not "
                f"allocated; allocation {number} is for {allocation.product_category}/{allocated}",
            )
        )
    if line.period_start < allocation.start_date:
        findings.append(
            Finding(
                r.START_WITHIN_ALLOCATION,
                f"period starts {line.period_start}, before allocation {number} starts on {allocation.start_date}",
            )
        )
    if line.period_end > allocation.last_day:
        findings.append(
            Finding(
                r.END_WITHIN_ALLOCATION,
                f"period ends {line.period_end}, after allocation {number} ends on {allocation.last_day}",
            )
        )
    findings += limits.exceeded(line, allocation, bookings)
    stacked = [
        b
        for b in bookings
        if b.product_code == line.product_code
        and b.period_start <= line.period_end
        and line.period_start <= b.period_end
    ]
    if stacked:
        b = stacked[0]
        findings.append(
            Finding(
                r.NO_STACKING,
                f"product {line.product_code} of allocation {number} was already "
                f"approved for {b.period_start}..{b.period_end}; credit that line "
                "to correct it",
            )
        )
    return findings


def _against_contract(
    line: DeclarationLine, allocation: Allocation | None, contracts: Sequence[Contract]
) -> list[Finding]:
    findings = []
    if (line.period_start.year, line.period_start.month) != (line.period_end.year, line.period_end.month):
        findings.append(
            Finding(
                r.SINGLE_CALENDAR_MONTH,
                f"period {line.period_start}..{line.period_end} spans more than one calendar month; split it per month",
            )
        )
    paying = [c for c in contracts if c.pays_for(line, allocation)]
    if not paying:
        findings.append(
            Finding(
                r.CONTRACT,
                f"no contract covers product {line.product_category}/{line.product_code} "
                f"from {line.period_start} to {line.period_end}",
            )
        )
        return findings
    tariffs = [t for c in paying if (t := c.tariff_on(line.product_code, line.unit, line.period_start))]
    if not tariffs:
        findings.append(
            Finding(
                r.TARIFF,
                f"the contract has no tariff for {line.product_code} in unit {line.unit} on {line.period_start}",
            )
        )
    elif all(t.eurocent != line.tariff for t in tariffs):
        findings.append(
            Finding(
                r.TARIFF,
                f"tariff {line.tariff} differs from the contract tariff "
                f"{tariffs[0].eurocent} for {line.product_code} on {line.period_start}",
            )
        )
    return findings


def _amount(line: DeclarationLine) -> list[Finding]:
    expected = line.volume * line.tariff
    if line.amount != expected:
        return [
            Finding(r.AMOUNT, f"amount {line.amount} is not volume {line.volume} x tariff {line.tariff} = {expected}")
        ]
    return []


def _credit(
    line: DeclarationLine,
    allocation: Allocation | None,
    findings: list[Finding],
    standing: list[Booking],
    rules: r.RuleSet,
) -> LineOutcome:
    credited = None
    if allocation is not None:
        credited = next(
            (
                b
                for b in standing
                if b.allocation_id == allocation.allocation_id
                and (b.product_code, b.period_start, b.period_end, b.volume, b.amount)
                == (line.product_code, line.period_start, line.period_end, line.volume, line.amount)
            ),
            None,
        )
        if credited is None:
            findings = [
                *findings,
                Finding(
                    r.CREDIT_MATCHES_DEBIT,
                    f"no approved line of allocation "
                    f"{allocation.allocation_number} with these values is left to credit",
                ),
            ]
    active = _active(findings, rules)
    allocation_id = allocation.allocation_id if allocation else None
    return LineOutcome(line, allocation_id, active, credited if not active else None)
