"""The schakelfunctie's HTTP routes: placements proposed, accepted, declined and escalated."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from contracts.capacity import DeclineReason
from contracts.verblijf import Setting
from services.capacity import domain
from services.capacity.api import runtime
from services.capacity.audience import placement_seen_by
from services.capacity.commands import escalations, placements
from services.capacity.store import open_store, reads
from services.runtime.auth import Principal, require
from services.runtime.openapi import problems
from services.runtime.roles import ALERT_ROLES, Role

router = APIRouter(prefix="/v1", tags=["placements"])


class Proposal(BaseModel):
    agb: str
    setting: Setting
    proposed_at: datetime
    reserved_until: datetime
    outcome: str | None
    reason: DeclineReason | None
    note: str | None
    decided_at: datetime | None
    region: str | None = Field(
        default=None, description="The pool member whose provider was asked; absent: this region."
    )


class Placement(BaseModel):
    """A youth waiting for (or given) a place: pseudonymous, as the schakelfunctie sees it."""

    id: uuid.UUID
    referral_id: uuid.UUID
    client_ref: str
    age: int
    municipality_code: str
    product_category: str
    settings: list[Setting]
    urgency: str
    status: str
    requested_at: datetime
    escalation_level: str | None
    escalated_at: datetime | None
    escalation_due_at: datetime | None
    escalation_note: str | None
    confirmed_agb: str | None
    confirmed_setting: Setting | None
    confirmed_at: datetime | None
    proposals: list[Proposal]


def _placement(row: asyncpg.Record, principal: Principal) -> Placement:
    """The placement as ``principal``'s role may see it (``audience.placement_seen_by``)."""
    placement = {**dict(row), "proposals": json.loads(row["proposals"])}
    return Placement(**placement_seen_by(placement, principal.role, principal.agb))


@router.get(
    "/placements",
    response_model=list[Placement],
    summary="Placements: a provider sees those proposed to it; the schakelfunctie sees all",
)
async def get_placements(
    request: Request,
    status: Annotated[list[str] | None, Query(description="open, proposed, confirmed, withdrawn, elsewhere")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    principal: Principal = Depends(require(Role.PROVIDER, *ALERT_ROLES)),
) -> list[Placement]:
    statuses = status or list(domain.UNPLACED)
    provider = principal.agb if principal.role is Role.PROVIDER else None
    rows = await reads.list_placements(runtime(request).pool, provider=provider, statuses=statuses, limit=limit)
    return [_placement(r, principal) for r in rows]


class Decline(BaseModel):
    reason: DeclineReason = Field(description="Why this youth cannot come, as a code (it travels to other services).")
    note: str | None = Field(
        default=None,
        max_length=500,
        description="Your own words for the schakelfunctionaris; stays in capacity, never on Kafka.",
    )


class Escalation(BaseModel):
    note: str | None = Field(
        default=None,
        max_length=500,
        description="Why now, for the schakelfunctionaris or expert team; stays in capacity.",
    )


async def _placement_view(request: Request, placement_id: uuid.UUID, principal: Principal) -> Placement:
    row = await reads.placement_view(runtime(request).pool, placement_id)
    return _placement(row, principal)


@router.post(
    "/placements/{placement_id}/accept",
    response_model=Placement,
    summary="The provider takes the youth proposed to it",
    responses=problems(404, 409),
)
async def accept_placement(
    placement_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(require(Role.PROVIDER)),
) -> Placement:
    async with runtime(request).work(open_store) as uow:
        await placements.accept(uow, placement_id, principal)
    return await _placement_view(request, placement_id, principal)


@router.post(
    "/placements/{placement_id}/decline",
    response_model=Placement,
    summary="The provider declines, with a reason; the next candidate is asked",
    responses=problems(404, 409),
)
async def decline_placement(
    placement_id: uuid.UUID,
    body: Decline,
    request: Request,
    principal: Principal = Depends(require(Role.PROVIDER)),
) -> Placement:
    async with runtime(request).work(open_store) as uow:
        await placements.decline(uow, placement_id, principal, body.reason, body.note)
    return await _placement_view(request, placement_id, principal)


@router.post(
    "/placements/{placement_id}/escalate",
    response_model=Placement,
    summary="Escalate now: to the schakelfunctionaris, or from there to the expert team",
    responses=problems(404, 409),
)
async def escalate_placement(
    placement_id: uuid.UUID,
    request: Request,
    body: Escalation | None = None,
    principal: Principal = Depends(require(Role.REFERRER, Role.SCHAKELFUNCTIONARIS)),
) -> Placement:
    note = (body or Escalation()).note
    async with runtime(request).work(open_store) as uow:
        await escalations.escalate_by_hand(uow, placement_id, principal, note)
    return await _placement_view(request, placement_id, principal)


class ClockAdvance(BaseModel):
    seconds: float = Field(gt=0, le=400 * 24 * 3600)


class ClockMoved(BaseModel):
    now: datetime


@router.post(
    "/admin/clock",
    response_model=ClockMoved,
    summary="Move this service's clock forward (only with SCHAKEL_TEST_CLOCK)",
    include_in_schema=False,
)
async def advance_clock(
    body: ClockAdvance,
    request: Request,
    _: Principal = Depends(require(Role.ADMIN)),
) -> ClockMoved:
    capacity = runtime(request)
    if not capacity.settings.test_clock:
        raise HTTPException(404, "Not Found")
    now = capacity.clock.advance(timedelta(seconds=body.seconds))
    # What fell due in the time skipped happens now, not at the next tick.
    await request.app.state.timers.run_now()
    return ClockMoved(now=now)
