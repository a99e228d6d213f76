"""Opening, following and closing the shortage of a setting after its places or demand changed, and
telling the pools that share the setting (``pools``) what changed in its places and shortage; a
shortage alert of a pooled setting says where the pool still has room, and a region short of it
while no other member has room has a pool-wide shortage too."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from contracts.capacity import ShortageChanged, ShortageDetected, ShortageResolved
from contracts.envelope import EventAttributes
from contracts.verblijf import Setting
from services.capacity import domain
from services.capacity.commands import Work, pools
from services.capacity.commands.alerts import raise_alert
from services.capacity.domain import OpenShortage, ShortageChange


async def reevaluate(uow: Work, settings: Iterable[str], cause: EventAttributes | None = None) -> None:
    """Judge each setting's shortage from its current free places and urgent demand, and announce
    what changed: detected, turned (non-)critical, or resolved. Every change of places passes here,
    so this is also where the pools sharing a setting hear of its new places."""
    states = await uow.store.lock_settings(settings)
    for setting, current in states.items():
        free = domain.regional_free(await uow.store.providers_of(setting))
        waiting = await uow.store.waiting(setting)
        change = domain.judge(current, free, waiting, uow.settings.threshold(Setting(setting)))
        if change is ShortageChange.DETECTED:
            await _detect(uow, setting, free, waiting, cause)
        elif change is ShortageChange.CHANGED and current is not None:
            await _follow(uow, setting, current, free, waiting, cause)
        elif change is ShortageChange.RESOLVED and current is not None:
            await _resolve(uow, setting, current, free, waiting, cause)
    await pools.share_places(uow, states, cause)
    await pools.judge_pool_wide(uow, states, cause)


async def _detect(uow: Work, setting: str, free: int, waiting: int, cause: EventAttributes | None) -> None:
    shortage_id, severity = uuid.uuid4(), domain.severity(free, waiting)
    await uow.store.open_shortage(shortage_id, setting, severity, free, waiting, uow.now)
    detected = ShortageDetected(
        shortage_id=shortage_id,
        setting=setting,
        free_places=free,
        waiting=waiting,
        severity=severity,
        detected_at=uow.now,
        pool_room=await pools.room_elsewhere(uow, setting),
    )
    await raise_alert(uow, detected, setting, cause)
    await pools.share_shortage_detected(uow, detected, cause)


async def _follow(
    uow: Work, setting: str, current: OpenShortage, free: int, waiting: int, cause: EventAttributes | None
) -> None:
    """Tell the schakelfunctionaris the open shortage turned critical, or stopped being critical."""
    severity = domain.severity(free, waiting)
    await uow.store.change_shortage(current.id, severity, free, waiting)
    changed = ShortageChanged(
        shortage_id=current.id,
        setting=setting,
        free_places=free,
        waiting=waiting,
        severity=severity,
        previous_severity=current.severity,
        detected_at=current.since,
        changed_at=uow.now,
    )
    await raise_alert(uow, changed, setting, cause)


async def _resolve(
    uow: Work, setting: str, current: OpenShortage, free: int, waiting: int, cause: EventAttributes | None
) -> None:
    await uow.store.close_shortage(setting, current.id, uow.now)
    resolved = ShortageResolved(
        shortage_id=current.id,
        setting=setting,
        free_places=free,
        waiting=waiting,
        detected_at=current.since,
        resolved_at=uow.now,
        duration_seconds=(uow.now - current.since).total_seconds(),
    )
    await raise_alert(uow, resolved, setting, cause)
    await pools.share_shortage_resolved(uow, resolved, cause)
