"""Intake's store in memory: the ``IntakeStore`` protocol over dicts, for command tests without PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from services.intake.domain import AllocationFacts
from services.intake.store import PlaceClaim, Row, VerblijfPlace
from services.runtime.unit_of_work import InMemoryStore

# The columns a row gets later in its life, NULL when it is inserted.
REFERRAL_LATER = ("placed_at", "placed_with", "care_started_at", "withdrawn_at", "withdrawal_reason")
ALLOCATION_LATER = (
    "withdrawn_at",
    "withdrawal_reason",
    "effective_date",
    "care_start",
    "care_started_at",
    "care_end",
    "care_end_reason",
    "care_ended_at",
)
REQUEST_LATER = ("answered_at", "answer", "rejection_reason", "allocation_id", "overdue_at")


class FakeIntakeStore(InMemoryStore):
    """Each table a dict (or list) of rows; the locks are no-ops, as one test runs one command at a time."""

    def __init__(self) -> None:
        self.clients: dict[str, dict[str, Any]] = {}
        self.referrals: dict[uuid.UUID, dict[str, Any]] = {}
        self.steps: list[dict[str, Any]] = []
        self.allocations: dict[uuid.UUID, dict[str, Any]] = {}
        self.last_numbers: dict[str, int] = {}
        self.requests: dict[uuid.UUID, dict[str, Any]] = {}
        self.contracts: dict[uuid.UUID, dict[str, Any]] = {}
        # The places of each submitter's day: place -> the referral holding it.
        self.places: dict[tuple[str, date], dict[int, uuid.UUID]] = {}

    async def known_client_ref(self, candidates: list[str]) -> str | None:
        return next((ref for ref in candidates if ref in self.clients), None)

    async def register_referral(
        self, sealed: bytes, values: Row, detail: str = "", place: VerblijfPlace | None = None
    ) -> PlaceClaim | None:
        at = values["received_at"]
        self.clients[values["client_ref"]] = {"personal": sealed, "updated_at": at, "erased_at": None}
        self.referrals[values["id"]] = {**dict.fromkeys(REFERRAL_LATER), **values}
        await self.set_referral_status(values["id"], values["status"], at, "received", detail)
        if place is None:
            return None
        return await self.take_verblijf_place(place.submitted_by, place.day, place.place, values["id"], place.limit)

    async def lock_referral(self, referral_id: uuid.UUID) -> Row | None:
        return await self.get_referral(referral_id)

    async def get_referral(self, referral_id: uuid.UUID) -> Row | None:
        row = self.referrals.get(referral_id)
        return dict(row) if row else None

    async def set_referral_status(
        self, referral_id: uuid.UUID, status: str, at: datetime, step: str, detail: str = ""
    ) -> None:
        self.referrals[referral_id]["status"] = status
        self.steps.append({"referral_id": referral_id, "at": at, "status": status, "step": step, "detail": detail})

    async def mark_placed(self, referral_id: uuid.UUID, at: datetime, provider_agb: str) -> None:
        self.referrals[referral_id].update(placed_at=at, placed_with=provider_agb)
        self._release_place(referral_id)

    async def mark_care_started(self, referral_id: uuid.UUID, at: datetime) -> None:
        referral = self.referrals[referral_id]
        referral["care_started_at"] = referral["care_started_at"] or at

    async def mark_withdrawn(self, referral_id: uuid.UUID, at: datetime, reason: str) -> None:
        self.referrals[referral_id].update(withdrawn_at=at, withdrawal_reason=reason)
        self._release_place(referral_id)

    async def history(self, referral_id: uuid.UUID) -> list[Row]:
        return [
            {k: s[k] for k in ("at", "status", "step", "detail")} for s in self.steps if s["referral_id"] == referral_id
        ]

    async def take_verblijf_place(
        self, submitted_by: str, day: date, place: int, referral_id: uuid.UUID, limit: int | None
    ) -> PlaceClaim:
        held = self.places.setdefault((submitted_by, day), {})
        if limit is not None and any(p > limit for p in held):
            return "over_limit"
        if place in held:
            return "occupied"
        held[place] = referral_id
        return "held"

    async def lowest_free_verblijf_place(self, submitted_by: str, day: date) -> int:
        held = self.places.get((submitted_by, day), {})
        return next(place for place in range(1, len(held) + 2) if place not in held)

    async def verblijf_places_held(self, submitted_by: str, day: date) -> int:
        return len(self.places.get((submitted_by, day), {}))

    async def lock_submitter(self, actor: str) -> None:
        return None

    def _release_place(self, referral_id: uuid.UUID) -> None:
        for held in self.places.values():
            for place in [p for p, r in held.items() if r == referral_id]:
                del held[place]

    async def contracted(self, provider_agb: str, day: date) -> bool | None:
        if not self.contracts:
            return None
        return any(
            c["provider_agb"] == provider_agb
            and c["valid_from"] <= day <= c["valid_to"]
            and (c["ended_on"] is None or c["ended_on"] >= day)
            for c in self.contracts.values()
        )

    async def lock_client(self, client_ref: str) -> None:
        return None

    async def next_allocation_number(self, municipality_code: str) -> int:
        self.last_numbers[municipality_code] = self.last_numbers.get(municipality_code, 0) + 1
        return self.last_numbers[municipality_code]

    async def insert_allocation(self, values: Row) -> None:
        self.allocations[values["id"]] = {**dict.fromkeys(ALLOCATION_LATER), **values}

    async def lock_allocation(self, allocation_id: uuid.UUID) -> Row | None:
        row = self.allocations.get(allocation_id)
        return dict(row) if row else None

    async def allocations_of_client(self, client_ref: str, exclude: uuid.UUID | None = None) -> list[AllocationFacts]:
        return [
            AllocationFacts.of(a)
            for a in self.allocations.values()
            if a["client_ref"] == client_ref and a["id"] != exclude
        ]

    async def allocations_of_referral(self, referral_id: uuid.UUID) -> list[Row]:
        rows = [dict(a) for a in self.allocations.values() if a["referral_id"] == referral_id]
        return sorted(rows, key=lambda a: a["issued_at"])

    async def update_allocation(self, allocation_id: uuid.UUID, **values: Any) -> None:
        self.allocations[allocation_id].update(values)

    async def insert_request(self, values: Row) -> None:
        self.requests[values["id"]] = {**dict.fromkeys(REQUEST_LATER), **values}

    async def lock_request(self, request_id: uuid.UUID) -> Row | None:
        row = self.requests.get(request_id)
        return dict(row) if row else None

    async def answer_request(
        self,
        request_id: uuid.UUID,
        at: datetime,
        answer: str,
        rejection_reason: str | None = None,
        allocation_id: uuid.UUID | None = None,
    ) -> None:
        self.requests[request_id].update(
            answered_at=at, answer=answer, rejection_reason=rejection_reason, allocation_id=allocation_id
        )

    async def list_requests(
        self, *, municipality_code: str | None, provider_agb: str | None, open_only: bool
    ) -> list[Row]:
        rows = [
            dict(r)
            for r in self.requests.values()
            if municipality_code in (None, r["municipality_code"])
            and provider_agb in (None, r["provider_agb"])
            and not (open_only and r["answered_at"] is not None)
        ]
        return sorted(rows, key=lambda r: r["requested_at"])

    async def claim_newly_overdue(self, now: datetime) -> list[Row]:
        due = [
            r
            for r in self.requests.values()
            if r["answered_at"] is None and r["overdue_at"] is None and r["answer_due"] < now
        ]
        for r in due:
            r["overdue_at"] = now
        return [dict(r) for r in sorted(due, key=lambda r: r["answer_due"])]

    async def count_overdue_open(self, now: datetime) -> int:
        return sum(1 for r in self.requests.values() if r["answered_at"] is None and r["answer_due"] < now)

    async def upsert_contract(
        self, contract_id: uuid.UUID, provider_agb: str, valid_from: date, valid_to: date
    ) -> None:
        ended_on = self.contracts.get(contract_id, {}).get("ended_on")
        self.contracts[contract_id] = {
            "provider_agb": provider_agb,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "ended_on": ended_on,
        }

    async def end_contract(self, contract_id: uuid.UUID, provider_agb: str, end_date: date) -> None:
        contract = self.contracts.setdefault(
            contract_id, {"provider_agb": provider_agb, "valid_from": end_date, "valid_to": end_date}
        )
        contract["ended_on"] = end_date
