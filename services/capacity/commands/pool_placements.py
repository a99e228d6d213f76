"""A place asked across a pool (docs/pools.md), from both sides of the pool's topic.

In the youth's region ``matching`` asks another member's provider when the region has no candidate
of its own (or the expert team decided on a place outside the region); here that region takes the
answer: accepted confirms its placement (its gemeente keeps the toewijzing), declined moves on to
the next candidate. In the provider's region a request holds the place for the youth (it counts as
reserved there: its shortage and its pool figures include it) until its provider answers through
this region's own API, the reservation runs out, or the youth's region withdraws it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

from contracts.capacity import DeclineReason, PlacementConfirmed
from contracts.envelope import Envelope, EventAttributes
from contracts.pool import (
    PoolAnswer,
    PoolCapacityReported,
    PoolPlacementAnswered,
    PoolPlacementRequested,
    PoolPlacementWithdrawn,
)
from services.capacity import pool_rules
from services.capacity.commands import Work, doorbraak, pools
from services.capacity.commands.capacity import occupy_place
from services.capacity.commands.escalations import placement_to_change
from services.capacity.commands.matching import rematch
from services.capacity.commands.placements import move_on
from services.capacity.commands.pools import from_another_member
from services.capacity.commands.shortages import reevaluate
from services.capacity.store import Placement, PoolRequest, Proposal
from services.runtime.auth import Principal
from services.runtime.errors import Conflict, NotFound

log = logging.getLogger(__name__)


# --- in the provider's region -------------------------------------------------------------------


async def receive_request(uow: Work, requested: PoolPlacementRequested) -> None:
    """Another member asks one of this region's providers for a place: hold it for the youth, or answer
    at once why not (no place free any more, outside the age range, too late)."""
    if requested.to_region != uow.settings.region or from_another_member(uow, requested, requested.setting) is None:
        return
    await uow.store.lock_settings([requested.setting])
    if await uow.store.pool_request(requested.request_id) is not None:
        return  # received before
    candidate = next(
        (c for c in await uow.store.candidates([requested.setting]) if c.agb == requested.agb),
        None,
    )
    request = PoolRequest(
        id=requested.request_id,
        pool=requested.pool,
        from_region=requested.region,
        agb=requested.agb,
        setting=requested.setting,
        age=requested.age,
        urgency=requested.urgency,
        reserved_until=requested.reserved_until,
        received_at=uow.now,
    )
    why = pool_rules.why_not_held(candidate, requested.age, requested.reserved_until, uow.now)
    if why is not None:
        await uow.store.insert_pool_request(replace(request, outcome="declined", reason=why, decided_at=uow.now))
        _answer(uow, request, PoolAnswer.DECLINED, why, uow.cause)
        return
    await uow.store.insert_pool_request(request)
    await reevaluate(uow, {request.setting}, uow.cause)


async def accept(uow: Work, request_id: uuid.UUID, provider: Principal) -> None:
    """The provider takes the other member's youth: the held place becomes occupied here, and the
    youth's region hears it over the pool."""
    request = await _own_open_request(uow, request_id, provider)
    if request.reserved_until <= uow.now:
        raise Conflict("the reservation has lapsed; the youth's region has moved on")
    await uow.store.decide_pool_request(request.id, "accepted", None, None, uow.now)
    answered = _answer(uow, request, PoolAnswer.ACCEPTED, None, None)
    await occupy_place(uow, request.agb, request.setting, f"pool-request:{request.id}", answered)
    await reevaluate(uow, {request.setting}, answered)


async def decline(
    uow: Work, request_id: uuid.UUID, provider: Principal, reason: DeclineReason, note: str | None
) -> None:
    """The provider does not take the other member's youth (a code travels; its words stay here)."""
    request = await _own_open_request(uow, request_id, provider)
    await _give_back(uow, request, "declined", reason, note)


async def lapse_request(uow: Work, request_id: uuid.UUID) -> None:
    """Nobody answered in time: the place goes back, and the youth's region hears it (geen_reactie)."""
    request = await _locked_request(uow, request_id)
    if request is None or request.outcome is not None or request.reserved_until > uow.now:
        return  # answered meanwhile
    await _give_back(uow, request, "timeout", DeclineReason.GEEN_REACTIE, None)


async def receive_withdrawal(uow: Work, withdrawn: PoolPlacementWithdrawn) -> None:
    """The youth's region no longer asks: the held place goes back."""
    if withdrawn.to_region != uow.settings.region:
        return
    request = await _locked_request(uow, withdrawn.request_id)
    if request is None or request.outcome is not None or request.from_region != withdrawn.region:
        return  # never held, answered already, or not that region's to withdraw
    await uow.store.decide_pool_request(request.id, "withdrawn", None, None, uow.now)
    touched = await rematch(uow, request.setting, uow.cause)
    await reevaluate(uow, {request.setting, *touched}, uow.cause)


