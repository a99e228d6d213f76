"""Monitoring's Prometheus domain gauges, refreshed from the read models after each change."""

from __future__ import annotations

import asyncpg
from prometheus_client import CollectorRegistry, Gauge

from contracts.verblijf import Setting
from services.monitoring import store


class DomainGauges:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.places_free = Gauge("schakel_places_free", "Free verblijf places across the region, per setting.",
                                 ["setting"], registry=registry)
        self.shortage_active = Gauge("schakel_shortage_active", "1 while a setting is in shortage, else 0.",
                                     ["setting"], registry=registry)
        for setting in Setting:
            # Present from the start, so "no shortage" reads 0 rather than absent.
            self.shortage_active.labels(setting=setting.value).set(0)

    async def refresh(self, pool: asyncpg.Pool) -> None:
        free = await store.free_places_per_setting(pool)
        short = await store.active_shortages(pool)
        for setting, places in free.items():
            self.places_free.labels(setting=setting).set(places)
        for setting in Setting:
            self.shortage_active.labels(setting=setting.value).set(1 if setting.value in short else 0)
