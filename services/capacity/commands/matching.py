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
    best = domain.best_candidate(need, await uow.store.candidates(placement.settings))
    if best is None:
        await uow.store.set_placement(placement.id, status="open")
        return set()
    return await _propose(uow, placement, best.agb, best.setting, cause)


async def _propose(uow: Work, placement: Placement, agb: str, setting: Setting, cause: Envelope | None) -> set[str]:
    reserved_until = uow.now + timedelta(minutes=uow.settings.reservation_minutes)
    await uow.store.insert_proposal(placement.id, agb, setting, uow.now, reserved_until)
    await uow.store.set_placement(placement.id, status="proposed")
    proposed = PlacementProposed(
        placement_id=placement.id,
        referral_id=placement.referral_id,
        provider_agb=agb,
        setting=setting,
        reserved_until=reserved_until,
        proposed_at=uow.now,
    )
    uow.collect(proposed, cause=cause)
    return {setting.value}


async def release(uow: Work, placement: Placement, status: str) -> set[str]:
    """The youth stops waiting (``status``: withdrawn, or placed elsewhere): its reserved place goes
    to whoever waits for it; returns the settings touched."""
    touched = {placement.demand_setting}
    proposal = await uow.store.open_proposal(placement.id)
    if proposal:
        await uow.store.decide_proposal(proposal.id, "withdrawn", None, None, uow.now)
        touched.add(proposal.setting)
    await uow.store.set_placement(placement.id, status=status, escalation_due_at=None)
    if proposal:
        touched |= await rematch(uow, proposal.setting, uow.cause)
    return touched


async def rematch(uow: Work, setting: str, cause: Envelope | None) -> set[str]:
    """Offer places in ``setting`` to youths waiting for it, crisis first, then longest waiting;
    returns the settings touched."""
    touched: set[str] = set()
    for placement in await uow.store.unplaced_needing(setting):
        proposed = await propose_next(uow, placement, cause)
        if proposed:
            touched |= proposed | {placement.demand_setting}
    return touched