async def _locked_request(uow: Work, request_id: uuid.UUID) -> PoolRequest | None:
    found = await uow.store.pool_request(request_id)
    if found is None:
        return None
    await uow.store.lock_settings([found.setting])
    return await uow.store.pool_request(request_id)


async def _own_open_request(uow: Work, request_id: uuid.UUID, provider: Principal) -> PoolRequest:
    request = await _locked_request(uow, request_id)
    if request is None:
        raise NotFound(f"no request for a place with id {request_id}")
    if request.agb != provider.agb or request.outcome is not None:
        raise Conflict(f"request {request_id} is not open for provider {provider.agb}")
    return request


async def _give_back(uow: Work, request: PoolRequest, outcome: str, reason: DeclineReason, note: str | None) -> None:
    await uow.store.decide_pool_request(request.id, outcome, reason, note, uow.now)
    answered = _answer(uow, request, PoolAnswer.DECLINED, reason, uow.cause)
    # The place this youth did not get may suit one who waits here.
    touched = await rematch(uow, request.setting, answered)
    await reevaluate(uow, {request.setting, *touched}, answered)


def _answer(
    uow: Work, request: PoolRequest, answer: PoolAnswer, reason: DeclineReason | None, cause: EventAttributes | None
) -> Envelope:
    answered = PoolPlacementAnswered(
        pool=request.pool,
        region=uow.settings.region,
        request_id=request.id,
        to_region=request.from_region,
        agb=request.agb,
        setting=request.setting,
        answer=answer,
        reason=reason,
        answered_at=uow.now,
    )
    return uow.collect(answered, cause=cause)


# --- in the youth's region ------------------------------------------------------------------------


async def record_places(uow: Work, reported: PoolCapacityReported) -> None:
    """Another member told its places: kept (``pools.record_places``), and a free place there is asked
    for a youth here who waits for the setting with no candidate of its own."""
    if not await pools.record_places(uow, reported) or reported.free == 0:
        return
    await uow.store.lock_settings([reported.setting])
    touched = await rematch(uow, reported.setting, uow.cause)
    if touched:
        await reevaluate(uow, touched, uow.cause)


async def receive_answer(uow: Work, answered: PoolPlacementAnswered) -> None:
    """The other member's provider answered: accepted confirms the youth's placement here, declined
    asks the next candidate (or escalates, as any declined proposal does). An answer to a request
    this region already withdrew changes nothing."""
    if answered.to_region != uow.settings.region or from_another_member(uow, answered, answered.setting) is None:
        return
    asked = await uow.store.proposal_of_request(answered.request_id)
    if asked is None:
        return
    placement = await placement_to_change(uow, asked.placement_id)  # the placement's lock first, as everywhere
    await uow.store.lock_settings([placement.demand_setting, *placement.settings])
    proposal = await uow.store.open_proposal(placement.id)
    if proposal is None or proposal.pool_request_id != answered.request_id:
        log.warning("pool %s: answer to request %s, which is no longer open here", answered.pool, answered.request_id)
        return
    if answered.answer is PoolAnswer.ACCEPTED:
        await _confirm_across(uow, placement, proposal)
    else:
        await move_on(uow, placement, proposal, "declined", answered.reason or DeclineReason.OVERIG, None)


async def _confirm_across(uow: Work, placement: Placement, proposal: Proposal) -> None:
    """The youth goes to another member's provider: its placement here is confirmed (intake hears it
    and the gemeente issues the toewijzing); the place's occupancy is counted in that region."""
    await uow.store.decide_proposal(proposal.id, "accepted", None, None, uow.now)
    await uow.store.set_placement(
        placement.id,
        status="confirmed",
        confirmed_agb=proposal.agb,
        confirmed_setting=proposal.setting,
        confirmed_at=uow.now,
        escalation_due_at=None,
    )
    confirmed = PlacementConfirmed(
        placement_id=placement.id,
        referral_id=placement.referral_id,
        client_ref=placement.client_ref,
        provider_agb=proposal.agb,
        setting=proposal.setting,
        confirmed_at=uow.now,
        provider_region=proposal.region,
    )
    cause = uow.collect(confirmed, cause=uow.cause)
    await doorbraak.carry_out_outside(uow, placement, cause)
    await reevaluate(uow, {placement.demand_setting}, cause)
