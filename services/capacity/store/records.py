"""The rows the commands work with, as the store hands them over: typed, and the same from
PostgreSQL as from the in-memory store of the unit tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from contracts.capacity import DeclineReason, EscalationLevel
from contracts.codes import Urgentie
from contracts.doorbraak import CaseClosedReason, DecisionKind, DoorbraakTeam, Executor, WithdrawalReason


@dataclass(frozen=True)
class Placement:
    """A youth's placement request (table ``placement``): pseudonymous, as the schakelfunctie keeps it."""

    id: uuid.UUID
    referral_id: uuid.UUID
    client_ref: str
    age: int
    municipality_code: str
    product_category: str
    # In preference order.
    settings: list[str]
    # The setting it counts as demand for while unplaced.
    demand_setting: str
    urgency: Urgentie
    # TYPE:AGB of the referrer, who may escalate by hand.
    referrer: str | None
    status: str
    requested_at: datetime
    escalation_level: EscalationLevel | None = None
    escalated_at: datetime | None = None
    escalation_due_at: datetime | None = None
    escalation_note: str | None = None
    # When it first escalated; escalated_at moves with each level, a doorbraak case keeps this.
    first_escalated_at: datetime | None = None
    confirmed_agb: str | None = None
    confirmed_setting: str | None = None
    confirmed_at: datetime | None = None


@dataclass(frozen=True)
class Proposal:
    """A place offered to a youth and held for it until ``reserved_until`` (table ``proposal``)."""

    id: int
    placement_id: uuid.UUID
    agb: str
    setting: str
    proposed_at: datetime
    reserved_until: datetime
    outcome: str | None = None
    reason: DeclineReason | None = None
    note: str | None = None
    decided_at: datetime | None = None
    # A provider of another pool member, asked over the pool topic: that member and the request's reference.
    region: str | None = None
    pool_request_id: uuid.UUID | None = None


@dataclass(frozen=True)
class PoolRequest:
    """Another member's request for a place with one of this region's providers (table ``pool_request``):
    only what the request carried, held for that youth until answered or ``reserved_until``."""

    id: uuid.UUID
    pool: str
    from_region: str
    agb: str
    setting: str
    age: int
    urgency: Urgentie
    reserved_until: datetime
    received_at: datetime
    outcome: str | None = None
    reason: DeclineReason | None = None
    note: str | None = None
    decided_at: datetime | None = None


@dataclass(frozen=True)
class StaleReport:
    """A provider's current report for a setting that has not been refreshed in time."""

    agb: str
    setting: str
    report_id: int
    reported_at: datetime


@dataclass(frozen=True)
class AlertState:
    """What acknowledging an alert depends on: its type, and whether it already was."""

    type: str
    acknowledged_at: datetime | None


@dataclass(frozen=True)
class DoorbraakCase:
    """The expert team's case file of one escalated youth (table ``doorbraak_case``)."""

    id: uuid.UUID
    placement_id: uuid.UUID
    referral_id: uuid.UUID
    team: DoorbraakTeam
    status: str
    first_escalated_at: datetime
    taken_up_at: datetime
    taken_up_by: str
    closed_at: datetime | None = None
    closed_reason: CaseClosedReason | None = None


@dataclass(frozen=True)
class Meeting:
    """A meeting of the expert team or the doorbraaktafel about a case (table ``doorbraak_meeting``)."""

    id: uuid.UUID
    case_id: uuid.UUID
    held_on: date
    parties: list[str]
    notes: str | None
    recorded_at: datetime
    recorded_by: str


@dataclass(frozen=True)
class Decision:
    """How the expert team breaks through, and what became of it (table ``doorbraak_decision``)."""

    id: uuid.UUID
    case_id: uuid.UUID
    kind: DecisionKind
    executor: Executor
    provider_agb: str | None
    settings: list[str]
    working_days: int
    due_date: date
    overdue_from: datetime
    notes: str | None
    decided_at: datetime
    decided_by: str
    status: str = "open"
    carried_out_at: datetime | None = None
    contract_id: uuid.UUID | None = None
    withdrawn_at: datetime | None = None
    withdrawal_reason: WithdrawalReason | None = None
    withdrawal_notes: str | None = None
    overdue_alerted_at: datetime | None = None


@dataclass(frozen=True)
class PlacementAdmission:
    """A provider admitted for one youth's placement only, by the contract ``origin``."""

    placement_id: uuid.UUID
    agb: str
    setting: str
    origin: str
    decision_id: uuid.UUID
    admitted_at: datetime
    ended_at: datetime | None = None
