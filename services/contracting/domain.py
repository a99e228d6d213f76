"""The declaration checker: each line against its allocation, the contract and earlier approved lines.

Pure: everything it needs is passed in, so it can be tested exhaustively. A missing
start-of-care message never rejects a line (iJw OP364), so care start and end are not inputs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.codes import Eenheid, Productcategorie, RedenWijziging, Retourcode
from contracts.contracting import ContractKind
from contracts.identifiers import CalendarDate, ClientRef, Eurocent, GemeenteCode, ProductCode
from services.contracting import limits
from services.contracting import rules as r
from services.contracting.lots import LotTerms, Tariff
from services.contracting.rules import Finding


class DeclarationLine(BaseModel):
    """One line of a monthly declaration, as the provider sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line_number: int = Field(ge=1, le=10_000)
    allocation_number: int = Field(ge=1, le=2**31 - 1, description="Toewijzingnummer the line is declared against.")
    municipality_code: GemeenteCode
    client_ref: ClientRef | None = None
    product_category: Productcategorie
    product_code: ProductCode
    period_start: CalendarDate
    period_end: CalendarDate
    volume: int = Field(ge=1, le=1_000_000, description="Delivered volume, in unit.")
    unit: Eenheid
    tariff: Eurocent = Field(description="Price per unit in eurocent.")
    amount: Eurocent
    credit: bool = Field(default=False, description="Reverses an earlier approved line with the same values.")

    @model_validator(mode="after")
    def _period(self) -> DeclarationLine:
        if self.period_end < self.period_start:
            raise ValueError(f"period_end {self.period_end} lies before period_start {self.period_start}")
        return self


@dataclass(frozen=True)
class Allocation:
    """A toewijzing as contracting learned it from intake's events."""

    allocation_id: uuid.UUID
    allocation_number: int
    municipality_code: str
    client_ref: str
    provider_agb: str
    product_category: str
    product_code: str | None
    start_date: date
    end_date: date
    volume: int | None = None
    unit: str | None = None
    frequency: str | None = None
    budget: int | None = None
    withdrawn_reason: str | None = None
    withdrawn_on: date | None = None

    @property
    def never_valid(self) -> bool:
        return self.withdrawn_reason == RedenWijziging.NOOIT_GELDIG

    @property
    def last_day(self) -> date:
        # Withdrawn for another reason, the allocation simply stops before the withdrawal date.
        if self.withdrawn_on is not None and not self.never_valid:
            return min(self.end_date, self.withdrawn_on - timedelta(days=1))
        return self.end_date


@dataclass(frozen=True)
class Contract:
    contract_id: uuid.UUID
    kind: ContractKind
    provider_agb: str
    lot: LotTerms
    valid_from: date
    valid_to: date
    client_ref: str | None = None
    ended_on: date | None = None
    # A maatwerk contract may agree its own prices; otherwise the lot's tariffs apply.
    tariffs: tuple[Tariff, ...] = ()

    @property
    def last_day(self) -> date:
        return min(self.valid_to, self.ended_on) if self.ended_on else self.valid_to

    def tariff_on(self, product_code: str, unit: str, day: date) -> Tariff | None:
        own = next(
            (t for t in self.tariffs if (t.product_code, t.unit) == (product_code, unit) and t.applies_on(day)), None
        )
        return own or self.lot.tariff_on(product_code, unit, day)

    def pays_for(self, line: DeclarationLine, allocation: Allocation | None) -> bool:
        if not (
            self.lot.covers(line.product_category, line.product_code)
            and self.valid_from <= line.period_start
            and line.period_end <= self.last_day
        ):
            return False
        if self.kind is ContractKind.TAAKGERICHT:
            return False
        if self.kind is ContractKind.MAATWERK:
            return allocation is not None and allocation.client_ref == self.client_ref
        if self.kind is ContractKind.UITLOOP:
            # Run-off: only youths already in care when the provider left, never new ones.
            return allocation is not None and allocation.start_date < self.valid_from
        return True


@dataclass(frozen=True)
class Booking:
    """An approved debit line that still stands (not credited): what cumulative checks count."""

    declaration_id: uuid.UUID
    line_number: int
    allocation_id: uuid.UUID
    product_code: str
    period_start: date
    period_end: date
    volume: int
    amount: int


@dataclass(frozen=True)
class LineOutcome:
    line: DeclarationLine
    allocation_id: uuid.UUID | None
    findings: tuple[Finding, ...]
    credited: Booking | None = None

    @property
    def approved(self) -> bool:
        return not self.findings

    @property
    def return_codes(self) -> list[Retourcode]:
        if self.approved:
            return [Retourcode.GOEDGEKEURD]
        return list(dict.fromkeys(f.return_code for f in self.findings))


@dataclass(frozen=True)
class Assessment:
    lines: tuple[LineOutcome, ...]
    bookings: tuple[Booking, ...] = field(default=())

    @property
    def submitted_amount(self) -> int:
        return sum(o.line.amount for o in self.lines if not o.line.credit)

    @property
    def approved_amount(self) -> int:
        return sum(o.line.amount for o in self.lines if o.approved and not o.line.credit)

    @property
    def credited_amount(self) -> int:
        return sum(o.line.amount for o in self.lines if o.approved and o.line.credit)

    @property
    def rejected_amount(self) -> int:
        return sum(o.line.amount for o in self.lines if not o.approved)


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
