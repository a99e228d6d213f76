"""Pooling (docs/pools.md): tell the pools this region takes part in about its places and shortages in
the settings they share, and keep what the other members tell them.

What this region tells a pool it records in the pool's read model in the same transaction, so its
own rows are always what it last told; its own events coming back over the pool topic are skipped.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from contracts.capacity import CaseEscalated, PoolRoom, ShortageDetected, ShortageResolved
from contracts.envelope import Envelope, EventAttributes
from contracts.pool import (
    NetworkCaseEscalated,
    Pool,
    PoolCapacityReported,
    PoolCaseEscalated,
    PoolEvent,
    PoolShortageDetected,
    PoolShortageResolved,
    PoolWideShortageDetected,
    PoolWideShortageResolved,
)
from contracts.verblijf import Setting
from services.capacity.commands import Work
from services.capacity.commands.alerts import raise_alert
from services.capacity.domain import ShortageChange
from services.capacity.pool_rules import PoolPlaces, places_to_share, pool_wide_change
from services.capacity.store import Placement

log = logging.getLogger(__name__)


async def share_places(uow: Work, settings: Iterable[str], cause: EventAttributes | None = None) -> None:
    """Tell each pool that shares one of ``settings`` the places of every provider whose places
    changed since it last told it; nothing for a setting no pool shares."""
    region = uow.settings.region
    for setting in sorted(set(settings)):
        pools = uow.settings.pools_sharing(setting)
        if not pools:
            continue
        current = {agb: PoolPlaces.of(c) for agb, c in (await uow.store.provider_places(setting)).items()}
        for pool in pools:
            shared = await uow.store.shared_places(pool.name, region, setting)
            for agb, places in places_to_share(current, shared).items():
                await uow.store.record_pool_places(pool.name, region, agb, setting, places, uow.now)
                reported = PoolCapacityReported(
                    pool=pool.name,
                    region=region,
                    agb=agb,
                    setting=Setting(setting),
                    free=places.free,
                    total=places.total,
                    reserved=places.reserved,
                    reported_at=uow.now,
                )
                uow.collect(reported, cause=cause)


async def share_shortage_detected(uow: Work, detected: ShortageDetected, cause: EventAttributes | None = None) -> None:
    """This region's shortage of a pooled setting began: its pools hear it (the count, not who waits)."""
    region = uow.settings.region
    for pool in uow.settings.pools_sharing(detected.setting):
        await uow.store.open_pool_shortage(
            pool.name,
            region,
            detected.setting,
            detected.shortage_id,
            detected.free_places,
            detected.waiting,
            detected.detected_at,
        )
        told = PoolShortageDetected(
            pool=pool.name,
            region=region,
            shortage_id=detected.shortage_id,
            setting=detected.setting,
            free_places=detected.free_places,
            waiting=detected.waiting,
            detected_at=detected.detected_at,
        )
        uow.collect(told, cause=cause)


async def share_shortage_resolved(uow: Work, resolved: ShortageResolved, cause: EventAttributes | None = None) -> None:
    """This region's shortage of a pooled setting ended: its pools hear that too."""
    region = uow.settings.region
    for pool in uow.settings.pools_sharing(resolved.setting):
        await uow.store.close_pool_shortage(pool.name, region, resolved.setting, resolved.shortage_id)
        told = PoolShortageResolved(
            pool=pool.name,
            region=region,
            shortage_id=resolved.shortage_id,
            setting=resolved.setting,
            free_places=resolved.free_places,
            waiting=resolved.waiting,
            detected_at=resolved.detected_at,
            resolved_at=resolved.resolved_at,
        )
        uow.collect(told, cause=cause)


# --- what the other members tell: handlers of the pool topic's consumer -------------------------


def from_another_member(uow: Work, event: PoolEvent, setting: str) -> Pool | None:
    """The pool ``event`` speaks of, when it is one this deployment takes part in, from another of its
    members, about a setting it shares; else None (and why, in the log)."""
    if event.region == uow.settings.region:
        return None  # recorded when it was told
    pool = next((p for p in uow.settings.pools() if p.name == event.pool), None)
    if pool is None or event.region not in pool.members or not pool.shares(setting):
        # Members disagree on the pools file (another version?): keep nothing this region did not agree to.
        log.warning(
            "pool %s: skipping %s of %s about %s: not a member sharing it in this region's pools file",
            event.pool,
            type(event).__name__,
            event.region,
            setting,
        )
        return None
    return pool


async def record_places(uow: Work, reported: PoolCapacityReported) -> bool:
    """Keep another member's places; False when they are not this region's to keep."""
    if from_another_member(uow, reported, reported.setting) is None:
        return False
    places = PoolPlaces(reported.free, reported.total, reported.reserved)
    await uow.store.record_pool_places(
        reported.pool, reported.region, reported.agb, reported.setting, places, reported.reported_at
    )
    await judge_pool_wide(uow, [reported.setting], uow.cause)
    return True


