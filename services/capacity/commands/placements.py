"""The schakelfunctie for one youth: open a placement request from a referral, take the
provider's answer to a proposal, and move on when it declines, lets it lapse or the referral goes."""

from __future__ import annotations

import uuid

from contracts.capacity import (
    DeclineReason,
    EscalationLevel,
    EscalationReason,
    PlacementConfirmed,
    PlacementDeclined,
    PlacementRequested,
)
from contracts.intake import ReferralReceived, ReferralWithdrawn
from services.capacity import domain
from services.capacity.commands import Work
from services.capacity.commands.capacity import occupy_place
from services.capacity.commands.doorbraak import close_for_withdrawn_referral
from services.capacity.commands.escalations import escalate, placement_to_change
from services.capacity.commands.matching import propose_next, release, rematch, withdraw_across
from services.capacity.commands.shortages import reevaluate
from services.capacity.store import Placement, Proposal
from services.runtime.auth import Principal
from services.runtime.errors import Conflict


def needs_placement(referral: ReferralReceived) -> bool:
    """Whether a referral asks for verblijf or crisis care, the only ones capacity places."""
    return referral.product_category.needs_setting


async def open_request(uow: Work, referral: ReferralReceived) -> None:
    """A referral for verblijf or crisis care becomes a placement request, matched at once."""
    if not needs_placement(referral):
        return
    settings = domain.in_preference_order(referral.settings)
    demand = domain.demand_setting(settings)
    timer = uow.settings.escalation_timer(referral.urgency)
    await uow.store.lock_settings([demand, *settings])
    placement = Placement(
        id=uuid.uuid4(),
        referral_id=referral.referral_id,
        client_ref=referral.client_ref,
        age=referral.age,
        municipality_code=referral.municipality_code,
        product_category=referral.product_category.value,
        settings=[s.value for s in settings],
        demand_setting=demand.value,
        urgency=referral.urgency,
        referrer=f"{referral.referrer_type}:{referral.referrer_agb}" if referral.referrer_agb else None,
        status="open",
        requested_at=uow.now,
        escalation_due_at=domain.escalation_due(timer, None, uow.now),
    )
    if not await uow.store.insert_placement(placement):
        return  # a redelivered referral: its request is already open
    requested = PlacementRequested(
        placement_id=placement.id,
        referral_id=referral.referral_id,
        client_ref=referral.client_ref,
        age=referral.age,
        municipality_code=referral.municipality_code,
        product_category=referral.product_category,
        settings=list(settings),
        urgency=referral.urgency,
        requested_at=uow.now,
    )
    cause = uow.collect(requested)
    touched = await propose_next(uow, placement, cause)
    await reevaluate(uow, {demand.value, *touched}, cause)


async def withdraw(uow: Work, withdrawn: ReferralWithdrawn) -> None:
    """A withdrawn referral gives back its reserved place, stops counting as demand, and closes the
    expert team's case if it has one."""
    placement = await uow.store.placement_of_referral(withdrawn.referral_id)
    if placement is None:
        return
    await close_for_withdrawn_referral(uow, placement)
    if placement.status not in domain.UNPLACED:
        return
    await reevaluate(uow, await release(uow, placement, "withdrawn"))


async def _own_open_proposal(uow: Work, placement_id: uuid.UUID, provider: Principal) -> tuple[Placement, Proposal]:
    """The placement and its open proposal to ``provider``, both locked, with the settings they touch."""
    placement = await placement_to_change(uow, placement_id)
    await uow.store.lock_settings([placement.demand_setting, *placement.settings])
    proposal = await uow.store.open_proposal(placement.id)
    if proposal is None or proposal.agb != provider.agb:
        raise Conflict(f"placement {placement.id} has no open proposal to provider {provider.agb}")
    if proposal.region is not None:
        raise Conflict(
            f"placement {placement.id} was asked of provider {provider.agb} in region {proposal.region}: "
            "it answers through that region's Schakel (POST /v1/pool-requests/{id}/accept there)"
        )
    return placement, proposal


async def accept(uow: Work, placement_id: uuid.UUID, provider: Principal) -> None:
    """The provider takes the youth: the reserved place becomes occupied."""
    placement, proposal = await _own_open_proposal(uow, placement_id, provider)
    if proposal.reserved_until <= uow.now:
        raise Conflict("the reservation has lapsed; the schakelfunctie has moved on to the next candidate")
    setting, agb = proposal.setting, proposal.agb
    await uow.store.decide_proposal(proposal.id, "accepted", None, None, uow.now)
    await uow.store.set_placement(
        placement_id,
        status="confirmed",
        confirmed_agb=agb,
        confirmed_setting=setting,
        confirmed_at=uow.now,
        escalation_due_at=None,
    )
    confirmed = PlacementConfirmed(
        placement_id=placement_id,
        referral_id=placement.referral_id,
        client_ref=placement.client_ref,
        provider_agb=agb,
        setting=setting,
        confirmed_at=uow.now,
    )
    cause = uow.collect(confirmed)
    await occupy_place(uow, agb, setting, f"placement:{placement_id}", cause)
    await reevaluate(uow, {setting, placement.demand_setting}, cause)


async def decline(
    uow: Work, placement_id: uuid.UUID, provider: Principal, reason: DeclineReason, note: str | None
) -> None:
    """The provider does not take the youth; the next candidate is asked."""
    placement, proposal = await _own_open_proposal(uow, placement_id, provider)
    await move_on(uow, placement, proposal, "declined", reason, note)


async def lapse(uow: Work, placement_id: uuid.UUID) -> None:
    """The provider did not answer in time: the reservation ends and the next candidate is asked."""
    placement = await placement_to_change(uow, placement_id)
    await uow.store.lock_settings([placement.demand_setting, *placement.settings])
    proposal = await uow.store.open_proposal(placement_id)
    if proposal is None or proposal.reserved_until > uow.now:
        return  # answered meanwhile
    await move_on(uow, placement, proposal, "timeout", DeclineReason.GEEN_REACTIE, None)


async def move_on(
    uow: Work, placement: Placement, proposal: Proposal, outcome: str, reason: DeclineReason, note: str | None
) -> None:
    """The proposal was declined or lapsed: the next candidate is asked, or the youth escalates."""
    await uow.store.decide_proposal(proposal.id, outcome, reason, note, uow.now)
    if outcome == "timeout":
        withdraw_across(uow, proposal)  # another member still holds the place: it may give it back
    declined = PlacementDeclined(
        placement_id=placement.id,
        referral_id=placement.referral_id,
        provider_agb=proposal.agb,
        setting=proposal.setting,
        reason=reason,
        declined_at=uow.now,
    )
    cause = uow.collect(declined)
    touched = {proposal.setting, placement.demand_setting}
    touched |= await propose_next(uow, placement, cause)
    # The place this youth did not get may suit another who waits.
    touched |= await rematch(uow, proposal.setting, cause)
    refreshed = await placement_to_change(uow, placement.id)
    if refreshed.status == "open" and placement.escalation_level != EscalationLevel.EXPERTTEAM:
        # Every candidate has said no: this is a case for the expert team, not a matter of waiting.
        await escalate(
            uow, refreshed, EscalationLevel.EXPERTTEAM, EscalationReason.ALLE_KANDIDATEN_AFGEWEZEN, None, cause
        )
    await reevaluate(uow, touched, cause)
