"""The HTTP bodies intake accepts; each rule that needs only the body is checked here, so a
422 names the field it is about."""

from __future__ import annotations

import uuid
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from contracts.codes import (
    Eenheid,
    Frequentie,
    Productcategorie,
    RedenAfwijzing,
    RedenBeeindiging,
    RedenWijziging,
    Urgentie,
    Verwijzer,
)
from contracts.identifiers import AgbCode, CalendarDate, Eurocent, GemeenteCode, ProductCode
from contracts.intake import WithdrawalReason
from contracts.verblijf import Setting
from services.intake import domain


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClientIn(Body):
    # repr=False: a logged or printed request never shows who the youth is.
    bsn: str = Field(pattern=r"^\d{9}$", repr=False, description="Burgerservicenummer: 9 digits passing the elfproef.")
    birth_date: CalendarDate = Field(repr=False, description="Expected birth date for an unborn child.")
    municipality_code: GemeenteCode
    name: str | None = Field(default=None, max_length=200, repr=False)

    @field_validator("bsn")
    @classmethod
    def _elfproef(cls, bsn: str) -> str:
        if not domain.elfproef(bsn):
            raise ValueError("bsn fails the elfproef (9·d1 + 8·d2 + … + 2·d8 − d9 must be divisible by 11)")
        return bsn


class ReferrerIn(Body):
    type: Verwijzer = Field(description="COD327: 01 gemeente … 06 zelfverwijzer, 08 rechter/officier (no 07).")
    agb: AgbCode | None = Field(default=None, description="Required except for gemeente (01) and self-referral (06).")

    @model_validator(mode="after")
    def _agb_for_professionals(self) -> Self:
        if self.agb is None and self.type not in (Verwijzer.GEMEENTE, Verwijzer.ZELFVERWIJZER):
            raise ValueError(f"agb: referrer type {self.type.value} must give its AGB code")
        return self


class ReferralIn(Body):
    client: ClientIn
    referrer: ReferrerIn
    product_category: Productcategorie = Field(description="JZ020.")
    setting: Setting | None = Field(default=None, description="The one (most preferred) verblijf setting.")
    settings: list[Setting] = Field(
        default_factory=list,
        validate_default=True,
        max_length=len(Setting),
        description="Acceptable verblijf settings in order of preference (43/44/46).",
    )
    urgency: Urgentie
    ambulant_tried: bool = Field(description="Whether ambulant help was tried first.")
    veilig_thuis: bool = Field(default=False, description="Referred via Veilig Thuis: counted apart from the gemeente.")
    provider_agb: AgbCode | None = Field(
        default=None, description="The provider referred to, if the referral names one."
    )
    referral_date: CalendarDate | None = Field(default=None, description="Date of the verwijzing; today when absent.")

    @field_validator("settings")
    @classmethod
    def _settings_rule(cls, settings: list[Setting], info: ValidationInfo) -> list[Setting]:
        category = info.data.get("product_category")
        if category is None:  # already reported on its own field
            return settings
        return domain.resolve_settings(category, info.data.get("setting"), settings)


class VolumeOrBudget(Body):
    volume: int | None = Field(default=None, ge=1, le=1_000_000)
    unit: Eenheid | None = Field(default=None, description="WJ756.")
    frequency: Frequentie | None = None
    budget: Eurocent | None = Field(default=None, description="In eurocent.")

    @model_validator(mode="after")
    def _volume_or_budget(self) -> Self:
        volume = {"volume": self.volume, "unit": self.unit, "frequency": self.frequency}
        given = [k for k, v in volume.items() if v is not None]
        if given and len(given) < 3:
            missing = ", ".join(k for k in volume if k not in given)
            raise ValueError(f"{missing}: a volume needs volume, unit and frequency together")
        if not given and self.budget is None:
            raise ValueError("volume: give volume + unit + frequency, or a budget in eurocent")
        return self


class Period(Body):
    start_date: CalendarDate
    end_date: CalendarDate

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} lies before start_date {self.start_date}")
        return self


class AllocationIn(VolumeOrBudget, Period):
    provider_agb: AgbCode
    product_category: Productcategorie
    product_code: ProductCode | None = None


class AllocationRequestIn(VolumeOrBudget, Period):
    referral_id: uuid.UUID
    product_category: Productcategorie
    product_code: ProductCode | None = None


class AllocationChangeIn(Body):
    """Change a toewijzing's end date, volume or budget; the product stays (else issue a new one)."""

    reason: RedenWijziging = Field(default=RedenWijziging.WIJZIGING_ZORGBEHOEFTE)
    end_date: CalendarDate | None = None
    volume: int | None = Field(default=None, ge=1, le=1_000_000)
    unit: Eenheid | None = None
    frequency: Frequentie | None = None
    budget: Eurocent | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if all(v is None for v in (self.end_date, self.volume, self.unit, self.frequency, self.budget)):
            raise ValueError("end_date: give at least one of end_date, volume, unit, frequency, budget")
        return self


class AllocationWithdrawalIn(Body):
    reason: RedenWijziging = Field(description="JZ585; 13 means the toewijzing was never valid.")
    effective_date: CalendarDate | None = Field(
        default=None, description="First day it no longer holds; today when absent."
    )


class RequestRejectionIn(Body):
    reason: RedenAfwijzing = Field(description="WJ759.")


class RequestAllocationIn(Body):
    """The gemeente grants a request; it may adjust the period and volume the provider asked for."""

    start_date: CalendarDate | None = None
    end_date: CalendarDate | None = None


class CareStartIn(Body):
    start_date: CalendarDate


class CareEndIn(Body):
    end_date: CalendarDate
    reason: RedenBeeindiging = Field(description="JZ588 reden beëindiging.")


class WithdrawalIn(Body):
    reason: WithdrawalReason = Field(description="Why, as a code: the code is published, so it names nobody.")
    note: str | None = Field(default=None, max_length=500, description="Your own words; stays in intake.")

    def recorded(self) -> str:
        """What intake's own history keeps: the code, and the note where one was given."""
        return f"{self.reason}: {self.note}" if self.note else self.reason.value
