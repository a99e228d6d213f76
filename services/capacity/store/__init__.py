"""Capacity's SQL, split by job: reports and admissions, shortages and alerts, placements (what
commands change, through ``CapacityStore``), and the reads of the routes (``reads``).

``Store`` is what a command may ask of its unit of work's store; ``CapacityStore`` is that on
PostgreSQL, and the unit tests' in-memory store is the other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from contracts.capacity import DeclineReason, Severity
from contracts.envelope import Envelope
from contracts.verblijf import Setting
from services.capacity.domain import Candidate, CapacityFigures, OpenShortage, ProviderCapacity
from services.capacity.store.placements import Placements
from services.capacity.store.records import AlertState, Placement, Proposal, StaleReport
from services.capacity.store.reports import Reports
from services.capacity.store.shortages import ALERT_CHANNEL, Shortages
from services.runtime.db import Connection

__all__ = [
    "ALERT_CHANNEL",
    "AlertState",
    "CapacityStore",
    "Placement",
    "Proposal",
    "StaleReport",
    "Store",
    "open_store",
]


class Store(Protocol):
    """The state capacity's commands read and change, within one transaction."""

    # --- reports and admissions
    async def insert_report(
        self, agb: str, setting: str, figures: CapacityFigures, reported_at: datetime, reported_by: str
    ) -> None: ...
    async def current_figures(self, agb: str, setting: str) -> CapacityFigures | None: ...
    async def providers_of(self, setting: str) -> list[ProviderCapacity]: ...
    async def candidates(self, settings: Iterable[str]) -> list[Candidate]: ...
    async def admit_provider(
        self, agb: str, settings: Iterable[str], origin: str, at: datetime, municipality_code: str | None = None
    ) -> None: ...
    async def end_admissions(self, origin: str, at: datetime) -> list[str]: ...
    async def admitted_settings(self, agb: str) -> set[str]: ...
    async def stale_reports(self, older_than: datetime) -> list[StaleReport]: ...
    async def mark_stale_alerted(self, report: StaleReport) -> bool: ...

    # --- shortages and alerts
    async def lock_settings(self, settings: Iterable[str]) -> dict[str, OpenShortage | None]: ...
    async def open_shortage(
        self, shortage_id: uuid.UUID, setting: str, severity: Severity, free: int, waiting: int, at: datetime
    ) -> None: ...
    async def change_shortage(self, shortage_id: uuid.UUID, severity: Severity, free: int, waiting: int) -> None: ...
    async def close_shortage(self, setting: str, shortage_id: uuid.UUID, at: datetime) -> None: ...
    async def insert_alert(self, envelope: Envelope, setting: str | None) -> None: ...
    async def notify_alerts(self, schema: str) -> None: ...
    async def acknowledge_alert(self, alert_id: uuid.UUID, by: str, role: str, at: datetime) -> AlertState | None: ...

    # --- placements and proposals
    async def insert_placement(self, placement: Placement) -> bool: ...
    async def placement(self, placement_id: uuid.UUID) -> Placement | None: ...
    async def placement_of_referral(self, referral_id: uuid.UUID) -> Placement | None: ...
    async def set_placement(self, placement_id: uuid.UUID, **fields: object) -> None: ...
    async def unplaced_needing(self, setting: str) -> list[Placement]: ...
    async def waiting(self, setting: str) -> int: ...
    async def tried(self, placement_id: uuid.UUID) -> frozenset[tuple[str, Setting]]: ...
    async def insert_proposal(
        self, placement_id: uuid.UUID, agb: str, setting: str, at: datetime, reserved_until: datetime
    ) -> None: ...
    async def open_proposal(self, placement_id: uuid.UUID) -> Proposal | None: ...
    async def decide_proposal(
        self, proposal_id: int, outcome: str, reason: DeclineReason | None, note: str | None, at: datetime
    ) -> None: ...
    async def lapsed_proposals(self, now: datetime) -> list[uuid.UUID]: ...
    async def escalations_due(self, now: datetime) -> list[uuid.UUID]: ...


class CapacityStore(Reports, Shortages, Placements):
    """``Store`` on PostgreSQL: every query on the one connection of the unit of work's transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn


def open_store(conn: Connection) -> Store:
    """What ``runtime.work`` makes the store of a unit of work with."""
    return CapacityStore(conn)
