"""Toewijzing commands: issue, change, withdraw; start and end of care; a provider's request and
the gemeente's answer; requests left unanswered too long. Each one transaction of state and events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import ValidationError

from contracts.codes import Productcategorie, Verwijzer
from contracts.intake import (
    AllocationChanged,
    AllocationIssued,
    AllocationRequested,
    AllocationRequestOverdue,
    AllocationRequestRejected,
    AllocationWithdrawn,
    CareEnded,
    CareStarted,
)
from services.intake import domain, store
from services.intake.context import Intake
from services.intake.referrals import current_status, is_its_referrer, refresh_status
from services.intake.requests import (
    AllocationChangeIn,
    AllocationIn,
    AllocationRequestIn,
    AllocationWithdrawalIn,
    CareEndIn,
    CareStartIn,
    RequestAllocationIn,
    RequestRejectionIn,
    VolumeOrBudget,
)
from services.runtime.auth import Principal
from services.runtime.db import Connection
from services.runtime.errors import Conflict, Forbidden, Invalid, NotFound


def _own_municipality(by: Principal, municipality_code: str, what: str) -> None:
    if by.subject != municipality_code:
        raise Forbidden(f"gemeente {by.subject} may not act on {what} of municipality {municipality_code}")


async def _locked_referral(conn: Connection, referral_id: uuid.UUID) -> asyncpg.Record:
    referral = await store.lock_referral(conn, referral_id)
    if referral is None:
        raise NotFound(f"no referral {referral_id}")
    return referral


async def _locked_allocation(conn: Connection, allocation_id: uuid.UUID) -> asyncpg.Record:
    allocation = await store.lock_allocation(conn, allocation_id)
    if allocation is None:
        raise NotFound(f"no toewijzing {allocation_id}")
    return allocation


async def issue(intake: Intake, referral_id: uuid.UUID, body: AllocationIn, by: Principal) -> dict[str, Any]:
    now = intake.now()
    async with intake.runtime.pool.acquire() as conn, conn.transaction():
        referral = await _locked_referral(conn, referral_id)
        _own_municipality(by, referral["municipality_code"], "a referral")
        return await _issue(intake, conn, referral, body, now)


async def _issue(
    intake: Intake,
    conn: Connection,
    referral: asyncpg.Record,
    body: AllocationIn,
    now: datetime,
    request_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    domain.check_referral_open(await current_status(conn, referral), "issue a toewijzing")
    await store.lock_client(conn, referral["client_ref"])
    domain.check_no_stacking(
        await store.allocations_of_client(conn, referral["client_ref"]),
        body.product_category.value,
        body.product_code,
        body.start_date,
        body.end_date,
    )
    allocation_id = uuid.uuid4()
    number = await store.next_allocation_number(conn, referral["municipality_code"])
    event = AllocationIssued(
        allocation_id=allocation_id,
        allocation_number=number,
        referral_id=referral["id"],
        client_ref=referral["client_ref"],
        municipality_code=referral["municipality_code"],
        provider_agb=body.provider_agb,
        product_category=body.product_category,
        product_code=body.product_code,
        start_date=body.start_date,
        end_date=body.end_date,
        volume=body.volume,
        unit=body.unit,
        frequency=body.frequency,
        budget=body.budget,
        issued_at=now,
        request_id=request_id,
    )
    await store.insert_allocation(
        conn,
        {
            "id": allocation_id,
            "number": number,
            "municipality_code": referral["municipality_code"],
            "referral_id": referral["id"],
            "client_ref": referral["client_ref"],
            "provider_agb": body.provider_agb,
            "product_category": body.product_category.value,
            "product_code": body.product_code,
            "start_date": body.start_date,
            "end_date": body.end_date,
            "volume": body.volume,
            "unit": body.unit.value if body.unit else None,
            "frequency": body.frequency.value if body.frequency else None,
            "budget": body.budget,
            "issued_at": now,
            "request_id": request_id,
        },
    )
    status = await refresh_status(conn, referral["id"], now, "allocated", f"toewijzing {number} to {body.provider_agb}")
    await intake.emit(conn, event, referral["id"], now)
    return {"allocation_id": allocation_id, "allocation_number": number, "referral_status": status.value}


async def change(intake: Intake, allocation_id: uuid.UUID, body: AllocationChangeIn, by: Principal) -> dict[str, Any]:
    now = intake.now()
    async with intake.runtime.pool.acquire() as conn, conn.transaction():
        allocation = await _locked_allocation(conn, allocation_id)
        _own_municipality(by, allocation["municipality_code"], "a toewijzing")
        end_date = body.end_date or allocation["end_date"]
        domain.check_change(store.facts(allocation), end_date)
        amount = _changed_amount(allocation, body)
        if end_date > allocation["end_date"]:
            await store.lock_client(conn, allocation["client_ref"])
            others = await store.allocations_of_client(conn, allocation["client_ref"], exclude=allocation_id)
            domain.check_no_stacking(
                others, allocation["product_category"], allocation["product_code"], allocation["start_date"], end_date
            )
        await store.update_allocation(
            conn,
            allocation_id,
            end_date=end_date,
            volume=amount.volume,
            unit=amount.unit.value if amount.unit else None,
            frequency=amount.frequency.value if amount.frequency else None,
            budget=amount.budget,
        )
        await refresh_status(
            conn,
            allocation["referral_id"],
            now,
            "allocation_changed",
            f"toewijzing {allocation['number']}: {body.reason}",
        )
        await intake.emit(
            conn,
            AllocationChanged(
                allocation_id=allocation_id,
                allocation_number=allocation["number"],
                referral_id=allocation["referral_id"],
                client_ref=allocation["client_ref"],
                municipality_code=allocation["municipality_code"],
                provider_agb=allocation["provider_agb"],
                reason=body.reason,
                start_date=allocation["start_date"],
                end_date=end_date,
                volume=amount.volume,
                unit=amount.unit,
                frequency=amount.frequency,
                budget=amount.budget,
                changed_at=now,
            ),
            allocation["referral_id"],
            now,
        )
    return {"allocation_id": allocation_id, "end_date": end_date, **amount.model_dump(mode="json")}


def _changed_amount(allocation: asyncpg.Record, body: AllocationChangeIn) -> VolumeOrBudget:
    merged = {k: allocation[k] for k in ("volume", "unit", "frequency", "budget")}
    merged.update(body.model_dump(include={"volume", "unit", "frequency", "budget"}, exclude_none=True))
    try:
        return VolumeOrBudget.model_validate(merged)
    except ValidationError as exc:
        raise Invalid("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None


async def withdraw(
    intake: Intake, allocation_id: uuid.UUID, body: AllocationWithdrawalIn, by: Principal
) -> dict[str, Any]:
    now = intake.now()
    async with intake.runtime.pool.acquire() as conn, conn.transaction():
        allocation = await _locked_allocation(conn, allocation_id)
        _own_municipality(by, allocation["municipality_code"], "a toewijzing")
        effective = domain.check_withdrawal(store.facts(allocation), body.effective_date or intake.today(), body.reason)
        await store.update_allocation(
            conn, allocation_id, withdrawn_at=now, withdrawal_reason=body.reason.value, effective_date=effective
        )
        status = await refresh_status(
            conn,
            allocation["referral_id"],
            now,
            "allocation_withdrawn",
            f"toewijzing {allocation['number']}: reden {body.reason.value}",
        )
        await intake.emit(
            conn,
            AllocationWithdrawn(
                allocation_id=allocation_id,
                referral_id=allocation["referral_id"],
                municipality_code=allocation["municipality_code"],
                provider_agb=allocation["provider_agb"],
                reason=body.reason,
                effective_date=effective,
                withdrawn_at=now,
            ),
            allocation["referral_id"],
            now,
        )
    return {"allocation_id": allocation_id, "effective_date": effective, "referral_status": status.value}


async def _provider_allocation(conn: Connection, allocation_id: uuid.UUID, by: Principal) -> asyncpg.Record:
    allocation = await _locked_allocation(conn, allocation_id)
    if allocation["provider_agb"] != by.subject:
        raise Forbidden(
            f"toewijzing {allocation['number']} is for provider {allocation['provider_agb']}, not {by.subject}"
        )
    return allocation


async def start_care(intake: Intake, allocation_id: uuid.UUID, body: CareStartIn, by: Principal) -> dict[str, Any]:
    now = intake.now()
    async with intake.runtime.pool.acquire() as conn, conn.transaction():
        allocation = await _provider_allocation(conn, allocation_id, by)
        domain.check_care_start(store.facts(allocation), body.start_date, intake.today())
        await store.update_allocation(conn, allocation_id, care_start=body.start_date, care_started_at=now)
        await store.mark_care_started(conn, allocation["referral_id"], now)
        status = await refresh_status(
            conn,
            allocation["referral_id"],
            now,
            "care_started",
            f"toewijzing {allocation['number']} from {body.start_date}",
        )
        await intake.emit(
            conn,
            CareStarted(
                allocation_id=allocation_id,
                referral_id=allocation["referral_id"],
                client_ref=allocation["client_ref"],
                municipality_code=allocation["municipality_code"],
                provider_agb=allocation["provider_agb"],
                product_category=Productcategorie(allocation["product_category"]),
                start_date=body.start_date,
                reported_at=now,
            ),
            allocation["referral_id"],
            now,
        )
    return {"allocation_id": allocation_id, "referral_status": status.value}


async def end_care(intake: Intake, allocation_id: uuid.UUID, body: CareEndIn, by: Principal) -> dict[str, Any]:
    now = intake.now()
    async with intake.runtime.pool.acquire() as conn, conn.transaction():
        allocation = await _provider_allocation(conn, allocation_id, by)
        domain.check_care_end(store.facts(allocation), body.end_date, intake.today())
        await store.update_allocation(
            conn, allocation_id, care_end=body.end_date, care_end_reason=body.reason.value, care_ended_at=now
        )
        status = await refresh_status(
            conn,
            allocation["referral_id"],
            now,
            "care_ended",
            f"toewijzing {allocation['number']} on {body.end_date}: reden {body.reason.value}",
        )
        await intake.emit(
            conn,
            CareEnded(
                allocation_id=allocation_id,
                referral_id=allocation["referral_id"],
                client_ref=allocation["client_ref"],
                municipality_code=allocation["municipality_code"],
                provider_agb=allocation["provider_agb"],
                product_category=Productcategorie(allocation["product_category"]),
                end_date=body.end_date,
                reason=body.reason,
                reported_at=now,
            ),
            allocation["referral_id"],
            now,
        )
    return {"allocation_id": allocation_id, "referral_status": status.value}


async def request(intake: Intake, body: AllocationRequestIn, by: Principal) -> dict[str, Any]:
    """JW315: a provider asks for a toewijzing for a youth referred to it (by a GP, directly)."""
    now = intake.now()
    due = domain.answer_due(now, intake.settings.request_answer_working_days)
    request_id = uuid.uuid4()
    async with intake.runtime.pool.acquire() as conn, conn.transaction():
        referral = await _locked_referral(conn, body.referral_id)
        if not (referral["provider_agb"] == by.subject or is_its_referrer(by, referral)):
            raise Forbidden(f"referral {body.referral_id} was not made to provider {by.subject}")
        domain.check_referral_open(await current_status(conn, referral), "request a toewijzing")
        await store.insert_request(
            conn,
            {
                "id": request_id,
                "referral_id": referral["id"],
                "municipality_code": referral["municipality_code"],
                "provider_agb": by.subject,
                "product_category": body.product_category.value,
                "product_code": body.product_code,
                "start_date": body.start_date,
                "end_date": body.end_date,
                "volume": body.volume,
                "unit": body.unit.value if body.unit else None,
                "frequency": body.frequency.value if body.frequency else None,
                "budget": body.budget,
                "requested_at": now,
                "answer_due": due,
            },
        )
        await refresh_status(
            conn, referral["id"], now, "allocation_requested", f"by {by.subject}, answer due {due:%Y-%m-%d %H:%M}"
        )
        await intake.emit(
            conn,
            AllocationRequested(
                request_id=request_id,
                referral_id=referral["id"],
                client_ref=referral["client_ref"],
                municipality_code=referral["municipality_code"],
                provider_agb=by.subject,
                product_category=body.product_category,
                product_code=body.product_code,
                start_date=body.start_date,
                end_date=body.end_date,
                requested_at=now,
                answer_due=due,
            ),
            referral["id"],
            now,
        )
    return {"request_id": request_id, "answer_due": due, "status": "open"}


async def _open_request(conn: Connection, request_id: uuid.UUID, by: Principal) -> asyncpg.Record:
    row = await store.lock_request(conn, request_id)
    if row is None:
        raise NotFound(f"no allocation request {request_id}")
    _own_municipality(by, row["municipality_code"], "a request")
    if row["answered_at"] is not None:
        raise Conflict(f"the request was already answered ({row['answer']}) at {row['answered_at']:%Y-%m-%d %H:%M}")
    return row


async def reject_request(
    intake: Intake, request_id: uuid.UUID, body: RequestRejectionIn, by: Principal
) -> dict[str, Any]:
    now = intake.now()
    async with intake.runtime.pool.acquire() as conn, conn.transaction():
        row = await _open_request(conn, request_id, by)
        referral = await _locked_referral(conn, row["referral_id"])
        domain.check_rejection(Verwijzer(referral["referrer_type"]), body.reason)
        await store.answer_request(conn, request_id, now, "rejected", rejection_reason=body.reason.value)
        await refresh_status(conn, referral["id"], now, "allocation_request_rejected", f"reden {body.reason.value}")
        await intake.emit(
            conn,
            AllocationRequestRejected(
                request_id=request_id,
                referral_id=referral["id"],
                municipality_code=row["municipality_code"],
                provider_agb=row["provider_agb"],
                reason=body.reason,
                rejected_at=now,
            ),
            referral["id"],
            now,
        )
    return {"request_id": request_id, "status": "rejected", "reason": body.reason.value}


async def grant_request(
    intake: Intake, request_id: uuid.UUID, body: RequestAllocationIn, by: Principal
) -> dict[str, Any]:
    now = intake.now()
    async with intake.runtime.pool.acquire() as conn, conn.transaction():
        row = await _open_request(conn, request_id, by)
        referral = await _locked_referral(conn, row["referral_id"])
        fields = {
            k: row[k]
            for k in (
                "product_category",
                "product_code",
                "start_date",
                "end_date",
                "volume",
                "unit",
                "frequency",
                "budget",
            )
        }
        fields |= body.model_dump(exclude_none=True)
        try:
            allocation = AllocationIn.model_validate({**fields, "provider_agb": row["provider_agb"]})
        except ValidationError as exc:
            raise Invalid("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
        issued = await _issue(intake, conn, referral, allocation, now, request_id=request_id)
        await store.answer_request(conn, request_id, now, "allocated", allocation_id=issued["allocation_id"])
    return {"request_id": request_id, "status": "allocated", **issued}


async def report_overdue(intake: Intake) -> int:
    """Emit ``AllocationRequestOverdue`` once per request newly past its deadline; returns how many."""
    now = intake.now()
    async with intake.runtime.pool.acquire() as conn, conn.transaction():
        rows = await store.claim_newly_overdue(conn, now)
        for row in rows:
            await refresh_status(
                conn,
                row["referral_id"],
                now,
                "allocation_request_overdue",
                f"answer was due {row['answer_due']:%Y-%m-%d %H:%M}",
            )
            await intake.emit(
                conn,
                AllocationRequestOverdue(
                    request_id=row["id"],
                    referral_id=row["referral_id"],
                    municipality_code=row["municipality_code"],
                    provider_agb=row["provider_agb"],
                    requested_at=row["requested_at"],
                    answer_due=row["answer_due"],
                    detected_at=now,
                ),
                row["referral_id"],
                now,
            )
    return len(rows)
