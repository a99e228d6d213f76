"""The rows the commands work with, as the store hands them over: typed, and the same from
PostgreSQL as from the in-memory store of the unit tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from contracts.capacity import DeclineReason, EscalationLevel
from contracts.codes import Urgentie


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
