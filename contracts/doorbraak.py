"""Events of the doorbraak: the expert team takes up the case of a youth nobody could place,
decides how to break through, and the case closes once the youth is in care.

Capacity owns the case file (it holds the placement, its proposals and escalations), so these
events go on capacity's topics: the lifecycle on ``capacity.events.v1``, a decision not carried out
in time as an alert on ``capacity.alerts.v1``. Each is keyed by ``referral_id``, like the
placement's own events, so one youth's story reaches every consumer in order.

No BSN, name or birth date: ``client_ref``, ``age`` and ``municipality_code`` are what the expert
team needs; the gemeente looks the person up in intake."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from contracts.capacity import Alert, CapacityEvent
from contracts.codes import Urgentie
from contracts.identifiers import AgbCode, Age, ClientRef, GemeenteCode
from contracts.verblijf import Setting


class DoorbraakTeam(StrEnum):
    """Who holds the case: the region's expert team (Consultatie- en Adviesteam, Doorbraaktafel),
    or the bovenregionaal expertisenetwerk of a pool."""

    EXPERTTEAM = "expertteam"
    EXPERTISENETWERK = "expertisenetwerk"


class DecisionKind(StrEnum):
    """The ways to break through the region's agreements name (afspraak 5)."""

    MAATWERK = "maatwerk"  # a maatwerk arrangement: a contract for this one youth
    PERCEEL = "perceel"  # a new lot, or a lot added to an existing contract
    BUITEN_REGIO = "buiten_regio"  # a place outside the region (through the pool where there is one)
    PGB = "pgb"  # a persoonsgebonden budget
    ANDERS = "anders"


class Executor(StrEnum):
    """Who carries a decision out."""

    CONTRACTMANAGEMENT = "contractmanagement"  # the region's contract office (contracting, admin)
    GEMEENTE = "gemeente"  # the youth's own gemeente
    SCHAKELFUNCTIONARIS = "schakelfunctionaris"
    AANBIEDER = "aanbieder"


class WithdrawalReason(StrEnum):
    """Why a decision is withdrawn: a code, the words stay in capacity's database."""

    NIET_UITVOERBAAR = "niet_uitvoerbaar"  # the arrangement cannot be made after all
    ANDERE_OPLOSSING = "andere_oplossing"  # the youth was placed another way
    VERWIJZING_INGETROKKEN = "verwijzing_ingetrokken"
    OVERIG = "overig"


class CaseClosedReason(StrEnum):
    ZORG_GESTART = "zorg_gestart"  # the youth started care
    BESLUIT_INGETROKKEN = "besluit_ingetrokken"  # the decision was withdrawn with a reason code
    VERWIJZING_INGETROKKEN = "verwijzing_ingetrokken"  # the referral was withdrawn


class CaseTakenUp(CapacityEvent):
    """The expert team took up the case of an escalated youth."""

    event_type: ClassVar[str] = "nl.schakel.capacity.CaseTakenUp"
    subject_fields: ClassVar[tuple[str, ...]] = ("referral_id",)

    case_id: uuid.UUID
    placement_id: uuid.UUID
    referral_id: uuid.UUID
    client_ref: ClientRef
    age: Age
    municipality_code: GemeenteCode
    settings: list[Setting] = Field(min_length=1)
    urgency: Urgentie
    team: DoorbraakTeam
    first_escalated_at: AwareDatetime
    taken_up_at: AwareDatetime


class MeetingHeld(CapacityEvent):
    """The expert team or the doorbraaktafel met about the case. Who attended travels as roles; what
    was said stays in capacity's database."""

    event_type: ClassVar[str] = "nl.schakel.capacity.MeetingHeld"
    subject_fields: ClassVar[tuple[str, ...]] = ("referral_id",)

    case_id: uuid.UUID
    meeting_id: uuid.UUID
    placement_id: uuid.UUID
    referral_id: uuid.UUID
    held_on: date
    parties: list[str] = Field(default_factory=list, max_length=20, description="Roles at the table.")
    recorded_at: AwareDatetime


class DecisionMade(CapacityEvent):
    """The expert team decided how to break through; ``due_date`` is ``working_days`` after the
    decision, counted in working days."""

    event_type: ClassVar[str] = "nl.schakel.capacity.DecisionMade"
    subject_fields: ClassVar[tuple[str, ...]] = ("referral_id",)

    decision_id: uuid.UUID
    case_id: uuid.UUID
    placement_id: uuid.UUID
    referral_id: uuid.UUID
    municipality_code: GemeenteCode
    kind: DecisionKind
    executor: Executor
    provider_agb: AgbCode | None = Field(default=None, description="The provider the decision names, if any.")
    settings: list[Setting] = Field(default_factory=list, description="The settings the decision is about.")
    working_days: int = Field(ge=1, le=60)
    due_date: date
    first_escalated_at: AwareDatetime
    decided_at: AwareDatetime


class DecisionCarriedOut(CapacityEvent):
    """What the decision asked for exists now (for maatwerk: the contract was concluded)."""

    event_type: ClassVar[str] = "nl.schakel.capacity.DecisionCarriedOut"
    subject_fields: ClassVar[tuple[str, ...]] = ("referral_id",)

    decision_id: uuid.UUID
    case_id: uuid.UUID
    placement_id: uuid.UUID
    referral_id: uuid.UUID
    contract_id: uuid.UUID | None = Field(default=None, description="The contract that carried it out, if any.")
    carried_out_at: AwareDatetime


class DecisionWithdrawn(CapacityEvent):
    event_type: ClassVar[str] = "nl.schakel.capacity.DecisionWithdrawn"
    subject_fields: ClassVar[tuple[str, ...]] = ("referral_id",)

    decision_id: uuid.UUID
    case_id: uuid.UUID
    placement_id: uuid.UUID
    referral_id: uuid.UUID
    reason: WithdrawalReason
    withdrawn_at: AwareDatetime


class CaseClosed(CapacityEvent):
    event_type: ClassVar[str] = "nl.schakel.capacity.CaseClosed"
    subject_fields: ClassVar[tuple[str, ...]] = ("referral_id",)

    case_id: uuid.UUID
    placement_id: uuid.UUID
    referral_id: uuid.UUID
    municipality_code: GemeenteCode
    reason: CaseClosedReason
    first_escalated_at: AwareDatetime
    taken_up_at: AwareDatetime
    closed_at: AwareDatetime


class DecisionOverdue(Alert):
    """A decision was not carried out by its due date: the schakelfunctionaris follows it up."""

    event_type: ClassVar[str] = "nl.schakel.capacity.DecisionOverdue"
    subject_fields: ClassVar[tuple[str, ...]] = ("referral_id",)

    decision_id: uuid.UUID
    case_id: uuid.UUID
    placement_id: uuid.UUID
    referral_id: uuid.UUID
    municipality_code: GemeenteCode
    kind: DecisionKind
    executor: Executor
    due_date: date
    overdue_at: AwareDatetime