async def record_shortage_detected(uow: Work, detected: PoolShortageDetected) -> None:
    if from_another_member(uow, detected, detected.setting) is None:
        return
    await uow.store.open_pool_shortage(
        detected.pool,
        detected.region,
        detected.setting,
        detected.shortage_id,
        detected.free_places,
        detected.waiting,
        detected.detected_at,
    )
    await judge_pool_wide(uow, [detected.setting], uow.cause)


async def record_shortage_resolved(uow: Work, resolved: PoolShortageResolved) -> None:
    if from_another_member(uow, resolved, resolved.setting) is None:
        return
    await uow.store.close_pool_shortage(resolved.pool, resolved.region, resolved.setting, resolved.shortage_id)
    await judge_pool_wide(uow, [resolved.setting], uow.cause)


async def record_escalation(uow: Work, escalated: PoolCaseEscalated) -> None:
    """Another member's youth waiting for a pooled setting escalated: this region's expertisenetwerk
    hears it as an alert (live stream, list, webhooks), with the region named."""
    if not any(from_another_member(uow, escalated, s) for s in escalated.settings):
        return
    await _alert_network(uow, escalated, uow.cause)


# --- escalations of pooled settings, for the pool's expertisenetwerk -----------------------------


async def share_escalation(uow: Work, placement: Placement, escalated: CaseEscalated, cause: Envelope) -> None:
    """A youth waiting for a pooled setting escalated: every member's expertisenetwerk hears it over the
    pool (this region's own, as an alert here too). The pooled settings only; no client_ref,
    referral or municipality."""
    for pool in uow.settings.pools():
        settings = [Setting(s) for s in placement.settings if pool.shares(s)]
        if not settings:
            continue
        told = PoolCaseEscalated(
            pool=pool.name,
            region=uow.settings.region,
            placement_id=placement.id,
            age=escalated.age,
            settings=settings,
            urgency=escalated.urgency,
            level=escalated.level,
            reason=escalated.reason,
            waiting_since=escalated.waiting_since,
            escalated_at=escalated.escalated_at,
        )
        await _alert_network(uow, told, uow.collect(told, cause=cause))


async def _alert_network(uow: Work, escalated: PoolCaseEscalated, cause: EventAttributes | None) -> None:
    """Raise ``escalated`` here as the expertisenetwerk's alert, with the member region named."""
    data = escalated.model_dump(include=set(NetworkCaseEscalated.model_fields))
    await raise_alert(uow, NetworkCaseEscalated(**data), escalated.settings[0], cause)


# --- what the pool has room for -----------------------------------------------------------------


async def room_elsewhere(uow: Work, setting: str) -> list[PoolRoom] | None:
    """The other members with free places in ``setting``, most first, per pool sharing it; None when
    no pool shares it (a shortage alert then says nothing about pools)."""
    pools = uow.settings.pools_sharing(setting)
    if not pools:
        return None
    room = [
        PoolRoom(pool=pool.name, region=region, free=free)
        for pool in pools
        for region, free in await _free_elsewhere(uow, pool, setting)
    ]
    return sorted(room, key=lambda r: (-r.free, r.pool, r.region))


async def _free_elsewhere(uow: Work, pool: Pool, setting: str) -> list[tuple[str, int]]:
    """The other members of ``pool`` with free places in ``setting`` and how many, most first."""
    free = await uow.store.pool_free_by_region(pool.name, setting)
    room = [(r, f) for r, f in free.items() if r != uow.settings.region and r in pool.members and f > 0]
    return sorted(room, key=lambda rf: (-rf[1], rf[0]))


async def judge_pool_wide(uow: Work, settings: Iterable[str], cause: EventAttributes | None = None) -> None:
    """Open or close this region's pool-wide shortage of each pooled setting in ``settings``: its own
    shortage is open and no other member has a free place (``pool_rules.pool_wide_change``)."""
    for setting in sorted(set(settings)):
        pools = uow.settings.pools_sharing(setting)
        if not pools:
            continue
        own = (await uow.store.lock_settings([setting]))[setting]
        for pool in pools:
            elsewhere = [r for r, _ in await _free_elsewhere(uow, pool, setting)]
            current = await uow.store.pool_wide_shortage(pool.name, setting)
            change = pool_wide_change(current is not None, own is not None, bool(elsewhere))
            if change is ShortageChange.DETECTED:
                shortage_id = uuid.uuid4()
                await uow.store.open_pool_wide_shortage(pool.name, setting, shortage_id, uow.now)
                short = await uow.store.pool_shortage_regions(pool.name, setting)
                detected = PoolWideShortageDetected(
                    shortage_id=shortage_id,
                    pool=pool.name,
                    setting=Setting(setting),
                    members_short=[r for r in short if r in pool.members],
                    waiting=await uow.store.waiting(setting),
                    detected_at=uow.now,
                )
                await raise_alert(uow, detected, setting, cause)
            elif change is ShortageChange.RESOLVED and current is not None:
                await uow.store.close_pool_wide_shortage(pool.name, setting)
                resolved = PoolWideShortageResolved(
                    shortage_id=current[0],
                    pool=pool.name,
                    setting=Setting(setting),
                    room_elsewhere=elsewhere,
                    detected_at=current[1],
                    resolved_at=uow.now,
                )
                await raise_alert(uow, resolved, setting, cause)
