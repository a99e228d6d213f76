"""What a declaration is checked against and what the check decides: a declaration line, the allocation
and contract it is paid under, the approved lines (bookings) that still stand, and the outcome per line."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts.codes import Eenheid, Productcategorie, RedenWijziging, Retourcode
from contracts.contracting import AssessedLine, ContractKind, LineRejection
from contracts.identifiers import (
    EUROCENT_MAX,
    AgbCode,
    CalendarDate,
    ClientRef,
    Eurocent,
    GemeenteCode,
    ProductCode,
)
from services.contracting.domain.declaration_rules import BY_CODE, Finding
from services.contracting.domain.lots import LotTerms, Tariff

# Its DeclarationAssessed carries every line with the reasons it was refused, and an event must fit
# Kafka's 1 MiB message: 500 lines that break every rule at once take ~0.7 MiB (measured in
# tests/unit/contracting/test_declaration_size.py), so this keeps a quarter spare.
MAX_LINES = 500


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


class Declaration(BaseModel):
    """A provider's monthly declaration to one gemeente (body of ``POST /v1/declarations``)."""

    model_config = ConfigDict(extra="forbid")

    declaration_number: str = Field(
        pattern=r"^[A-Za-z0-9._/-]{1,20}$", description="The provider's own number; re-posting it is idempotent."
    )
    provider_agb: AgbCode
    municipality_code: GemeenteCode
    period_start: CalendarDate
    period_end: CalendarDate
    lines: list[DeclarationLine] = Field(
        min_length=1, max_length=MAX_LINES, description=f"At most {MAX_LINES} lines; split a larger month."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Declaration:
        if self.period_end < self.period_start:
            raise ValueError(f"period_end {self.period_end} lies before period_start {self.period_start}")
        numbers = [ln.line_number for ln in self.lines]
        if len(set(numbers)) != len(numbers):
            raise ValueError("lines: line_number must be unique within a declaration")
        if sum(ln.amount for ln in self.lines) > EUROCENT_MAX:
            raise ValueError(f"lines: the amounts add up to more than {EUROCENT_MAX} eurocent")
        return self

    def fingerprint(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class AssessedDeclaration(BaseModel):
    """The answer to a declaration, per line with its return codes; what ``GET /v1/declarations/{id}`` shows."""

    declaration_id: uuid.UUID
    declaration_number: str
    provider_agb: AgbCode
    municipality_code: GemeenteCode
    period_start: date
    period_end: date
    status: str = "assessed"
    submitted_at: AwareDatetime
    assessed_at: AwareDatetime
    submitted_amount: Eurocent
    approved_amount: Eurocent
    rejected_amount: Eurocent
    credited_amount: Eurocent
    lines: list[AssessedLine]

    @classmethod
    def of(
        cls, declaration_id: uuid.UUID, declaration: Declaration, assessment: Assessment, at: datetime
    ) -> AssessedDeclaration:
        """The answer to ``declaration`` as ``assessment`` decided it, submitted and assessed ``at``."""
        return cls(
            declaration_id=declaration_id,
            declaration_number=declaration.declaration_number,
            provider_agb=declaration.provider_agb,
            municipality_code=declaration.municipality_code,
            period_start=declaration.period_start,
            period_end=declaration.period_end,
            submitted_at=at,
            assessed_at=at,
            submitted_amount=assessment.submitted_amount,
            approved_amount=assessment.approved_amount,
            rejected_amount=assessment.rejected_amount,
            credited_amount=assessment.credited_amount,
            lines=[_assessed_line(o) for o in assessment.lines],
        )


def _assessed_line(outcome: LineOutcome) -> AssessedLine:
    line = outcome.line
    return AssessedLine(
        line_number=line.line_number,
        allocation_id=outcome.allocation_id,
        product_code=line.product_code,
        amount=line.amount,
        approved=outcome.approved,
        return_codes=outcome.return_codes,
        allocation_number=line.allocation_number,
        credit=line.credit,
        rejections=[
            LineRejection(
                rule=f.rule, return_code=f.return_code, reason=f.reason[:300], contact=BY_CODE[f.rule].contact
            )
            for f in outcome.findings
        ],
    )
