"""Requests of other pool members for places with this region's providers (docs/pools.md): the provider
sees those made to it and answers here, in its own region's Schakel; the answer travels back over
the pool's topic. A request carries no client, referral or municipality: the youth's age, the
setting, the urgency and the asking region."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from contracts.capacity import DeclineReason
from contracts.codes import Urgentie
from contracts.verblijf import Setting
from services.capacity.api import runtime
from services.capacity.commands import pool_placements
from services.capacity.placements_api import Decline
from services.capacity.store import open_store, reads
from services.runtime.auth import Principal, require
from services.runtime.openapi import problems
from services.runtime.roles import ALERT_ROLES, Role

router = APIRouter(prefix="/v1", tags=["pools"])


class PoolRequestView(BaseModel):
    """A place held here for a youth of another member region."""

    id: uuid.UUID
    pool: str
    from_region: str
    agb: str
    setting: Setting
    age: int
    urgency: Urgentie
    reserved_until: datetime
    received_at: datetime
    outcome: str | None
    reason: DeclineReason | None
    note: str | None
    decided_at: datetime | None


def _view(row: asyncpg.Record, principal: Principal) -> PoolRequestView:
    seen = dict(row)
    if principal.role is Role.OPERATOR:
        seen["note"] = None  # the provider's words are for the schakelfunctie, as with proposals
    return PoolRequestView(**seen)


@router.get(
    "/pool-requests",
    response_model=list[PoolRequestView],
    summary="Places held for youths of other pool members: a provider sees those asked of it",
)
async def get_pool_requests(
    request: Request,
    open: Annotated[bool, Query(description="Only those still awaiting an answer")] = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    principal: Principal = Depends(require(Role.PROVIDER, *ALERT_ROLES)),
) -> list[PoolRequestView]:
    provider = principal.agb if principal.role is Role.PROVIDER else None
    rows = await reads.pool_requests(runtime(request).pool, provider=provider, open_only=open, limit=limit)
    return [_view(r, principal) for r in rows]


@router.post(
    "/pool-requests/{request_id}/accept",
    response_model=PoolRequestView,
    summary="The provider takes the other region's youth; the answer travels over the pool",
    responses=problems(404, 409),
)
async def accept_pool_request(
    request_id: uuid.UUID, request: Request, principal: Principal = Depends(require(Role.PROVIDER))
) -> PoolRequestView:
    async with runtime(request).work(open_store) as uow:
        await pool_placements.accept(uow, request_id, principal)
    return _view(await reads.pool_request(runtime(request).pool, request_id), principal)


@router.post(
    "/pool-requests/{request_id}/decline",
    response_model=PoolRequestView,
    summary="The provider declines, with a reason code; the other region asks its next candidate",
    responses=problems(404, 409),
)
async def decline_pool_request(
    request_id: uuid.UUID, body: Decline, request: Request, principal: Principal = Depends(require(Role.PROVIDER))
) -> PoolRequestView:
    async with runtime(request).work(open_store) as uow:
        await pool_placements.decline(uow, request_id, principal, body.reason, body.note)
    return _view(await reads.pool_request(runtime(request).pool, request_id), principal)
