"""Proposing a place: the best remaining candidate for one youth, and free places for those who wait."""

from __future__ import annotations

from datetime import timedelta

from contracts.capacity import PlacementProposed
from contracts.envelope import Envelope
from contracts.verblijf import Setting
from services.capacity import domain
from services.capacity.commands import Work
from services.capacity.store import Placement


async def propose_next(uow: Work, placement: Placement, cause: Envelope | None) -> set[str]:
    """Propose the best remaining candidate, reserving the place; returns the settings touched.

    With nobody left the youth waits ('open') and counts as demand, which is what makes a
    shortage visible before the escalation timer runs out.
    """
    need = domain.Need(
        settings=tuple(Setting(s) for s in placement.settings),
        age=placement.age,
        municipality_code=placement.municipality_code,
        tried=await uow.store.tried(placement.id),
    )
    best = domain.best_candidate(need, await uow.store.candidates(placement.settings))
    if best is None:
        await uow.store.set_placement(placement.id, status="open")
        return set()
    reserved_until = uow.now + timedelta(minutes=uow.settings.reservation_minutes)
    await uow.store.insert_proposal(placement.id, best.agb, best.setting, uow.now, reserved_until)
    await uow.store.set_placement(placement.id, status="proposed")
    proposed = PlacementProposed(
        placement_id=placement.id,
        referral_id=placement.referral_id,
        provider_agb=best.agb,
        setting=best.setting,
        reserved_until=reserved_until,
        proposed_at=uow.now,
    )
    uow.collect(proposed, cause=cause)
    return {best.setting.value}


async def rematch(uow: Work, setting: str, cause: Envelope | None) -> set[str]:
    """Offer places in ``setting`` to youths waiting for it, crisis first, then longest waiting;
    returns the settings touched."""
    touched: set[str] = set()
    for placement in await uow.store.unplaced_needing(setting):
        proposed = await propose_next(uow, placement, cause)
        if proposed:
            touched |= proposed | {placement.demand_setting}
    return touched
