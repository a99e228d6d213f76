"""The schakelfunctie for one youth: open a placement request, propose the best free place,
take the provider's answer, and escalate when nobody can place the youth in time."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg

from contracts import topics
from contracts.capacity import (
    CaseEscalated,
    DeclineReason,
    EscalationLevel,
    EscalationReason,
    PlacementConfirmed,
    PlacementDeclined,
    PlacementProposed,
    PlacementRequested,
)
from contracts.codes import Urgentie
from contracts.envelope import Envelope
from contracts.intake import ReferralReceived, ReferralWithdrawn
from contracts.verblijf import Setting
from services.capacity import alerts, domain, placement_store, store
from services.capacity.settings import CapacitySettings
from services.runtime.auth import Principal, Role
from services.runtime.db import Connection
from services.runtime.errors import Conflict, Forbidden, NotFound
from services.runtime.service import Runtime

UNPLACED = ("open", "proposed")


def _settings(runtime: Runtime) -> CapacitySettings:
    return runtime.settings  # type: ignore[return-value]


async def open_request(
    runtime: Runtime, conn: Connection, envelope: Envelope, referral: ReferralReceived, now: datetime
) -> None:
    """A referral for verblijf or crisis care becomes a placement request, matched at once."""
    if not referral.product_category.needs_setting:
        return
    settings = domain.in_preference_order(referral.settings)
    timer = _settings(runtime).escalation_timer(referral.urgency)
    placement_id = uuid.uuid4()
    referrer = f"{referral.referrer_type}:{referral.referrer_agb}" if referral.referrer_agb else None
    demand = domain.demand_setting(settings)
    await store.lock_settings(conn, [demand, *settings])
    created = await placement_store.insert_placement(
        conn,
        id=placement_id,
        referral_id=referral.referral_id,
        client_ref=referral.client_ref,
        age=referral.age,
        municipality_code=referral.municipality_code,
        product_category=referral.product_category.value,
        settings=[s.value for s in settings],
        demand_setting=demand.value,
        urgency=referral.urgency.value,
        referrer=referrer,
        status="open",
        requested_at=now,
        escalation_due_at=domain.escalation_due(timer, None, now),
    )
    if not created:
        return
    requested = PlacementRequested(
        placement_id=placement_id,
        referral_id=referral.referral_id,
        client_ref=referral.client_ref,
        age=referral.age,
        municipality_code=referral.municipality_code,
        product_category=referral.product_category,
        settings=list(settings),
        urgency=referral.urgency,
        requested_at=now,
    )
    event = alerts.wrap(requested, str(referral.referral_id), now, envelope)
    await runtime.emit(conn, topics.CAPACITY_EVENTS, event)
    placement = await _placement(conn, placement_id)
    touched = await _propose_next(runtime, conn, placement, now, event)
    await alerts.reevaluate(runtime, conn, {demand.value, *touched}, now, cause=event)


async def withdraw(
    runtime: Runtime, conn: Connection, envelope: Envelope, withdrawn: ReferralWithdrawn, now: datetime
) -> None:
    """A withdrawn referral gives back its reserved place and stops counting as demand."""
    placement = await placement_store.placement_of_referral(conn, withdrawn.referral_id)
    if placement is None or placement["status"] not in UNPLACED:
        return
    touched = {placement["demand_setting"]}
    proposal = await placement_store.open_proposal(conn, placement["id"])
    if proposal:
        await placement_store.decide_proposal(conn, proposal["id"], "withdrawn", None, None, now)
        touched.add(proposal["setting"])
    await placement_store.set_placement(conn, placement["id"], status="withdrawn", escalation_due_at=None)
    if proposal:
        # The place it held goes to whoever waits for it.
        touched |= await rematch(runtime, conn, proposal["setting"], now, envelope)
    await alerts.reevaluate(runtime, conn, touched, now, cause=envelope)


async def _propose_next(
    runtime: Runtime, conn: Connection, placement: asyncpg.Record, now: datetime, cause: Envelope | None
) -> set[str]:
    """Propose the best remaining candidate, reserving the place; returns the settings touched.

    With nobody left the youth waits ('open') and counts as demand, which is what makes a
    shortage visible before the escalation timer runs out.
    """
    need = domain.Need(
        settings=tuple(Setting(s) for s in placement["settings"]),
        age=placement["age"],
        municipality_code=placement["municipality_code"],
        tried=await placement_store.tried(conn, placement["id"]),
    )
    best = domain.best_candidate(need, await store.candidates(conn, placement["settings"]))
    if best is None:
        await placement_store.set_placement(conn, placement["id"], status="open")
        return set()
    reserved_until = now + timedelta(minutes=_settings(runtime).reservation_minutes)
    await placement_store.insert_proposal(conn, placement["id"], best.agb, best.setting, now, reserved_until)
    await placement_store.set_placement(conn, placement["id"], status="proposed")
    proposed = PlacementProposed(
        placement_id=placement["id"],
        referral_id=placement["referral_id"],
        provider_agb=best.agb,
        setting=best.setting,
        reserved_until=reserved_until,
        proposed_at=now,
    )
    await runtime.emit(conn, topics.CAPACITY_EVENTS, alerts.wrap(proposed, str(placement["referral_id"]), now, cause))
    return {best.setting.value}


async def rematch(runtime: Runtime, conn: Connection, setting: str, now: datetime, cause: Envelope | None) -> set[str]:
    """Offer places in ``setting`` to youths waiting for it, crisis first, then longest waiting."""
    touched: set[str] = set()
    for placement in await placement_store.unplaced_needing(conn, setting):
        proposed = await _propose_next(runtime, conn, placement, now, cause)
        if not proposed:
            continue
        touched |= proposed | {placement["demand_setting"]}
    return touched


async def _placement(conn: Connection, placement_id: uuid.UUID) -> asyncpg.Record:
    placement = await placement_store.placement_for_update(conn, placement_id)
    if placement is None:
        raise NotFound(f"no placement with id {placement_id}")
    return placement


async def _own_open_proposal(conn: Connection, placement: asyncpg.Record, provider: Principal) -> asyncpg.Record:
    proposal = await placement_store.open_proposal(conn, placement["id"])
    if proposal is None or proposal["agb"] != provider.agb:
        raise Conflict(f"placement {placement['id']} has no open proposal to provider {provider.agb}")
    return proposal


async def accept(runtime: Runtime, placement_id: uuid.UUID, provider: Principal, now: datetime) -> asyncpg.Record:
    """The provider takes the youth: the reserved place becomes occupied."""
    async with runtime.pool.acquire() as conn, conn.transaction():
        placement = await _placement(conn, placement_id)
        await store.lock_settings(conn, [placement["demand_setting"], *placement["settings"]])
        proposal = await _own_open_proposal(conn, placement, provider)
        if proposal["reserved_until"] <= now:
            raise Conflict("the reservation has lapsed; the schakelfunctie has moved on to the next candidate")
        setting, agb = proposal["setting"], proposal["agb"]
        await placement_store.decide_proposal(conn, proposal["id"], "accepted", None, None, now)
        await placement_store.set_placement(
            conn,
            placement_id,
            status="confirmed",
            confirmed_agb=agb,
            confirmed_setting=setting,
            confirmed_at=now,
            escalation_due_at=None,
        )
        confirmed = PlacementConfirmed(
            placement_id=placement_id,
            referral_id=placement["referral_id"],
            client_ref=placement["client_ref"],
            provider_agb=agb,
            setting=setting,
            confirmed_at=now,
        )
        event = alerts.wrap(confirmed, str(placement["referral_id"]), now)
        await runtime.emit(conn, topics.CAPACITY_EVENTS, event)
        # The occupancy changes as a report of its own, so history shows why the place went.
        current = await store.current_report(conn, agb, setting)
        if current is None:  # a place is proposed only from a report, so this cannot happen
            raise Conflict(f"provider {agb} has no capacity report for {setting}")
        figures = domain.CapacityFigures(
            total=current["total"],
            occupied=min(current["occupied"] + 1, current["total"]),
            closed_to_admission=current["closed_to_admission"],
            age_min=current["age_min"],
            age_max=current["age_max"],
        )
        await alerts.record_report(runtime, conn, agb, setting, figures, f"placement:{placement_id}", now, cause=event)
        await alerts.reevaluate(runtime, conn, {setting, placement["demand_setting"]}, now, cause=event)
        return await _placement(conn, placement_id)


async def decline(
    runtime: Runtime,
    placement_id: uuid.UUID,
    provider: Principal,
    reason: DeclineReason,
    note: str | None,
    now: datetime,
) -> asyncpg.Record:
    async with runtime.pool.acquire() as conn, conn.transaction():
        placement = await _placement(conn, placement_id)
        await store.lock_settings(conn, [placement["demand_setting"], *placement["settings"]])
        proposal = await _own_open_proposal(conn, placement, provider)
        await _move_on(runtime, conn, placement, proposal, "declined", reason, note, now)
        return await _placement(conn, placement_id)


async def lapse(runtime: Runtime, placement_id: uuid.UUID, now: datetime) -> None:
    """The provider did not answer in time: the reservation ends and the next candidate is asked."""
    async with runtime.pool.acquire() as conn, conn.transaction():
        placement = await _placement(conn, placement_id)
        await store.lock_settings(conn, [placement["demand_setting"], *placement["settings"]])
        proposal = await placement_store.open_proposal(conn, placement_id)
        if proposal is None or proposal["reserved_until"] > now:
            return  # answered meanwhile
        await _move_on(runtime, conn, placement, proposal, "timeout", DeclineReason.GEEN_REACTIE, None, now)


async def _move_on(
    runtime: Runtime,
    conn: Connection,
    placement: asyncpg.Record,
    proposal: asyncpg.Record,
    outcome: str,
    reason: DeclineReason,
    note: str | None,
    now: datetime,
) -> None:
    await placement_store.decide_proposal(conn, proposal["id"], outcome, reason, note, now)
    declined = PlacementDeclined(
        placement_id=placement["id"],
        referral_id=placement["referral_id"],
        provider_agb=proposal["agb"],
        setting=proposal["setting"],
        reason=reason,
        declined_at=now,
    )
    event = alerts.wrap(declined, str(placement["referral_id"]), now)
    await runtime.emit(conn, topics.CAPACITY_EVENTS, event)
    touched = {proposal["setting"], placement["demand_setting"]}
    touched |= await _propose_next(runtime, conn, placement, now, event)
    # The place this youth did not get may suit another who waits.
    touched |= await rematch(runtime, conn, proposal["setting"], now, event)
    refreshed = await _placement(conn, placement["id"])
    if refreshed["status"] == "open" and placement["escalation_level"] != EscalationLevel.EXPERTTEAM:
        # Every candidate has said no: this is a case for the expert team, not a matter of waiting.
        await _escalate(
            runtime,
            conn,
            refreshed,
            EscalationLevel.EXPERTTEAM,
            EscalationReason.ALLE_KANDIDATEN_AFGEWEZEN,
            None,
            now,
            event,
        )
    await alerts.reevaluate(runtime, conn, touched, now, cause=event)


async def escalate_by_hand(
    runtime: Runtime, placement_id: uuid.UUID, by: Principal, note: str | None, now: datetime
) -> asyncpg.Record:
    """A referrer or the schakelfunctionaris escalates early (partners say it comes too late)."""
    async with runtime.pool.acquire() as conn, conn.transaction():
        placement = await _placement(conn, placement_id)
        if by.role is Role.REFERRER and placement["referrer"] != by.subject:
            raise Forbidden("a referrer may escalate only its own referrals")
        if placement["status"] not in UNPLACED:
            raise Conflict(f"placement {placement_id} is {placement['status']}; only unplaced youths escalate")
        level = domain.next_level(_level(placement))
        if level is None:
            raise Conflict("the expert team already has this case")
        await _escalate(runtime, conn, placement, level, EscalationReason.HANDMATIG, note, now, None)
        return await _placement(conn, placement_id)


async def escalate_when_due(runtime: Runtime, placement_id: uuid.UUID, now: datetime) -> None:
    async with runtime.pool.acquire() as conn, conn.transaction():
        placement = await _placement(conn, placement_id)
        due = placement["escalation_due_at"]
        if placement["status"] not in UNPLACED or due is None or due > now:
            return
        level = domain.next_level(_level(placement))
        if level is None:
            await placement_store.set_placement(conn, placement_id, escalation_due_at=None)
        else:
            await _escalate(runtime, conn, placement, level, EscalationReason.TERMIJN_VERLOPEN, None, now, None)


def _level(placement: asyncpg.Record) -> EscalationLevel | None:
    return EscalationLevel(placement["escalation_level"]) if placement["escalation_level"] else None


async def _escalate(
    runtime: Runtime,
    conn: Connection,
    placement: asyncpg.Record,
    level: EscalationLevel,
    reason: EscalationReason,
    note: str | None,
    now: datetime,
    cause: Envelope | None,
) -> None:
    timer = _settings(runtime).escalation_timer(Urgentie(placement["urgency"]))
    # A timer or a hand without words keeps the last note: the expert team needs the referrer's "why".
    noted = {"escalation_note": note} if note is not None else {}
    await placement_store.set_placement(
        conn,
        placement["id"],
        escalation_level=level.value,
        escalated_at=now,
        escalation_due_at=domain.escalation_due(timer, level, now),
        **noted,
    )
    escalated = CaseEscalated(
        placement_id=placement["id"],
        referral_id=placement["referral_id"],
        client_ref=placement["client_ref"],
        age=placement["age"],
        municipality_code=placement["municipality_code"],
        settings=[Setting(s) for s in placement["settings"]],
        urgency=placement["urgency"],
        level=level,
        reason=reason,
        waiting_since=placement["requested_at"],
        escalated_at=now,
    )
    await alerts.raise_alert(
        runtime, conn, alerts.wrap(escalated, str(placement["referral_id"]), now, cause), placement["demand_setting"]
    )
