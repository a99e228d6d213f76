"""Intake's HTTP routes: referrals, toewijzingen, start and end of care, providers' requests."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from contracts.identifiers import CalendarDate
from services.intake import allocations, domain, referrals, store
from services.intake.context import Intake
from services.intake.requests import (
    AllocationChangeIn,
    AllocationIn,
    AllocationRequestIn,
    AllocationWithdrawalIn,
    CareEndIn,
    CareStartIn,
    ReferralIn,
    RequestAllocationIn,
    RequestRejectionIn,
    WithdrawalIn,
)
from services.runtime.auth import Principal, Role, require
from services.runtime.errors import NotFound
from services.runtime.openapi import problems
from services.runtime.workdays import dutch_date, working_days_between

router = APIRouter(prefix="/v1", tags=["intake"])


def _intake(request: Request) -> Intake:
    return request.app.state.intake


class ReferralCreated(BaseModel):
    referral_id: uuid.UUID
    client_ref: str
    status: str
    needs_gemeente_decision: bool
    contracted_provider: bool | None
    consult_gemeente: bool


@router.post(
    "/referrals",
    status_code=201,
    response_model=ReferralCreated,
    summary="Refer a youth (any statutory referrer; a provider for a direct GP referral)",
)
async def post_referral(
    body: ReferralIn, request: Request, by: Principal = Depends(require(Role.REFERRER, Role.GEMEENTE, Role.PROVIDER))
) -> dict:
    return await referrals.receive(_intake(request), body, by)


@router.get(
    "/referrals/{referral_id}", summary="A referral's status, history and waiting time so far", responses=problems(404)
)
async def get_referral(
    referral_id: uuid.UUID,
    request: Request,
    by: Principal = Depends(require(Role.REFERRER, Role.GEMEENTE, Role.PROVIDER, Role.OPERATOR)),
) -> dict[str, Any]:
    intake = _intake(request)
    pool = intake.runtime.pool
    referral = await store.get_referral(pool, referral_id)
    if referral is None:
        raise NotFound(f"no referral {referral_id}")
    referrals.check_may_read(by, referral)
    now = intake.now()
    until = referral["care_started_at"] or referral["withdrawn_at"]
    seconds = domain.waiting_seconds(referral["received_at"], until, now)
    public = {
        k: referral[k]
        for k in (
            "client_ref",
            "age",
            "municipality_code",
            "referrer_type",
            "referrer_agb",
            "veilig_thuis",
            "provider_agb",
            "contracted_provider",
            "product_category",
            "settings",
            "urgency",
            "ambulant_tried",
            "needs_gemeente_decision",
            "referral_date",
            "received_at",
            "status",
            "placed_at",
            "placed_with",
        )
    }
    return {
        "referral_id": referral_id,
        **public,
        "consult_gemeente": referral["contracted_provider"] is False,
        "waiting": {
            "since": referral["received_at"],
            "until": until,
            "ongoing": until is None,
            "seconds": seconds,
            "days": int(seconds // 86_400),
            "working_days": working_days_between(dutch_date(referral["received_at"]), dutch_date(until or now)),
        },
        "history": [dict(r) for r in await store.history(pool, referral_id)],
        "allocations": [_allocation_view(r) for r in await store.allocations_of_referral(pool, referral_id)],
    }


def _allocation_view(row: Any) -> dict[str, Any]:
    return {
        k: row[k]
        for k in (
            "id",
            "number",
            "provider_agb",
            "product_category",
            "product_code",
            "start_date",
            "end_date",
            "volume",
            "unit",
            "frequency",
            "budget",
            "issued_at",
            "withdrawn_at",
            "withdrawal_reason",
            "effective_date",
            "care_start",
            "care_end",
            "care_end_reason",
        )
    }


@router.post(
    "/referrals/{referral_id}/withdrawal",
    summary="Withdraw a referral (its referrer or gemeente)",
    responses=problems(404, 409),
)
async def withdraw_referral(
    referral_id: uuid.UUID,
    body: WithdrawalIn,
    request: Request,
    by: Principal = Depends(require(Role.REFERRER, Role.GEMEENTE, Role.PROVIDER)),
) -> dict[str, Any]:
    status = await referrals.withdraw(_intake(request), referral_id, body, by)
    return {"referral_id": referral_id, "status": status}


@router.post(
    "/referrals/{referral_id}/allocations",
    status_code=201,
    summary="Issue a toewijzing (the gemeente of the youth's municipality)",
    responses=problems(404, 409),
)
async def post_allocation(
    referral_id: uuid.UUID, body: AllocationIn, request: Request, by: Principal = Depends(require(Role.GEMEENTE))
) -> dict[str, Any]:
    return await allocations.issue(_intake(request), referral_id, body, by)


@router.patch(
    "/allocations/{allocation_id}",
    summary="Change a toewijzing's end date, volume or budget",
    responses=problems(404, 409),
)
async def patch_allocation(
    allocation_id: uuid.UUID,
    body: AllocationChangeIn,
    request: Request,
    by: Principal = Depends(require(Role.GEMEENTE)),
) -> dict[str, Any]:
    return await allocations.change(_intake(request), allocation_id, body, by)


@router.post(
    "/allocations/{allocation_id}/withdrawal",
    summary="Withdraw a toewijzing (reden 13: never valid)",
    responses=problems(404, 409),
)
async def withdraw_allocation(
    allocation_id: uuid.UUID,
    body: AllocationWithdrawalIn,
    request: Request,
    by: Principal = Depends(require(Role.GEMEENTE)),
) -> dict[str, Any]:
    return await allocations.withdraw(_intake(request), allocation_id, body, by)


@router.post(
    "/allocations/{allocation_id}/start",
    summary="Start of care (JW305), by the provider of the toewijzing",
    responses=problems(404, 409),
)
async def start_care(
    allocation_id: uuid.UUID, body: CareStartIn, request: Request, by: Principal = Depends(require(Role.PROVIDER))
) -> dict[str, Any]:
    return await allocations.start_care(_intake(request), allocation_id, body, by)


@router.post(
    "/allocations/{allocation_id}/end",
    summary="End of care (JW307) with a JZ588 reden beëindiging",
    responses=problems(404, 409),
)
async def end_care(
    allocation_id: uuid.UUID, body: CareEndIn, request: Request, by: Principal = Depends(require(Role.PROVIDER))
) -> dict[str, Any]:
    return await allocations.end_care(_intake(request), allocation_id, body, by)


@router.post(
    "/allocation-requests",
    status_code=201,
    summary="A provider requests a toewijzing (JW315); the gemeente answers within 5 working days",
    responses=problems(404, 409),
)
async def post_allocation_request(
    body: AllocationRequestIn, request: Request, by: Principal = Depends(require(Role.PROVIDER))
) -> dict[str, Any]:
    return await allocations.request(_intake(request), body, by)


@router.get("/allocation-requests", summary="Requests of the caller's municipality or provider")
async def list_allocation_requests(
    request: Request,
    open: bool = Query(default=True, description="Only unanswered requests"),
    by: Principal = Depends(require(Role.GEMEENTE, Role.PROVIDER, Role.OPERATOR)),
) -> list[dict[str, Any]]:
    intake = _intake(request)
    rows = await store.list_requests(
        intake.runtime.pool,
        municipality_code=by.subject if by.role is Role.GEMEENTE else None,
        provider_agb=by.subject if by.role is Role.PROVIDER else None,
        open_only=open,
    )
    now = intake.now()
    return [{**dict(r), "overdue": domain.is_overdue(r["answer_due"], r["answered_at"] is not None, now)} for r in rows]


@router.post(
    "/allocation-requests/{request_id}/allocation",
    status_code=201,
    summary="Grant a request: issue the toewijzing it asks for (JW301)",
    responses=problems(404, 409),
)
async def grant_allocation_request(
    request_id: uuid.UUID,
    request: Request,
    body: RequestAllocationIn | None = None,
    by: Principal = Depends(require(Role.GEMEENTE)),
) -> dict[str, Any]:
    return await allocations.grant_request(_intake(request), request_id, body or RequestAllocationIn(), by)


@router.post(
    "/allocation-requests/{request_id}/rejection",
    summary="Refuse a request with a WJ759 reason (JW319)",
    responses=problems(404, 409),
)
async def reject_allocation_request(
    request_id: uuid.UUID, body: RequestRejectionIn, request: Request, by: Principal = Depends(require(Role.GEMEENTE))
) -> dict[str, Any]:
    return await allocations.reject_request(_intake(request), request_id, body, by)


class RegistryMunicipality(BaseModel):
    code: str
    name: str


@router.get(
    "/registry/municipalities",
    response_model=list[RegistryMunicipality],
    summary="The active region's municipalities on a date (default today)",
)
async def registry_municipalities(
    request: Request, on: CalendarDate | None = None, _: Principal = Depends(require(*Role))
) -> list[RegistryMunicipality]:
    intake = _intake(request)
    day = on or intake.today()
    region = intake.registry.region(intake.settings.region)
    return [
        RegistryMunicipality(code=c, name=intake.registry.municipality(c).name)  # type: ignore[union-attr]
        for c in region.member_codes(day)
    ]
