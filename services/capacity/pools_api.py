"""Capacity's pool route: the pools this region takes part in, their members and settings, and the
places the members last told them (docs/pools.md)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from contracts import regions
from contracts.pool import Pool
from contracts.verblijf import Setting
from services.capacity.api import runtime
from services.capacity.pool_rules import PooledSetting, PoolPlaces, ProviderPlaces, pooled_setting
from services.capacity.store import reads
from services.runtime.auth import Principal, require
from services.runtime.db import Connection, snapshot
from services.runtime.roles import ALERT_ROLES, Role

router = APIRouter(prefix="/v1", tags=["pools"])

POOL_ROLES = (*ALERT_ROLES, Role.ADMIN)


class Member(BaseModel):
    region: str
    title: str = Field(description="The region's name in the registry or the 2013 survey.")


class PoolView(BaseModel):
    name: str
    version: int
    title: str
    basis: str
    topic: str = Field(description="The pool's topic in the contract, before any namespace.")
    members: list[Member]
    settings: list[Setting]
    figures: list[PooledSetting] = Field(description="Per pooled setting: the pool's places, by member.")


class Pools(BaseModel):
    region: str = Field(description="The region this deployment serves.")
    pools_file_version: date
    opted_out: list[str] = Field(description="Pools the region is a member of that this deployment leaves out.")
    pools: list[PoolView]


@router.get(
    "/pools",
    response_model=Pools,
    summary="The pools this region takes part in, with every member's places in the pooled settings",
)
async def get_pools(request: Request, _: Principal = Depends(require(*POOL_ROLES))) -> Pools:
    settings = runtime(request).settings
    # Places and shortages on one snapshot: a member's report and the shortage it told after it
    # are shown together or not at all.
    async with runtime(request).pool.acquire() as conn, snapshot(conn):
        views = [await _view(conn, p, settings.region) for p in settings.pools()]
    return Pools(
        region=settings.region,
        pools_file_version=settings.pools_file_version(),
        opted_out=sorted(settings.pools_opt_out),
        pools=views,
    )


async def _view(conn: Connection, pool: Pool, region: str) -> PoolView:
    rows: dict[str, list[ProviderPlaces]] = defaultdict(list)
    for r in await reads.pool_places(conn, pool.name):
        places = PoolPlaces(r["free"], r["total"], r["reserved"])
        rows[r["setting"]].append(ProviderPlaces(r["region"], r["agb"], places, r["reported_at"]))
    shortages: dict[str, dict[str, datetime]] = defaultdict(dict)
    for r in await reads.pool_shortages(conn, pool.name):
        shortages[r["setting"]][r["region"]] = r["detected_at"]
    return PoolView(
        name=pool.name,
        version=pool.version,
        title=pool.title,
        basis=pool.basis,
        topic=pool.topic,
        members=[Member(region=m, title=regions.known_region(m)) for m in pool.members],
        settings=list(pool.settings),
        figures=[pooled_setting(s, region, pool.members, rows[s], shortages[s]) for s in pool.settings],
    )
