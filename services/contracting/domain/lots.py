"""Lots (percelen) and Open House admission: pure rules, no I/O.

Under Open House every provider that meets a lot's admission requirements is contracted — the
number of providers is never capped. Only a lot the region has "voldoende in voorzien" keeps a
waitlist of providers that meet the requirements, in order of arrival (seed 000).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.codes import PLACEMENT_CATEGORIES, Eenheid, Productcategorie
from contracts.identifiers import CalendarDate, Eurocent, PerceelCode, ProductCode
from contracts.verblijf import Setting

RequirementCode = str
REQUIREMENT_CODE = r"^[a-z][a-z0-9-]{1,39}$"


class LotStatus(StrEnum):
    OPEN = "open"
    # "Voldoende in voorzien": applicants that qualify wait until the lot reopens.
    WAITLIST = "waitlist"


class Tariff(BaseModel):
    """The contract price of one product in one unit, for a period (tariffs change yearly)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    product_code: ProductCode
    unit: Eenheid
    eurocent: Eurocent = Field(description="Price per unit in eurocent.")
    valid_from: CalendarDate
    valid_to: CalendarDate | None = Field(
        default=None, description="Last day the tariff applies; open-ended if absent."
    )

    @model_validator(mode="after")
    def _period(self) -> Tariff:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} lies before valid_from {self.valid_from}")
        return self

    def applies_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class Requirement(BaseModel):
    """A piece of evidence an applicant must hand in, e.g. a quality mark or a VOG."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: RequirementCode = Field(pattern=REQUIREMENT_CODE)
    description: str = Field(min_length=1, max_length=200)


class LotTerms(BaseModel):
    """Everything an admin sets for a lot (the body of ``PUT /v1/lots/{code}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=120)
    product_categories: list[Productcategorie] = Field(min_length=1, max_length=len(Productcategorie))
    product_codes: list[ProductCode] = Field(min_length=1, max_length=200)
    settings: list[Setting] = Field(
        default_factory=list,
        max_length=len(Setting),
        description="Verblijf settings the lot covers (travel in ProviderAdmitted).",
    )
    tariffs: list[Tariff] = Field(default_factory=list, max_length=500)
    max_wait_days: int = Field(ge=1, le=365, description="Maximum waiting time a contracted provider may have.")
    min_capacity: int = Field(default=0, ge=0, le=1000, description="Places a contracted provider keeps available.")
    contract_term_years: int = Field(default=8, ge=1, le=15)
    # Each unmet requirement is a reason in ApplicationRejected: bounded, so that event stays small.
    requirements: list[Requirement] = Field(default_factory=list, max_length=50)
    status: LotStatus = LotStatus.OPEN

    @model_validator(mode="after")
    def _consistent(self) -> LotTerms:
        unknown = {t.product_code for t in self.tariffs} - set(self.product_codes)
        if unknown:
            raise ValueError(f"tariffs name product codes the lot does not cover: {sorted(unknown)}")
        if self.settings and not PLACEMENT_CATEGORIES & set(self.product_categories):
            raise ValueError("settings are only for lots with a verblijf or crisis product category (43, 44, 46)")
        codes = [r.code for r in self.requirements]
        if len(set(codes)) != len(codes):
            raise ValueError("requirement codes must be unique")
        for i, a in enumerate(self.tariffs):
            for b in self.tariffs[i + 1 :]:
                if (a.product_code, a.unit) == (b.product_code, b.unit) and _overlap(a, b):
                    raise ValueError(f"two tariffs of {a.product_code} in unit {a.unit} overlap in time")
        return self

    def tariff_on(self, product_code: str, unit: str, day: date) -> Tariff | None:
        return next(
            (t for t in self.tariffs if t.product_code == product_code and t.unit == unit and t.applies_on(day)), None
        )

    def covers(self, product_category: str, product_code: str) -> bool:
        return product_category in self.product_categories and product_code in self.product_codes


class Lot(LotTerms):
    code: PerceelCode


def _overlap(a: Tariff, b: Tariff) -> bool:
    far = date.max
    return a.valid_from <= (b.valid_to or far) and b.valid_from <= (a.valid_to or far)


class Evidence(BaseModel):
    """What an applicant hands in for one requirement: a reference to the document, not the document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requirement: RequirementCode = Field(pattern=REQUIREMENT_CODE)
    document_ref: str = Field(min_length=1, max_length=200)
    valid_until: CalendarDate | None = Field(
        default=None, description="Expiry of the evidence, e.g. of a quality mark."
    )


class Outcome(StrEnum):
    ADMITTED = "admitted"
    WAITLISTED = "waitlisted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class LotDecision:
    lot: str
    outcome: Outcome
    reasons: tuple[str, ...] = ()


def unmet_requirements(lot: LotTerms, evidence: Sequence[Evidence], on: date) -> list[str]:
    """Each requirement of ``lot`` the evidence does not meet on ``on``, in words."""
    by_code: dict[str, list[Evidence]] = {}
    for item in evidence:
        by_code.setdefault(item.requirement, []).append(item)
    reasons = []
    for requirement in lot.requirements:
        items = by_code.get(requirement.code, [])
        if not items:
            reasons.append(f"missing requirement {requirement.code}: {requirement.description}")
        elif not any(e.valid_until is None or e.valid_until >= on for e in items):
            latest = max(e.valid_until for e in items if e.valid_until)
            reasons.append(
                f"evidence for {requirement.code} expired on {latest.isoformat()}: {requirement.description}"
            )
    return reasons


def decide(lot: Lot, evidence: Sequence[Evidence], on: date, *, already: str | None = None) -> LotDecision:
    """Admit, waitlist or reject one applicant for one lot.

    ``already`` says why the applicant cannot apply again (holds a contract, is on the waitlist).
    """
    if already:
        return LotDecision(lot.code, Outcome.REJECTED, (already,))
    unmet = unmet_requirements(lot, evidence, on)
    if unmet:
        return LotDecision(lot.code, Outcome.REJECTED, tuple(unmet))
    if lot.status is LotStatus.WAITLIST:
        return LotDecision(lot.code, Outcome.WAITLISTED)
    return LotDecision(lot.code, Outcome.ADMITTED)


def contract_period(start: date, years: int) -> tuple[date, date]:
    """First and last day of a contract of ``years`` starting on ``start``."""
    return start, start + relativedelta(years=years) - timedelta(days=1)
