"""SQL of the pools' read model (``pool_capacity``, ``pool_shortage``): what every member, this region
included, last told its pools about its places and shortages in the pooled settings; and this region's
pool-wide shortages (``pool_wide_shortage``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.capacity.domain import ProviderCapacity
from services.capacity.pool_rules import PoolPlaces
from services.capacity.store.reports import OFFERS, provider_capacity
from services.runtime.db import Connection


class Pooling:
    """The pools' figures, on the connection of a ``CapacityStore``."""

    _conn: Connection

    async def provider_places(self, setting: str) -> dict[str, ProviderCapacity]:
        """This region's figures of every admitted provider in ``setting``, by AGB, reservations included."""
        return {r["agb"]: provider_capacity(r) for r in await self._conn.fetch(OFFERS, [setting])}

    async def shared_places(self, pool: str, region: str, setting: str) -> dict[str, PoolPlaces]:
        """What ``region`` last told ``pool`` about each of its providers in ``setting``."""
        rows = await self._conn.fetch(
            """SELECT agb, free, total, reserved FROM pool_capacity
               WHERE pool = $1 AND region = $2 AND setting = $3""",
            pool,
            region,
            setting,
        )
        return {r["agb"]: PoolPlaces(r["free"], r["total"], r["reserved"]) for r in rows}

    async def record_pool_places(
        self, pool: str, region: str, agb: str, setting: str, places: PoolPlaces, reported_at: datetime
    ) -> None:
        """Keep the latest places of a member's provider; an older report arriving late changes nothing."""
        await self._conn.execute(
            """INSERT INTO pool_capacity (pool, region, agb, setting, free, total, reserved, reported_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (pool, region, agb, setting) DO UPDATE
                  SET free = EXCLUDED.free, total = EXCLUDED.total, reserved = EXCLUDED.reserved,
                      reported_at = EXCLUDED.reported_at
                WHERE pool_capacity.reported_at <= EXCLUDED.reported_at""",
            pool,
            region,
            agb,
            setting,
            places.free,
            places.total,
            places.reserved,
            reported_at,
        )

    async def open_pool_shortage(
        self,
        pool: str,
        region: str,
        setting: str,
        shortage_id: uuid.UUID,
        free: int,
        waiting: int,
        detected_at: datetime,
    ) -> None:
        await self._conn.execute(
            """INSERT INTO pool_shortage (pool, region, setting, shortage_id, free_places, waiting, detected_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (pool, region, setting) DO UPDATE
                  SET shortage_id = EXCLUDED.shortage_id, free_places = EXCLUDED.free_places,
                      waiting = EXCLUDED.waiting, detected_at = EXCLUDED.detected_at
                WHERE pool_shortage.detected_at <= EXCLUDED.detected_at""",
            pool,
            region,
            setting,
            shortage_id,
            free,
            waiting,
            detected_at,
        )

    async def close_pool_shortage(self, pool: str, region: str, setting: str, shortage_id: uuid.UUID) -> None:
        """The shortage ``shortage_id`` ended; a newer one of the same setting stays."""
        await self._conn.execute(
            "DELETE FROM pool_shortage WHERE pool = $1 AND region = $2 AND setting = $3 AND shortage_id = $4",
            pool,
            region,
            setting,
            shortage_id,
        )

    async def pool_free_by_region(self, pool: str, setting: str) -> dict[str, int]:
        """Each member's free places in ``setting``, as last told ``pool`` (this region's own included)."""
        rows = await self._conn.fetch(
            """SELECT region, sum(free)::int AS free FROM pool_capacity
               WHERE pool = $1 AND setting = $2 GROUP BY region""",
            pool,
            setting,
        )
        return {r["region"]: r["free"] for r in rows}

    async def pool_shortage_regions(self, pool: str, setting: str) -> list[str]:
        """The members whose own shortage of ``setting`` is open, as told ``pool``."""
        rows = await self._conn.fetch(
            "SELECT region FROM pool_shortage WHERE pool = $1 AND setting = $2 ORDER BY region", pool, setting
        )
        return [r["region"] for r in rows]

    async def pool_wide_shortage(self, pool: str, setting: str) -> tuple[uuid.UUID, datetime] | None:
        """This region's open pool-wide shortage of ``setting``, locked; None when there is none."""
        row = await self._conn.fetchrow(
            "SELECT shortage_id, detected_at FROM pool_wide_shortage WHERE pool = $1 AND setting = $2 FOR UPDATE",
            pool,
            setting,
        )
        return None if row is None else (row["shortage_id"], row["detected_at"])

    async def open_pool_wide_shortage(self, pool: str, setting: str, shortage_id: uuid.UUID, at: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO pool_wide_shortage (pool, setting, shortage_id, detected_at) VALUES ($1, $2, $3, $4)",
            pool,
            setting,
            shortage_id,
            at,
        )

    async def close_pool_wide_shortage(self, pool: str, setting: str) -> None:
        await self._conn.execute("DELETE FROM pool_wide_shortage WHERE pool = $1 AND setting = $2", pool, setting)
