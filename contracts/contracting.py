"""Events of the contracting service (topic ``contracting.events.v1``): Open House admission,
contracts, and declarations checked in the spirit of the Digitaal Leefplein."""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.codes import Retourcode
from contracts.envelope import EventData
from contracts.identifiers import AgbCode, Eurocent, GemeenteCode, PerceelCode, ProductCode
from contracts.verblijf import Setting


class ApplicationReceived(EventData):
    event_type: ClassVar[str] = "nl.schakel.contracting.ApplicationReceived"

    application_id: uuid.UUID
    provider_agb: AgbCode
    lots: list[PerceelCode] = Field(min_length=1)
    received_at: AwareDatetime


class ProviderAdmitted(EventData):
    """Admitted to a lot under Open House: from now on the provider holds a contract for it."""

    event_type: ClassVar[str] = "nl.schakel.contracting.ProviderAdmitted"

    application_id: uuid.UUID
    contract_id: uuid.UUID
    provider_agb: AgbCode
    lot: PerceelCode
    settings: list[Setting] = Field(default_factory=list, description="Verblijf settings the lot covers.")
    min_capacity: int = Field(default=0, ge=0, description="Places the provider must keep available.")
    valid_from: date
    valid_to: date
    admitted_at: AwareDatetime


class ProviderWaitlisted(EventData):
    """The lot is sufficiently provided: the provider meets the requirements and waits (seed 000)."""

    event_type: ClassVar[str] = "nl.schakel.contracting.ProviderWaitlisted"

    application_id: uuid.UUID
    provider_agb: AgbCode
    lot: PerceelCode
    position: int = Field(ge=1)
    waitlisted_at: AwareDatetime


class ApplicationRejected(EventData):
    event_type: ClassVar[str] = "nl.schakel.contracting.ApplicationRejected"

    application_id: uuid.UUID
    provider_agb: AgbCode
    lot: PerceelCode
    reasons: list[str] = Field(min_length=1, description="Each requirement that was not met, in words.")
    rejected_at: AwareDatetime


class ContractEnded(EventData):
    event_type: ClassVar[str] = "nl.schakel.contracting.ContractEnded"

    contract_id: uuid.UUID
    provider_agb: AgbCode
    lot: PerceelCode
    end_date: date
    reason: str = Field(max_length=200)
    ended_at: AwareDatetime


class DeclarationSubmitted(EventData):
    event_type: ClassVar[str] = "nl.schakel.contracting.DeclarationSubmitted"

    declaration_id: uuid.UUID
    provider_agb: AgbCode
    municipality_code: GemeenteCode
    period_start: date
    period_end: date
    lines: int = Field(ge=1)
    amount: Eurocent
    submitted_at: AwareDatetime


class AssessedLine(BaseModel):
    """The outcome of one declaration line; every refusal names its rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line_number: int = Field(ge=1)
    allocation_id: uuid.UUID | None = None
    product_code: ProductCode | None = None
    amount: Eurocent
    approved: bool
    return_codes: list[Retourcode] = Field(min_length=1)


class DeclarationAssessed(EventData):
    event_type: ClassVar[str] = "nl.schakel.contracting.DeclarationAssessed"

    declaration_id: uuid.UUID
    provider_agb: AgbCode
    municipality_code: GemeenteCode
    lines: list[AssessedLine] = Field(min_length=1)
    approved_amount: Eurocent
    rejected_amount: Eurocent
    assessed_at: AwareDatetime
