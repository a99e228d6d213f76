"""Proposing a place: the best remaining candidate for one youth — in the region, or when it has
none (or the expert team decided on a place outside the region) with another member of a pool that
shares the setting — and free places for those who wait."""

from __future__ import annotations

import uuid
from datetime import timedelta

from contracts.capacity import PlacementProposed
from contracts.doorbraak import DecisionKind
from contracts.envelope import EventAttributes
from contracts.pool import PoolPlacementRequested, PoolPlacementWithdrawn
from contracts.verblijf import Setting
from services.capacity import domain
from services.capacity.commands import Work
from services.capacity.pool_rules import PoolOffer, best_pool_offer
from services.capacity.store import Decision, DoorbraakCase, Placement, Proposal


async def propose_next(uow: Work, placement: Placement, cause: EventAttributes | None) -> set[str]:
    """Propose the best remaining candidate, reserving the place; returns the settings touched.

    A provider admitted for this youth alone (a doorbraak's maatwerk contract) comes first; then the
    providers admitted to a lot, by ``domain.best_candidate``. With nobody left the youth waits
    ('open') and counts as demand, which is what makes a shortage visible before the escalation
    timer runs out.
    """
    for admitted in await uow.store.placement_admissions(placement.id):
        # A provider that declined this youth before may say yes to the maatwerk arrangement made
        # for it: only an answer given since its admission counts.
        if (admitted.agb, Setting(admitted.setting)) not in await uow.store.tried(placement.id, admitted.admitted_at):
            return await _propose(uow, placement, admitted.agb, Setting(admitted.setting), cause)
    tried = await uow.store.tried(placement.id)
    need = domain.Need(
        settings=tuple(Setting(s) for s in placement.settings),
        age=placement.age,
        municipality_code=placement.municipality_code,
        tried=tried,
    )
    outside = await _decided_outside(uow, placement)
    if outside is None:
        best = domain.best_candidate(need, await uow.store.candidates(placement.settings))
        if best is not None:
            return await _propose(uow, placement, best.agb, best.setting, cause)
    across = best_pool_offer(need, await _pool_offers(uow, placement), outside or ())
    if across is not None:
        return await _propose(uow, placement, across.agb, Setting(across.setting), cause, across)
    await uow.store.set_placement(placement.id, status="open")
    return set()


async def _decided_outside(uow: Work, placement: Placement) -> list[str] | None:
    """The settings of the expert team's open decision on a place outside the region (empty: any), or
    None when there is no such decision: then the region's own providers come first."""
    found = await open_decision_outside(uow, placement)
    return None if found is None else list(found[1].settings)


async def open_decision_outside(uow: Work, placement: Placement) -> tuple[DoorbraakCase, Decision] | None:
    """The youth's open doorbraak case and its open decision on a place outside the region, if any."""
    case = await uow.store.open_case_of(placement.id)
    decision = None if case is None else await uow.store.open_decision(case.id)
    if case is None or decision is None or decision.kind is not DecisionKind.BUITEN_REGIO:
        return None
    return case, decision


async def _pool_offers(uow: Work, placement: Placement) -> list[PoolOffer]:
    """The free places of the other members of every pool sharing one of the youth's settings."""
    offers: list[PoolOffer] = []
    for pool in uow.settings.pools():
        shared = [s for s in placement.settings if pool.shares(s)]
        if shared:
            offers += await uow.store.pool_offers(pool.name, uow.settings.region, shared)
    return offers


async def _propose(
    uow: Work,
    placement: Placement,
    agb: str,
    setting: Setting,
    cause: EventAttributes | None,
    across: PoolOffer | None = None,
) -> set[str]:
    """Reserve the place and announce the proposal; a place of another pool member is asked of that
    member over the pool's topic (it holds the place), and this region keeps the placement."""
    reserved_until = uow.now + timedelta(minutes=uow.settings.reservation_minutes)
    region = across.region if across else None
    request_id = uuid.uuid4() if across else None
    await uow.store.insert_proposal(placement.id, agb, setting, uow.now, reserved_until, region, request_id)
    await uow.store.set_placement(placement.id, status="proposed")
    proposed = PlacementProposed(
        placement_id=placement.id,
        referral_id=placement.referral_id,
        provider_agb=agb,
        setting=setting,
        reserved_until=reserved_until,
        proposed_at=uow.now,
        provider_region=region,
    )
    envelope = uow.collect(proposed, cause=cause)
    if across is None or request_id is None:
        return {setting.value}
    requested = PoolPlacementRequested(
        pool=across.pool,
        region=uow.settings.region,
        request_id=request_id,
        to_region=across.region,
        agb=agb,
        setting=setting,
        age=placement.age,
        urgency=placement.urgency,
        reserved_until=reserved_until,
        requested_at=uow.now,
    )
    uow.collect(requested, cause=envelope)
    # No place of this region was taken; the youth stopped waiting here, which its demand setting shows.
    return {placement.demand_setting}


def withdraw_across(uow: Work, proposal: Proposal, cause: EventAttributes | None = None) -> None:
    """This region no longer asks another member for the place ``proposal`` holds there (it lapsed here,
    the youth was placed otherwise, the referral was withdrawn): that member gives it back."""
    if proposal.region is None or proposal.pool_request_id is None:
        return
    pool = next((p for p in uow.settings.pools_sharing(proposal.setting) if proposal.region in p.members), None)
    if pool is None:
        return  # no longer pooled here: the other member's reservation runs out on its own timer
    withdrawn = PoolPlacementWithdrawn(
        pool=pool.name,
        region=uow.settings.region,
        request_id=proposal.pool_request_id,
        to_region=proposal.region,
        withdrawn_at=uow.now,
    )
    uow.collect(withdrawn, cause=cause)


async def release(uow: Work, placement: Placement, status: str) -> set[str]:
    """The youth stops waiting (``status``: withdrawn, or placed elsewhere): its reserved place goes
    to whoever waits for it; returns the settings touched."""
    touched = {placement.demand_setting}
    proposal = await uow.store.open_proposal(placement.id)
    if proposal:
        await uow.store.decide_proposal(proposal.id, "withdrawn", None, None, uow.now)
        withdraw_across(uow, proposal, uow.cause)
        touched.add(proposal.setting)
    await uow.store.set_placement(placement.id, status=status, escalation_due_at=None)
    if proposal:
        touched |= await rematch(uow, proposal.setting, uow.cause)
    return touched


async def rematch(uow: Work, setting: str, cause: EventAttributes | None) -> set[str]:
    """Offer places in ``setting`` to youths waiting for it, crisis first, then longest waiting;
    returns the settings touched."""
    touched: set[str] = set()
    for placement in await uow.store.unplaced_needing(setting):
        proposed = await propose_next(uow, placement, cause)
        if proposed:
            touched |= proposed | {placement.demand_setting}
    return touched
