"""Intake's HTTP routes for toewijzingen, start and end of care, and providers' requests for a
toewijzing, with their response models."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from contracts.codes import Eenheid, Frequentie, RedenAfwijzing
from services.intake import domain
from services.intake.api import reading, work
from services.intake.commands import allocations, requests
from services.intake.requests import (
    AllocationChangeIn,
    AllocationIn,
    AllocationRequestIn,
    AllocationWithdrawalIn,
    CareEndIn,
    CareStartIn,
    RequestAllocationIn,
    RequestRejectionIn,
)
from services.runtime.auth import Principal, require
from services.runtime.openapi import problems
from services.runtime.roles import Role

router = APIRouter(prefix="/v1", tags=["intake"])


class AllocationIssuedView(BaseModel):
    allocation_id: uuid.UUID
    allocation_number: int
    referral_status: domain.ReferralStatus


@router.post(
    "/referrals/{referral_id}/allocations",
    status_code=201,
    response_model=AllocationIssuedView,
    summary="Issue a toewijzing (the gemeente of the youth's municipality)",
    responses=problems(404, 409),
)
async def post_allocation(
    referral_id: uuid.UUID, body: AllocationIn, request: Request, by: Principal = Depends(require(Role.GEMEENTE))
) -> AllocationIssuedView:
    async with work(request) as uow:
        issued, status = await allocations.issue(uow, referral_id, body, by)
    return AllocationIssuedView(
        allocation_id=issued.allocation_id, allocation_number=issued.allocation_number, referral_status=status
    )


class AllocationChangedView(BaseModel):
    allocation_id: uuid.UUID
    end_date: date
    volume: int | None
    unit: Eenheid | None
    frequency: Frequentie | None
    budget: int | None


@router.patch(
    "/allocations/{allocation_id}",
    response_model=AllocationChangedView,
    summary="Change a toewijzing's end date, volume or budget",
    responses=problems(404, 409),
)
async def patch_allocation(
    allocation_id: uuid.UUID,
    body: AllocationChangeIn,
    request: Request,
    by: Principal = Depends(require(Role.GEMEENTE)),
) -> AllocationChangedView:
    async with work(request) as uow:
        changed = await allocations.change(uow, allocation_id, body, by)
    return AllocationChangedView.model_validate(changed, from_attributes=True)


class AllocationWithdrawnView(BaseModel):
    allocation_id: uuid.UUID
    effective_date: date
    referral_status: domain.ReferralStatus


@router.post(
    "/allocations/{allocation_id}/withdrawal",
    response_model=AllocationWithdrawnView,
    summary="Withdraw a toewijzing (reden 13: never valid)",
    responses=problems(404, 409),
)
async def withdraw_allocation(
    allocation_id: uuid.UUID,
    body: AllocationWithdrawalIn,
    request: Request,
    by: Principal = Depends(require(Role.GEMEENTE)),
) -> AllocationWithdrawnView:
    async with work(request) as uow:
        withdrawn, status = await allocations.withdraw(uow, allocation_id, body, by)
    return AllocationWithdrawnView(
        allocation_id=allocation_id, effective_date=withdrawn.effective_date, referral_status=status
    )


class CareReported(BaseModel):
    allocation_id: uuid.UUID
    referral_status: domain.ReferralStatus


@router.post(
    "/allocations/{allocation_id}/start",
    response_model=CareReported,
    summary="Start of care (JW305), by the provider of the toewijzing",
    responses=problems(404, 409),
)
async def start_care(
    allocation_id: uuid.UUID, body: CareStartIn, request: Request, by: Principal = Depends(require(Role.PROVIDER))
) -> CareReported:
    async with work(request) as uow:
        status = await allocations.start_care(uow, allocation_id, body, by)
    return CareReported(allocation_id=allocation_id, referral_status=status)


@router.post(
    "/allocations/{allocation_id}/end",
    response_model=CareReported,
    summary="End of care (JW307) with a JZ588 reden beëindiging",
    responses=problems(404, 409),
)
async def end_care(
    allocation_id: uuid.UUID, body: CareEndIn, request: Request, by: Principal = Depends(require(Role.PROVIDER))
) -> CareReported:
    async with work(request) as uow:
        status = await allocations.end_care(uow, allocation_id, body, by)
    return CareReported(allocation_id=allocation_id, referral_status=status)


class RequestReceived(BaseModel):
    request_id: uuid.UUID
    answer_due: datetime
    status: Literal["open"] = "open"


@router.post(
    "/allocation-requests",
    status_code=201,
    response_model=RequestReceived,
    summary="A provider requests a toewijzing (JW315); the gemeente answers within 5 working days",
    responses=problems(404, 409),
)
async def post_allocation_request(
    body: AllocationRequestIn, request: Request, by: Principal = Depends(require(Role.PROVIDER))
) -> RequestReceived:
    async with work(request) as uow:
        requested = await requests.request(uow, body, by)
    return RequestReceived(request_id=requested.request_id, answer_due=requested.answer_due)


class RequestView(BaseModel):
    """A provider's request for a toewijzing and the gemeente's answer so far."""

    id: uuid.UUID
    referral_id: uuid.UUID
    municipality_code: str
    provider_agb: str
    product_category: str
    product_code: str | None
    start_date: date
    end_date: date
    volume: int | None
    unit: str | None
    frequency: str | None
    budget: int | None
    requested_at: datetime
    answer_due: datetime
    answered_at: datetime | None
    answer: str | None
    rejection_reason: str | None
    allocation_id: uuid.UUID | None
    overdue_at: datetime | None
    overdue: bool


@router.get(
    "/allocation-requests",
    response_model=list[RequestView],
    summary="Requests of the caller's municipality or provider",
)
async def list_allocation_requests(
    request: Request,
    open: bool = Query(default=True, description="Only unanswered requests"),
    by: Principal = Depends(require(Role.GEMEENTE, Role.PROVIDER, Role.OPERATOR)),
) -> list[RequestView]:
    async with reading(request) as uow:
        rows = await uow.store.list_requests(
            municipality_code=by.subject if by.role is Role.GEMEENTE else None,
            provider_agb=by.subject if by.role is Role.PROVIDER else None,
            open_only=open,
        )
    return [
        RequestView.model_validate(
            {**r, "overdue": domain.is_overdue(r["answer_due"], r["answered_at"] is not None, uow.now)}
        )
        for r in rows
    ]


class RequestGranted(BaseModel):
    request_id: uuid.UUID
    status: Literal["allocated"] = "allocated"
    allocation_id: uuid.UUID
    allocation_number: int
    referral_status: domain.ReferralStatus


@router.post(
    "/allocation-requests/{request_id}/allocation",
    status_code=201,
    response_model=RequestGranted,
    summary="Grant a request: issue the toewijzing it asks for (JW301)",
    responses=problems(404, 409),
)
async def grant_allocation_request(
    request_id: uuid.UUID,
    request: Request,
    body: RequestAllocationIn | None = None,
    by: Principal = Depends(require(Role.GEMEENTE)),
) -> RequestGranted:
    async with work(request) as uow:
        issued, status = await requests.grant(uow, request_id, body or RequestAllocationIn(), by)
    return RequestGranted(
        request_id=request_id,
        allocation_id=issued.allocation_id,
        allocation_number=issued.allocation_number,
        referral_status=status,
    )


class RequestRejected(BaseModel):
    request_id: uuid.UUID
    status: Literal["rejected"] = "rejected"
    reason: RedenAfwijzing


@router.post(
    "/allocation-requests/{request_id}/rejection",
    response_model=RequestRejected,
    summary="Refuse a request with a WJ759 reason (JW319)",
    responses=problems(404, 409),
)
async def reject_allocation_request(
    request_id: uuid.UUID, body: RequestRejectionIn, request: Request, by: Principal = Depends(require(Role.GEMEENTE))
) -> RequestRejected:
    async with work(request) as uow:
        await requests.reject(uow, request_id, body, by)
    return RequestRejected(request_id=request_id, reason=body.reason)
