"""A provider's request for a toewijzing (iJw JW315), the gemeente's answer — a toewijzing (JW301)
or a refusal (JW319) — and the requests left unanswered past their deadline."""

from __future__ import annotations

import uuid

from contracts.codes import Verwijzer
from contracts.intake import (
    AllocationIssued,
    AllocationRequested,
    AllocationRequestOverdue,
    AllocationRequestRejected,
)
from services.intake import domain
from services.intake.commands import IntakeWork
from services.intake.commands.allocations import CARE_COLUMNS, asked_care, care_columns, issue_on, validated
from services.intake.commands.referrals import current_status, locked_referral, refresh_status
from services.intake.requests import AllocationIn, AllocationRequestIn, RequestAllocationIn, RequestRejectionIn
from services.intake.store import IntakeStore, Row
from services.runtime.auth import Principal
from services.runtime.errors import Conflict, Forbidden, NotFound


async def request(uow: IntakeWork, body: AllocationRequestIn, by: Principal) -> AllocationRequested:
    """JW315: a provider asks for a toewijzing for a youth referred to it (by a GP, directly)."""
    store, now = uow.store, uow.now
    due = domain.answer_due(now, uow.settings.request_answer_working_days)
    referral = await locked_referral(store, body.referral_id)
    if not (referral["provider_agb"] == by.subject or domain.is_its_referrer(by, referral)):
        raise Forbidden(f"referral {body.referral_id} was not made to provider {by.subject}")
    domain.check_referral_open(await current_status(store, referral), "request a toewijzing")
    event = AllocationRequested(
        request_id=uuid.uuid4(),
        **asked_care(referral, body),
        provider_agb=by.subject,
        requested_at=now,
        answer_due=due,
    )
    await store.insert_request(
        {
            "id": event.request_id,
            "referral_id": referral["id"],
            "municipality_code": referral["municipality_code"],
            "provider_agb": by.subject,
            **care_columns(body),
            "requested_at": now,
            "answer_due": due,
        }
    )
    await refresh_status(
        store, referral["id"], now, "allocation_requested", f"by {by.subject}, answer due {due:%Y-%m-%d %H:%M}"
    )
    uow.collect(event)
    return event


async def _open_request(store: IntakeStore, request_id: uuid.UUID, by: Principal) -> Row:
    row = await store.lock_request(request_id)
    if row is None:
        raise NotFound(f"no allocation request {request_id}")
    domain.check_own_municipality(by, row["municipality_code"], "a request")
    if row["answered_at"] is not None:
        raise Conflict(f"the request was already answered ({row['answer']}) at {row['answered_at']:%Y-%m-%d %H:%M}")
    return row


async def reject(uow: IntakeWork, request_id: uuid.UUID, body: RequestRejectionIn, by: Principal) -> None:
    """JW319: the gemeente refuses a request with a WJ759 reason."""
    store, now = uow.store, uow.now
    row = await _open_request(store, request_id, by)
    referral = await locked_referral(store, row["referral_id"])
    domain.check_rejection(Verwijzer(referral["referrer_type"]), body.reason)
    await store.answer_request(request_id, now, "rejected", rejection_reason=body.reason.value)
    await refresh_status(store, referral["id"], now, "allocation_request_rejected", f"reden {body.reason.value}")
    uow.collect(
        AllocationRequestRejected(
            request_id=request_id,
            referral_id=referral["id"],
            municipality_code=row["municipality_code"],
            provider_agb=row["provider_agb"],
            reason=body.reason,
            rejected_at=now,
        )
    )


async def grant(
    uow: IntakeWork, request_id: uuid.UUID, body: RequestAllocationIn, by: Principal
) -> tuple[AllocationIssued, domain.ReferralStatus]:
    """JW301 on a request: the toewijzing it asks for, in the period the gemeente may have adjusted."""
    row = await _open_request(uow.store, request_id, by)
    referral = await locked_referral(uow.store, row["referral_id"])
    asked = {k: row[k] for k in CARE_COLUMNS} | body.model_dump(exclude_none=True)
    allocation = validated(AllocationIn, {**asked, "provider_agb": row["provider_agb"]})
    issued, status = await issue_on(uow, referral, allocation, request_id=request_id)
    await uow.store.answer_request(request_id, uow.now, "allocated", allocation_id=issued.allocation_id)
    return issued, status


async def report_overdue(uow: IntakeWork) -> int:
    """Announce ``AllocationRequestOverdue`` once per request newly past its deadline; returns how many."""
    store, now = uow.store, uow.now
    rows = await store.claim_newly_overdue(now)
    for row in rows:
        await refresh_status(
            store,
            row["referral_id"],
            now,
            "allocation_request_overdue",
            f"answer was due {row['answer_due']:%Y-%m-%d %H:%M}",
        )
        uow.collect(
            AllocationRequestOverdue(
                request_id=row["id"],
                referral_id=row["referral_id"],
                municipality_code=row["municipality_code"],
                provider_agb=row["provider_agb"],
                requested_at=row["requested_at"],
                answer_due=row["answer_due"],
                detected_at=now,
            )
        )
    return len(rows)
