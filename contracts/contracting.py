"""Events of the contracting service (topic ``contracting.events.v1``): Open House admission,
contracts, and declarations checked in the spirit of the Digitaal Leefplein."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts import topics
from contracts.codes import Retourcode
from contracts.envelope import EventData
from contracts.identifiers import AgbCode, ClientRef, Eurocent, GemeenteCode, PerceelCode, ProductCode
from contracts.verblijf import Setting


class ContractKind(StrEnum):
    """How a provider came to be contracted for a lot (DOMAIN §3.5)."""

    OPEN_HOUSE = "open_house"
    # One youth, with a provider that has no regional contract for the lot.
    MAATWERK = "maatwerk"
    # Run-off after an exit or bankruptcy: current clients finish their care, nobody new is placed.
    UITLOOP = "uitloop"
    # Paid per task (e.g. crisis GGZ), never per client: no declaration line is paid under it.
    TAAKGERICHT = "taakgericht"


class Contact(StrEnum):
    """Whom a provider asks about a refused declaration line (seed 001: providers did not know)."""

    CONSULENT = "consulent"
    ADMINISTRATIE = "administratie"
    INKOOP_EN_CONTRACTBEHEER = "inkoop_en_contractbeheer"


class ContractingEvent(EventData):
    """Admissions, contracts and declarations, on ``contracting.events.v1``."""

    topic: ClassVar[str] = topics.CONTRACTING_EVENTS


class ApplicationReceived(ContractingEvent):
    event_type: ClassVar[str] = "nl.schakel.contracting.ApplicationReceived"
    subject_fields: ClassVar[tuple[str, ...]] = ("provider_agb",)

    application_id: uuid.UUID
    provider_agb: AgbCode
    lots: list[PerceelCode] = Field(min_length=1)
    received_at: AwareDatetime


class ProviderAdmitted(ContractingEvent):
    """Admitted to a lot under Open House: from now on the provider holds a contract for it."""

    event_type: ClassVar[str] = "nl.schakel.contracting.ProviderAdmitted"
    subject_fields: ClassVar[tuple[str, ...]] = ("provider_agb",)

    application_id: uuid.UUID
    contract_id: uuid.UUID
    provider_agb: AgbCode
    lot: PerceelCode
    settings: list[Setting] = Field(default_factory=list, description="Verblijf settings the lot covers.")
    min_capacity: int = Field(default=0, ge=0, description="Places the provider must keep available.")
    valid_from: date
    valid_to: date
    admitted_at: AwareDatetime


class ProviderWaitlisted(ContractingEvent):
    """The lot is sufficiently provided: the provider meets the requirements and waits (seed 000)."""

    event_type: ClassVar[str] = "nl.schakel.contracting.ProviderWaitlisted"
    subject_fields: ClassVar[tuple[str, ...]] = ("provider_agb",)

    application_id: uuid.UUID
    provider_agb: AgbCode
    lot: PerceelCode
    position: int = Field(ge=1)
    waitlisted_at: AwareDatetime


class ApplicationRejected(ContractingEvent):
    event_type: ClassVar[str] = "nl.schakel.contracting.ApplicationRejected"
    subject_fields: ClassVar[tuple[str, ...]] = ("provider_agb",)

    application_id: uuid.UUID
    provider_agb: AgbCode
    lot: PerceelCode
    reasons: list[str] = Field(min_length=1, description="Each requirement that was not met, in words.")
    rejected_at: AwareDatetime


class ContractConcluded(ContractingEvent):
    """A contract beside Open House was registered: maatwerk for one youth, uitloop, or taakgericht.
    A maatwerk contract that carries out a doorbraak decision names its case, so capacity can admit
    the provider for that youth alone and propose it."""

    event_type: ClassVar[str] = "nl.schakel.contracting.ContractConcluded"
    subject_fields: ClassVar[tuple[str, ...]] = ("provider_agb",)

    contract_id: uuid.UUID
    kind: ContractKind
    provider_agb: AgbCode
    lot: PerceelCode
    settings: list[Setting] = Field(default_factory=list, description="Verblijf settings the lot covers.")
    client_ref: ClientRef | None = Field(default=None, description="The one youth of a maatwerk contract.")
    decision_id: uuid.UUID | None = Field(default=None, description="The doorbraak decision it carries out.")
    valid_from: date
    valid_to: date
    concluded_at: AwareDatetime


class ContractEnded(ContractingEvent):
    event_type: ClassVar[str] = "nl.schakel.contracting.ContractEnded"
    subject_fields: ClassVar[tuple[str, ...]] = ("provider_agb",)

    contract_id: uuid.UUID
    provider_agb: AgbCode
    lot: PerceelCode
    end_date: date
    reason: str = Field(max_length=200)
    ended_at: AwareDatetime
    settings: list[Setting] = Field(
        default_factory=list,
        description="Verblijf settings of the lot; capacity stops proposing the provider for these.",
    )
    kind: ContractKind | None = None


class DeclarationSubmitted(ContractingEvent):
    event_type: ClassVar[str] = "nl.schakel.contracting.DeclarationSubmitted"
    subject_fields: ClassVar[tuple[str, ...]] = ("declaration_id",)

    declaration_id: uuid.UUID
    provider_agb: AgbCode
    municipality_code: GemeenteCode
    period_start: date
    period_end: date
    lines: int = Field(ge=1)
    amount: Eurocent
    submitted_at: AwareDatetime


class LineRejection(BaseModel):
    """One published rule a line broke: which, why, and whom to ask."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str = Field(max_length=40, description="Code of the rule in GET /v1/declaration-rules.")
    return_code: Retourcode
    reason: str = Field(max_length=300)
    contact: Contact


class AssessedLine(BaseModel):
    """The outcome of one declaration line; every refusal names its rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line_number: int = Field(ge=1)
    allocation_id: uuid.UUID | None = None
    product_code: ProductCode | None = None
    amount: Eurocent
    approved: bool
    return_codes: list[Retourcode] = Field(min_length=1)
    allocation_number: int | None = Field(default=None, ge=1)
    credit: bool = Field(default=False, description="A credit line reverses an earlier approved line.")
    rejections: list[LineRejection] = Field(default_factory=list)


class DeclarationAssessed(ContractingEvent):
    event_type: ClassVar[str] = "nl.schakel.contracting.DeclarationAssessed"
    subject_fields: ClassVar[tuple[str, ...]] = ("declaration_id",)

    declaration_id: uuid.UUID
    provider_agb: AgbCode
    municipality_code: GemeenteCode
    lines: list[AssessedLine] = Field(min_length=1)
    approved_amount: Eurocent
    rejected_amount: Eurocent
    assessed_at: AwareDatetime
    declaration_number: str | None = Field(default=None, max_length=20)
    submitted_amount: Eurocent | None = Field(default=None, description="All debit lines, approved or not.")
    credited_amount: Eurocent = Field(default=0, description="Approved credit lines: earlier payments reversed.")
