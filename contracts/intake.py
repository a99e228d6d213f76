"""Events of the intake service (topic ``intake.events.v1``). Pseudonymous by construction:
a youth is a ``client_ref``, an ``age`` and a ``municipality_code`` — never a BSN, name or birth date."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field, model_validator

from contracts import topics
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
from contracts.envelope import EventData
from contracts.identifiers import AgbCode, Age, ClientRef, Eurocent, GemeenteCode, ProductCode
from contracts.verblijf import Setting


class IntakeEvent(EventData):
    """A referral and what follows from it, on ``intake.events.v1``, keyed by the referral."""

    topic: ClassVar[str] = topics.INTAKE_EVENTS
    subject_fields: ClassVar[tuple[str, ...]] = ("referral_id",)


class ReferralReceived(IntakeEvent):
    event_type: ClassVar[str] = "nl.schakel.intake.ReferralReceived"

    referral_id: uuid.UUID
    client_ref: ClientRef
    age: Age
    municipality_code: GemeenteCode
    referrer_type: Verwijzer
    referrer_agb: AgbCode | None = Field(default=None, description="Absent for self-referral (06) and gemeente (01).")
    veilig_thuis: bool = Field(default=False, description="Referred via Veilig Thuis; counted apart from the gemeente.")
    product_category: Productcategorie
    settings: list[Setting] = Field(
        default_factory=list, description="Acceptable verblijf settings, most preferred first (43/44/46 only)."
    )
    urgency: Urgentie
    ambulant_tried: bool
    needs_gemeente_decision: bool
    referral_date: date | None = Field(
        default=None, description="The date of the referral itself, when it was registered later than made."
    )
    contracted_provider: bool | None = Field(
        default=None, description="False when the referral names a provider without a contract: consult the gemeente."
    )
    received_at: AwareDatetime
    provider_agb: AgbCode | None = Field(default=None, description="The provider the referral names, if any.")

    @model_validator(mode="after")
    def _settings_only_for_placements(self) -> ReferralReceived:
        if self.product_category.needs_setting and not self.settings:
            raise ValueError(f"product category {self.product_category} needs at least one verblijf setting")
        if not self.product_category.needs_setting and self.settings:
            raise ValueError(f"product category {self.product_category} has no verblijf setting")
        return self


class WithdrawalReason(StrEnum):
    """Why a referral is withdrawn, as a code: free text stays with intake (it can name people)."""

    ELDERS_GEHOLPEN = "elders_geholpen"
    NIET_MEER_NODIG = "niet_meer_nodig"
    VERHUISD = "verhuisd"
    OP_VERZOEK_CLIENT = "op_verzoek_client"
    VERWIJZING_ONJUIST = "verwijzing_onjuist"
    OVERIG = "overig"


class ReferralWithdrawn(IntakeEvent):
    event_type: ClassVar[str] = "nl.schakel.intake.ReferralWithdrawn"

    referral_id: uuid.UUID
    client_ref: ClientRef
    municipality_code: GemeenteCode
    reason: WithdrawalReason
    withdrawn_at: AwareDatetime


class AllocationIssued(IntakeEvent):
    """A toewijzing: the gemeente allocates a product to a provider for a period."""

    event_type: ClassVar[str] = "nl.schakel.intake.AllocationIssued"

    allocation_id: uuid.UUID
    allocation_number: int = Field(ge=1, description="Toewijzingnummer, unique per municipality.")
    referral_id: uuid.UUID
    client_ref: ClientRef
    municipality_code: GemeenteCode
    provider_agb: AgbCode
    product_category: Productcategorie
    product_code: ProductCode | None = None
    start_date: date
    end_date: date
    volume: int | None = Field(default=None, ge=1)
    unit: Eenheid | None = None
    frequency: Frequentie | None = None
    budget: Eurocent | None = None
    issued_at: AwareDatetime
    request_id: uuid.UUID | None = Field(default=None, description="The provider's request this answers, if any.")

    @model_validator(mode="after")
    def _volume_or_budget(self) -> AllocationIssued:
        if self.end_date < self.start_date:
            raise ValueError("end_date lies before start_date")
        volume = (self.volume, self.unit, self.frequency)
        if self.budget is None and None in volume:
            raise ValueError("an allocation needs volume, unit and frequency, or a budget")
        return self


class AllocationWithdrawn(IntakeEvent):
    event_type: ClassVar[str] = "nl.schakel.intake.AllocationWithdrawn"

    allocation_id: uuid.UUID
    referral_id: uuid.UUID
    municipality_code: GemeenteCode
    provider_agb: AgbCode
    reason: RedenWijziging
    effective_date: date
    withdrawn_at: AwareDatetime


class CareStarted(IntakeEvent):
    event_type: ClassVar[str] = "nl.schakel.intake.CareStarted"

    allocation_id: uuid.UUID
    referral_id: uuid.UUID
    client_ref: ClientRef
    municipality_code: GemeenteCode
    provider_agb: AgbCode
    product_category: Productcategorie
    start_date: date
    reported_at: AwareDatetime


class CareEnded(IntakeEvent):
    event_type: ClassVar[str] = "nl.schakel.intake.CareEnded"

    allocation_id: uuid.UUID
    referral_id: uuid.UUID
    client_ref: ClientRef
    municipality_code: GemeenteCode
    provider_agb: AgbCode
    product_category: Productcategorie
    end_date: date
    reason: RedenBeeindiging
    reported_at: AwareDatetime


class AllocationChanged(IntakeEvent):
    """The gemeente changed a running toewijzing: its end date, volume or budget (never its product)."""

    event_type: ClassVar[str] = "nl.schakel.intake.AllocationChanged"

    allocation_id: uuid.UUID
    allocation_number: int = Field(ge=1)
    referral_id: uuid.UUID
    client_ref: ClientRef
    municipality_code: GemeenteCode
    provider_agb: AgbCode
    reason: RedenWijziging
    start_date: date
    end_date: date
    volume: int | None = Field(default=None, ge=1)
    unit: Eenheid | None = None
    frequency: Frequentie | None = None
    budget: Eurocent | None = None
    changed_at: AwareDatetime


class AllocationRequested(IntakeEvent):
    """A provider asks the gemeente for a toewijzing (iJw JW315), e.g. after a GP referred directly."""

    event_type: ClassVar[str] = "nl.schakel.intake.AllocationRequested"

    request_id: uuid.UUID
    referral_id: uuid.UUID
    client_ref: ClientRef
    municipality_code: GemeenteCode
    provider_agb: AgbCode
    product_category: Productcategorie
    product_code: ProductCode | None = None
    start_date: date
    end_date: date
    requested_at: AwareDatetime
    answer_due: AwareDatetime = Field(description="Five working days after the request.")


class AllocationRequestRejected(IntakeEvent):
    """The gemeente refuses a provider's request (iJw JW319 with a WJ759 reason)."""

    event_type: ClassVar[str] = "nl.schakel.intake.AllocationRequestRejected"

    request_id: uuid.UUID
    referral_id: uuid.UUID
    municipality_code: GemeenteCode
    provider_agb: AgbCode
    reason: RedenAfwijzing
    rejected_at: AwareDatetime


class AllocationRequestOverdue(IntakeEvent):
    """A provider's request went unanswered past its deadline of five working days."""

    event_type: ClassVar[str] = "nl.schakel.intake.AllocationRequestOverdue"

    request_id: uuid.UUID
    referral_id: uuid.UUID
    municipality_code: GemeenteCode
    provider_agb: AgbCode
    requested_at: AwareDatetime
    answer_due: AwareDatetime
    detected_at: AwareDatetime
