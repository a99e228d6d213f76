"""Pooling (docs/pools.md): tell the pools this region takes part in about its places and shortages in
the settings they share, and keep what the other members tell them.

What this region tells a pool it records in the pool's read model in the same transaction, so its
own rows are always what it last told; its own events coming back over the pool topic are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from contracts.capacity import ShortageDetected, ShortageResolved
from contracts.envelope import Envelope
from contracts.pool import Pool, PoolCapacityReported, PoolEvent, PoolShortageDetected, PoolShortageResolved
from contracts.verblijf import Setting
from services.capacity.commands import Work
from services.capacity.pool_rules import PoolPlaces, places_to_share

log = logging.getLogger(__name__)


async def share_places(uow: Work, settings: Iterable[str], cause: Envelope | None = None) -> None:
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


async def share_shortage_detected(uow: Work, detected: ShortageDetected, cause: Envelope | None = None) -> None:
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


async def share_shortage_resolved(uow: Work, resolved: ShortageResolved, cause: Envelope | None = None) -> None:
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


def _from_another_member(uow: Work, event: PoolEvent, setting: str) -> Pool | None:
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


async def record_places(uow: Work, reported: PoolCapacityReported) -> None:
    if _from_another_member(uow, reported, reported.setting) is None:
        return
    places = PoolPlaces(reported.free, reported.total, reported.reserved)
    await uow.store.record_pool_places(
        reported.pool, reported.region, reported.agb, reported.setting, places, reported.reported_at
    )


async def record_shortage_detected(uow: Work, detected: PoolShortageDetected) -> None:
    if _from_another_member(uow, detected, detected.setting) is None:
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


async def record_shortage_resolved(uow: Work, resolved: PoolShortageResolved) -> None:
    if _from_another_member(uow, resolved, resolved.setting) is None:
        return
    await uow.store.close_pool_shortage(resolved.pool, resolved.region, resolved.setting, resolved.shortage_id)
