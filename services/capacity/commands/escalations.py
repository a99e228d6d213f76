"""Escalating a youth nobody has placed: by hand, or when the escalation timer runs out."""

from __future__ import annotations

import uuid

from contracts.capacity import CaseEscalated, EscalationLevel, EscalationReason
from contracts.envelope import EventAttributes
from contracts.verblijf import Setting
from services.capacity import domain
from services.capacity.commands import Work, pools
from services.capacity.commands.alerts import raise_alert
from services.capacity.store import Placement
from services.runtime.auth import Principal
from services.runtime.errors import Conflict, Forbidden, NotFound
from services.runtime.roles import Role


async def placement_to_change(uow: Work, placement_id: uuid.UUID) -> Placement:
    """The placement, locked for this unit of work; NotFound when there is none."""
    placement = await uow.store.placement(placement_id)
    if placement is None:
        raise NotFound(f"no placement with id {placement_id}")
    return placement


async def escalate_by_hand(uow: Work, placement_id: uuid.UUID, by: Principal, note: str | None) -> None:
    """A referrer or the schakelfunctionaris escalates early (partners say it comes too late)."""
    placement = await placement_to_change(uow, placement_id)
    if by.role is Role.REFERRER and placement.referrer != by.subject:
        raise Forbidden("a referrer may escalate only its own referrals")
    if placement.status not in domain.UNPLACED:
        raise Conflict(f"placement {placement_id} is {placement.status}; only unplaced youths escalate")
    level = domain.next_level(placement.escalation_level)
    if level is None:
        raise Conflict("the expert team already has this case")
    await escalate(uow, placement, level, EscalationReason.HANDMATIG, note)


async def escalate_when_due(uow: Work, placement_id: uuid.UUID) -> None:
    """The youth is still unplaced when its timer runs out: up one level, if there is one."""
    placement = await placement_to_change(uow, placement_id)
    due = placement.escalation_due_at
    if placement.status not in domain.UNPLACED or due is None or due > uow.now:
        return
    level = domain.next_level(placement.escalation_level)
    if level is None:
        await uow.store.set_placement(placement_id, escalation_due_at=None)
    else:
        await escalate(uow, placement, level, EscalationReason.TERMIJN_VERLOPEN, None)


async def escalate(
    uow: Work,
    placement: Placement,
    level: EscalationLevel,
    reason: EscalationReason,
    note: str | None,
    cause: EventAttributes | None = None,
) -> None:
    """Hand the case to ``level`` and tell them, restarting the timer for the level after it."""
    timer = uow.settings.escalation_timer(placement.urgency)
    # A timer or a hand without words keeps the last note: the expert team needs the referrer's "why".
    noted = {"escalation_note": note} if note is not None else {}
    await uow.store.set_placement(
        placement.id,
        escalation_level=level,
        escalated_at=uow.now,
        first_escalated_at=placement.first_escalated_at or uow.now,
        escalation_due_at=domain.escalation_due(timer, level, uow.now),
        **noted,
    )
    escalated = CaseEscalated(
        placement_id=placement.id,
        referral_id=placement.referral_id,
        client_ref=placement.client_ref,
        age=placement.age,
        municipality_code=placement.municipality_code,
        settings=[Setting(s) for s in placement.settings],
        urgency=placement.urgency,
        level=level,
        reason=reason,
        waiting_since=placement.requested_at,
        escalated_at=uow.now,
    )
    envelope = await raise_alert(uow, escalated, placement.demand_setting, cause)
    await pools.share_escalation(uow, placement, escalated, envelope)
