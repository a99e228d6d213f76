"""Contracting's stores in memory: lots, applications and the waitlist, contracts, allocations learned from
intake, declarations and bookings — enough to run the commands without PostgreSQL.

One object plays all three stores (``ContractStore``, ``DeclarationStore``, ``AllocationStore``), since in
PostgreSQL they are one database too: a contract registered by admission is what a declaration is paid under.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from services.contracting.contract_store import ContractRecord, WaitingApplicant
from services.contracting.declaration_store import StoredDeclaration
from services.contracting.domain.declarations import (
    Allocation,
    AssessedDeclaration,
    Booking,
    Contract,
    Declaration,
)
from services.contracting.domain.lots import Evidence, Lot
from services.runtime.unit_of_work import InMemoryStore


@dataclass
class WaitlistEntry:
    seq: int
    lot: str
    application_id: uuid.UUID
    provider_agb: str
    left_with: str | None = None


@dataclass
class Booked:
    booking: Booking
    credited_by: uuid.UUID | None = None


class InMemoryContracting(InMemoryStore):
    def __init__(self) -> None:
        self.lots: dict[str, Lot] = {}
        self.evidence: dict[uuid.UUID, tuple[Evidence, ...]] = {}
        self.decisions: dict[tuple[uuid.UUID, str], tuple[str, tuple[str, ...]]] = {}
        self.waitlist: list[WaitlistEntry] = []
        self.contracts: dict[uuid.UUID, ContractRecord] = {}
        self.allocations: dict[uuid.UUID, Allocation] = {}
        self.withdrawals: dict[uuid.UUID, tuple[str, date]] = {}
        self.care: dict[uuid.UUID, dict[str, object]] = {}
        self.declarations: dict[uuid.UUID, StoredDeclaration] = {}
        self.bookings: list[Booked] = []

    # ContractStore

    async def seed_lots(self, lots: Sequence[Lot], at: datetime) -> None:
        for lot in lots:
            self.lots.setdefault(lot.code, lot)

    async def all_lots(self) -> list[Lot]:
        return [self.lots[code] for code in sorted(self.lots)]

    async def get_lot(self, code: str, *, lock: bool = False) -> Lot | None:
        return self.lots.get(code)

    async def put_lot(self, lot: Lot, at: datetime, by: str) -> None:
        self.lots[lot.code] = lot

    async def insert_application(
        self, application_id: uuid.UUID, agb: str, kvk: str, evidence: Sequence[Evidence], at: datetime
    ) -> None:
        self.evidence[application_id] = tuple(evidence)

    async def record_decision(
        self, application_id: uuid.UUID, lot: str, outcome: str, reasons: Sequence[str], at: datetime
    ) -> None:
        self.decisions[application_id, lot] = (outcome, tuple(reasons))

    async def join_waitlist(self, lot: str, application_id: uuid.UUID, agb: str, at: datetime) -> int:
        self.waitlist.append(WaitlistEntry(len(self.waitlist) + 1, lot, application_id, agb))
        return len(self._waiting(lot))

    async def waitlist_position(self, lot: str, agb: str) -> int | None:
        agbs = [w.provider_agb for w in self._waiting(lot)]
        return agbs.index(agb) + 1 if agb in agbs else None

    async def waiting(self, lot: str) -> list[WaitingApplicant]:
        return [
            WaitingApplicant(w.seq, w.application_id, w.provider_agb, self.evidence[w.application_id])
            for w in self._waiting(lot)
        ]

    def _waiting(self, lot: str) -> list[WaitlistEntry]:
        return [w for w in self.waitlist if w.lot == lot and w.left_with is None]

    async def leave_waitlist(self, seq: int, outcome: str, at: datetime) -> None:
        next(w for w in self.waitlist if w.seq == seq).left_with = outcome

    async def insert_contract(self, contract: ContractRecord) -> None:
        self.contracts[contract.id] = contract

    async def running_open_house(self, agb: str, lot: str) -> uuid.UUID | None:
        return next(
            (
                c.id
                for c in self.contracts.values()
                if (c.provider_agb, c.lot, c.kind) == (agb, lot, "open_house") and c.ended_on is None
            ),
            None,
        )

    async def list_contracts(self, agb: str | None) -> list[ContractRecord]:
        return [c for c in self.contracts.values() if agb is None or c.provider_agb == agb]

    async def get_contract(self, contract_id: uuid.UUID, *, lock: bool = False) -> ContractRecord | None:
        return self.contracts.get(contract_id)

    async def contract_of_decision(self, decision_id: uuid.UUID) -> ContractRecord | None:
        return next((c for c in self.contracts.values() if c.decision_id == decision_id), None)

    async def end_contract(self, contract_id: uuid.UUID, end_date: date, reason: str, at: datetime) -> None:
        ended = dataclasses.replace(self.contracts[contract_id], ended_on=end_date, end_reason=reason)
        self.contracts[contract_id] = ended

    # AllocationStore

    async def upsert_allocation(self, allocation: Allocation, issued_at: datetime) -> None:
        self.allocations.setdefault(allocation.allocation_id, allocation)

    async def change_allocation(self, allocation: Allocation) -> bool:
        known = self.allocations.get(allocation.allocation_id)
        if known is None:
            return False
        self.allocations[allocation.allocation_id] = dataclasses.replace(
            known,
            start_date=allocation.start_date,
            end_date=allocation.end_date,
            volume=allocation.volume,
            unit=allocation.unit,
            frequency=allocation.frequency,
            budget=allocation.budget,
        )
        return True

    async def record_withdrawal(self, allocation_id: uuid.UUID, reason: str, effective: date, at: datetime) -> None:
        self.withdrawals.setdefault(allocation_id, (reason, effective))

    async def record_care(
        self,
        allocation_id: uuid.UUID,
        *,
        started_on: date | None = None,
        ended_on: date | None = None,
        end_reason: str | None = None,
    ) -> None:
        known = self.care.setdefault(allocation_id, {})
        given = {"started_on": started_on, "ended_on": ended_on, "end_reason": end_reason}
        known.update({k: v for k, v in given.items() if v is not None})

    # DeclarationStore

    async def lock_number(self, agb: str, number: str) -> None:
        """One unit of work at a time in memory: nothing to serialise."""

    async def find_declaration(self, agb: str, number: str) -> StoredDeclaration | None:
        return next(
            (d for d in self.declarations.values() if (d.provider_agb, d.answer.declaration_number) == (agb, number)),
            None,
        )

    async def get_declaration(self, declaration_id: uuid.UUID) -> StoredDeclaration | None:
        return self.declarations.get(declaration_id)

    async def lock_allocations(self, agb: str, numbers: Sequence[int]) -> list[Allocation]:
        return [
            self._withdrawn(a)
            for a in sorted(self.allocations.values(), key=lambda a: a.allocation_id)
            if a.provider_agb == agb and a.allocation_number in numbers
        ]

    def _withdrawn(self, allocation: Allocation) -> Allocation:
        if allocation.allocation_id not in self.withdrawals:
            return allocation
        reason, on = self.withdrawals[allocation.allocation_id]
        return dataclasses.replace(allocation, withdrawn_reason=reason, withdrawn_on=on)

    async def provider_contracts(self, agb: str) -> list[Contract]:
        return [
            Contract(
                contract_id=c.id,
                kind=c.kind,
                provider_agb=c.provider_agb,
                lot=self.lots[c.lot],
                valid_from=c.valid_from,
                valid_to=c.valid_to,
                client_ref=c.client_ref,
                ended_on=c.ended_on,
                tariffs=c.tariffs,
            )
            for c in self.contracts.values()
            if c.provider_agb == agb
        ]

    async def standing_bookings(self, allocation_ids: Sequence[uuid.UUID]) -> list[Booking]:
        return [b.booking for b in self.bookings if b.booking.allocation_id in allocation_ids and not b.credited_by]

    async def insert_declaration(self, declaration: Declaration, answer: AssessedDeclaration) -> None:
        self.declarations[answer.declaration_id] = StoredDeclaration(
            declaration.provider_agb, declaration.fingerprint(), answer
        )

    async def book(self, bookings: Sequence[Booking], credited: Sequence[Booking], by: uuid.UUID) -> None:
        self.bookings += [Booked(b) for b in bookings]
        for b in self.bookings:
            if b.booking in credited:
                b.credited_by = by
